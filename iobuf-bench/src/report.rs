//! `iobuf-bench report`: one self-contained HTML page (inline CSS, inline
//! SVG, one small inline script, no fetches) from one or more run documents.
//!
//! Per scenario and tier it shows throughput against threads per pool, the
//! same-run ratio tables, and HdrHistogram-style latency percentile curves
//! per pool at every thread count. When the same case and pool appear in
//! several files, the files are runs to put side by side and every series is
//! labelled with its file; otherwise the files are parts of one matrix and
//! are merged.
//!
//! The inline script measures every plot once the browser has laid it out
//! and writes the verdict into `#render-check`, so a headless browser's
//! `--dump-dom` shows whether the plots really rendered
//! (scripts/check-report-in-browser.sh).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::results::{
    self, fmt_count, fmt_ns, fmt_rate, pool_rank, CaseResult, Op, RunDoc, Summary, TierName,
};

/// Write a self-contained HTML report with SVG plots.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Run documents (iobuf-bench run --json output).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The HTML page to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write every plot as a standalone SVG file into this directory.
    #[arg(long)]
    pub svg_dir: Option<PathBuf>,
    /// Page title.
    #[arg(long, default_value = "iobuf-bench report")]
    pub title: String,
}

/// Writes the page (and the SVG files, if asked).
pub fn run(args: &ReportArgs) -> Result<(), String> {
    let docs = args
        .files
        .iter()
        .map(|p| results::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    if docs.iter().all(|d| d.results.is_empty()) {
        return Err("the run documents hold no results; nothing to report".into());
    }
    let report = build(&docs, &args.title)?;
    for warning in &report.warnings {
        eprintln!("iobuf-bench report: warning: {warning}");
    }
    std::fs::write(&args.out, &report.html)
        .map_err(|e| format!("{}: cannot write: {e}", args.out.display()))?;
    if let Some(dir) = &args.svg_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        for plot in &report.plots {
            let path = dir.join(format!("{}.svg", plot.slug));
            std::fs::write(&path, &plot.svg)
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        }
    }
    eprintln!(
        "wrote {} ({} plots{})",
        args.out.display(),
        report.plots.len(),
        match &args.svg_dir {
            Some(dir) => format!(", SVG files in {}", dir.display()),
            None => String::new(),
        }
    );
    Ok(())
}

/// The generated page.
pub struct Report {
    /// The whole HTML document.
    pub html: String,
    /// Every plot, in page order.
    pub plots: Vec<Plot>,
    /// Problems that did not stop the report (e.g. an undecodable histogram).
    pub warnings: Vec<String>,
}

/// One rendered plot.
pub struct Plot {
    /// File-name-safe identity, also the figure's HTML id.
    pub slug: String,
    /// Standalone SVG document.
    pub svg: String,
    /// How many data curves a browser should draw (for the render check).
    pub curves: usize,
}

/// A result as the report shows it: which series it belongs to.
struct Entry<'a> {
    result: &'a CaseResult,
    /// Which run of a side-by-side comparison; always 0 when merging.
    file: usize,
    series: String,
}

const POOL_COLORS: [(&str, RGBColor); 5] = [
    ("iobuf", RGBColor(31, 119, 180)),
    ("iobuf-fifo", RGBColor(23, 190, 207)),
    ("iobuf-cached", RGBColor(44, 160, 44)),
    ("crossbeam", RGBColor(148, 103, 189)),
    ("mutex", RGBColor(214, 39, 40)),
];

const OTHER_COLORS: [RGBColor; 12] = [
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(174, 199, 232),
    RGBColor(255, 152, 150),
];

/// Colours fixed per pool, so a pool looks the same in every plot.
struct Palette {
    others: Vec<String>,
}

impl Palette {
    fn color(&self, pool: &str, file: usize) -> RGBColor {
        let base = POOL_COLORS
            .iter()
            .find(|(name, _)| *name == pool)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| {
                let i = self.others.iter().position(|p| p == pool).unwrap_or(0);
                OTHER_COLORS[i % OTHER_COLORS.len()]
            });
        // Later files of a side-by-side comparison get lighter shades.
        lighten(base, file)
    }
}

/// The colour of a series from the `file`-th file of a side-by-side
/// comparison: the first file's full colour, later files' ever lighter.
fn lighten(base: RGBColor, file: usize) -> RGBColor {
    let mix = 1.0 - 0.55f64.powi(file.min(4) as i32);
    let blend = |c: u8| (c as f64 + (255.0 - c as f64) * mix).round() as u8;
    RGBColor(blend(base.0), blend(base.1), blend(base.2))
}

type Group<'a> = BTreeMap<u32, Vec<Entry<'a>>>;

/// Builds the page from loaded runs.
pub fn build(docs: &[RunDoc], title: &str) -> Result<Report, String> {
    let labels = file_labels(docs);
    // Side-by-side mode when some (case, pool) is measured by two files.
    let mut seen = BTreeMap::new();
    let mut side_by_side = false;
    for (i, doc) in docs.iter().enumerate() {
        for r in &doc.results {
            if let Some(other) = seen.insert((r.key(), r.pool.clone()), i) {
                if other != i {
                    side_by_side = true;
                }
            }
        }
    }
    let mut groups: BTreeMap<(String, TierName), Group> = BTreeMap::new();
    let mut others: BTreeSet<String> = BTreeSet::new();
    for (file, doc) in docs.iter().enumerate() {
        for r in &doc.results {
            if !POOL_COLORS.iter().any(|(p, _)| *p == r.pool) {
                others.insert(r.pool.clone());
            }
            let series = if side_by_side {
                format!("{} · {}", r.pool, labels[file])
            } else {
                r.pool.clone()
            };
            groups
                .entry((r.scenario.clone(), TierName(r.tier.clone())))
                .or_default()
                .entry(r.threads)
                .or_default()
                .push(Entry {
                    result: r,
                    // Parts of one matrix are one run to the plots and tables.
                    file: if side_by_side { file } else { 0 },
                    series,
                });
        }
    }
    for group in groups.values_mut() {
        for entries in group.values_mut() {
            entries.sort_by(|a, b| {
                (pool_rank(&a.result.pool), a.file).cmp(&(pool_rank(&b.result.pool), b.file))
            });
        }
    }
    let palette = Palette {
        others: others.into_iter().collect(),
    };

    let mut plots = Vec::new();
    let mut warnings = Vec::new();
    let mut body = String::new();

    let integrity_failures: Vec<String> = docs
        .iter()
        .flat_map(|d| d.results.iter())
        .filter(|r| !r.integrity.is_clean())
        .map(|r| format!("{} {}: {}", r.key(), r.pool, r.integrity))
        .collect();
    if !integrity_failures.is_empty() {
        let _ = writeln!(
            body,
            "<div class=\"alarm\"><strong>Integrity failures</strong> (a buffer handed to two holders \
             or overwritten): these numbers come from a broken pool.<ul>{}</ul></div>",
            integrity_failures
                .iter()
                .map(|f| format!("<li>{}</li>", esc(f)))
                .collect::<String>()
        );
    }

    body.push_str(&sources_table(docs, &labels));

    // Summary: iobuf against crossbeam across the whole matrix.
    let scenarios: BTreeSet<&String> = groups.keys().map(|(s, _)| s).collect();
    let mut summary_html = String::new();
    for scenario in &scenarios {
        if let Some(plot) = summary_plot(scenario, &groups, &labels, side_by_side)? {
            summary_html.push_str(&place(
                &mut plots,
                plot,
                &format!(
                    "{scenario}: iobuf throughput divided by crossbeam's ArrayQueue pool's, \
                 measured in the same run; above 1 means iobuf is faster."
                ),
            ));
        }
    }
    if !summary_html.is_empty() {
        let _ = writeln!(
            body,
            "<section><h2 id=\"summary\">Summary</h2><div class=\"plots\">{summary_html}</div></section>"
        );
    }

    let mut toc = String::new();
    for ((scenario, tier), group) in &groups {
        let anchor = slug(&format!("{scenario}-{tier}"));
        let _ = write!(
            toc,
            "<li><a href=\"#{anchor}\">{} / {}</a></li>",
            esc(scenario),
            esc(&tier.0)
        );
        let _ = writeln!(
            body,
            "<section><h2 id=\"{anchor}\">{} &middot; tier {}{}</h2>",
            esc(scenario),
            esc(&tier.0),
            tier_size(&tier.0)
                .map(|s| format!(" <span class=\"dim\">({s} buffers)</span>"))
                .unwrap_or_default()
        );
        body.push_str("<div class=\"plots\">");
        let plot = throughput_plot(scenario, tier, group, &palette)?;
        body.push_str(&place(
            &mut plots,
            plot,
            "Throughput (operations per second, all threads together) against worker threads.",
        ));
        body.push_str("</div>");
        body.push_str(&ratio_table(group, &labels, side_by_side));
        body.push_str(&latency_table(group));

        body.push_str("<h3>Latency percentile distributions</h3><div class=\"plots\">");
        for (threads, entries) in group {
            for op in Op::ALL {
                if let Some(plot) = latency_plot(
                    scenario,
                    tier,
                    *threads,
                    op,
                    entries,
                    &palette,
                    &mut warnings,
                )? {
                    body.push_str(&place(
                        &mut plots,
                        plot,
                        &format!(
                            "{} latency per pool at {threads} threads; x: percentile (log scale of 1/(1-p)), y: ns (log).",
                            op.label()
                        ),
                    ));
                }
            }
        }
        body.push_str("</div></section>\n");
    }

    let html = page(title, &toc, &body, plots.len());
    Ok(Report {
        html,
        plots,
        warnings,
    })
}

/// A short, unique label per file (its stem, or its position on a clash).
fn file_labels(docs: &[RunDoc]) -> Vec<String> {
    let stems: Vec<String> = docs
        .iter()
        .map(|d| {
            d.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| d.path.display().to_string())
        })
        .collect();
    stems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if stems.iter().filter(|t| *t == s).count() > 1 {
                format!("{s} #{}", i + 1)
            } else {
                s.clone()
            }
        })
        .collect()
}

fn tier_size(tier: &str) -> Option<String> {
    let t: iobuf::Tier = tier.parse().ok()?;
    let size = t.size();
    Some(if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    })
}

fn sources_table(docs: &[RunDoc], labels: &[String]) -> String {
    let mut s = String::from(
        "<section><h2>Runs</h2><table><tr><th>file</th><th>iobuf-bench</th><th>commit</th>\
         <th>when</th><th>host</th><th>os / kernel</th><th>cases</th></tr>",
    );
    for (doc, label) in docs.iter().zip(labels) {
        let m = &doc.meta;
        let when = match &m.timestamp {
            Some(serde_json::Value::String(t)) => t.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let host = match (&m.host.cpu_model, m.host.logical_cores) {
            (Some(cpu), Some(n)) => format!("{cpu}, {n} logical cores"),
            (Some(cpu), None) => cpu.clone(),
            (None, Some(n)) => format!("{n} logical cores"),
            (None, None) => String::new(),
        };
        let os = [m.host.os.as_deref(), m.host.kernel.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            s,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&doc.path.display().to_string()),
            esc(label),
            esc(m.version.as_deref().unwrap_or("")),
            esc(m.git_commit.as_deref().map(|c| c.get(..12).unwrap_or(c)).unwrap_or("")),
            esc(&when),
            esc(&host),
            esc(&os),
            doc.results.len()
        );
    }
    s.push_str("</table>");
    for (doc, label) in docs.iter().zip(labels) {
        if !doc.config.is_null() {
            let _ = write!(
                s,
                "<details><summary>configuration of {}</summary><pre>{}</pre></details>",
                esc(label),
                esc(&serde_json::to_string_pretty(&doc.config).unwrap_or_default())
            );
        }
    }
    s.push_str("</section>\n");
    s
}

/// Throughput of `pool` in run file `file` among one case's entries.
fn ops_per_sec(entries: &[Entry<'_>], file: usize, pool: &str) -> Option<f64> {
    entries
        .iter()
        .find(|e| e.file == file && e.result.pool == pool)
        .map(|e| e.result.ops_per_sec)
}

fn ratio_table(group: &Group, labels: &[String], side_by_side: bool) -> String {
    let pools: Vec<String> = {
        let mut set: Vec<String> = group
            .values()
            .flatten()
            .map(|e| e.result.pool.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        set.sort_by(|a, b| pool_rank(a).cmp(&pool_rank(b)));
        set
    };
    let ratios: Vec<(&str, &str)> = [
        ("iobuf", "crossbeam"),
        ("iobuf", "mutex"),
        ("iobuf-fifo", "crossbeam"),
        ("iobuf-cached", "crossbeam"),
        ("iobuf-cached", "mutex"),
    ]
    .into_iter()
    .filter(|(n, d)| pools.iter().any(|p| p == n) && pools.iter().any(|p| p == d))
    .collect();
    let mut s = String::from("<table class=\"ratios\"><tr><th>threads</th>");
    if side_by_side {
        s.push_str("<th>run</th>");
    }
    for p in &pools {
        let _ = write!(s, "<th>{} ops/s</th>", esc(p));
    }
    for (n, d) in &ratios {
        let _ = write!(s, "<th>{}&thinsp;/&thinsp;{}</th>", esc(n), esc(d));
    }
    s.push_str("</tr>");
    for (threads, entries) in group {
        let files: BTreeSet<usize> = entries.iter().map(|e| e.file).collect();
        for file in files {
            let find = |pool: &str| ops_per_sec(entries, file, pool);
            let _ = write!(s, "<tr><td class=\"num\">{threads}</td>");
            if side_by_side {
                let _ = write!(s, "<td>{}</td>", esc(&labels[file]));
            }
            for p in &pools {
                let _ = write!(
                    s,
                    "<td class=\"num\">{}</td>",
                    find(p).map(fmt_rate).unwrap_or_else(|| "-".into())
                );
            }
            for (n, d) in &ratios {
                let cell = match (find(n), find(d)) {
                    (Some(a), Some(b)) if b > 0.0 => {
                        let r = a / b;
                        let class = if r >= 1.0 { "good" } else { "bad" };
                        format!("<td class=\"num {class}\">{r:.2}&times;</td>")
                    }
                    _ => "<td class=\"num\">-</td>".into(),
                };
                s.push_str(&cell);
            }
            s.push_str("</tr>");
        }
    }
    s.push_str("</table>");
    s
}

fn latency_table(group: &Group) -> String {
    let mut s = String::from(
        "<details><summary>latency summaries and integrity per pool</summary>\
         <table><tr><th>threads</th><th>pool</th><th>get mean</th><th>get p50</th><th>get p99</th><th>get p99.9</th>\
         <th>put p99</th><th>end-to-end p99</th><th>max get</th><th>thread imbalance</th>\
         <th>integrity</th></tr>",
    );
    for (threads, entries) in group {
        for e in entries {
            let r = e.result;
            let cell = |op: Op, pick: fn(&Summary) -> f64| {
                r.summary(op)
                    .map(|x| fmt_ns(pick(x)))
                    .unwrap_or_else(|| "-".into())
            };
            let imbalance = match (r.per_thread_ops.iter().min(), r.per_thread_ops.iter().max()) {
                (Some(&lo), Some(&hi)) if hi > 0 => format!("min/max {:.2}", lo as f64 / hi as f64),
                _ => "-".into(),
            };
            let integrity = if r.integrity.is_clean() {
                "<td class=\"good\">clean</td>".to_string()
            } else {
                format!(
                    "<td class=\"bad\">{} dup, {} corrupt, {} lost</td>",
                    r.integrity.duplicates, r.integrity.corrupted, r.integrity.lost
                )
            };
            let _ = write!(
                s,
                "<tr><td class=\"num\">{threads}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{imbalance}</td>{integrity}</tr>",
                esc(&e.series),
                cell(Op::Get, |x| x.mean),
                cell(Op::Get, |x| x.p50),
                cell(Op::Get, |x| x.p99),
                cell(Op::Get, |x| x.p999),
                cell(Op::Put, |x| x.p99),
                cell(Op::EndToEnd, |x| x.p99),
                cell(Op::Get, |x| x.max),
            );
        }
    }
    s.push_str("</table></details>");
    s
}

/// One line of a chart.
struct Curve {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    markers: bool,
}

/// One axis: data range, labelled ticks, unlabelled grid lines.
struct Axis {
    range: Range<f64>,
    ticks: Vec<f64>,
    light: Vec<f64>,
    desc: String,
    label: Box<dyn Fn(f64) -> String>,
}

/// A linear f64 axis whose grid lines are exactly the given points (plotters'
/// own `WithKeyPoints` over f64 cannot take a label formatter).
struct Ticked {
    inner: RangedCoordf64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

impl Axis {
    fn coord(&self) -> Ticked {
        Ticked {
            inner: self.range.clone().into(),
            bold: self.ticks.clone(),
            light: self.light.clone(),
        }
    }
}

const FONT: &str = "sans-serif";

/// Draws a line chart with a legend strip on the right, into an SVG string.
fn line_chart(
    title: &str,
    size: (u32, u32),
    x: &Axis,
    y: &Axis,
    curves: &[Curve],
    reference_y: Option<f64>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let area = root.titled(title, (FONT, 20)).map_err(draw_err)?;
        let longest = curves
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0) as u32;
        let legend_width = (longest * 8 + 40).clamp(90, size.0 / 3);
        let (plot_area, legend_area) = area.split_horizontally(size.0 - legend_width);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(8)
            .x_label_area_size(42)
            .y_label_area_size(70)
            .build_cartesian_2d(x.coord(), y.coord())
            .map_err(draw_err)?;
        let x_fmt = |v: &f64| (x.label)(*v);
        let y_fmt = |v: &f64| (y.label)(*v);
        chart
            .configure_mesh()
            .x_desc(x.desc.as_str())
            .y_desc(y.desc.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .bold_line_style(RGBColor(200, 200, 200).stroke_width(1))
            .light_line_style(RGBColor(235, 235, 235).stroke_width(1))
            .draw()
            .map_err(draw_err)?;
        if let Some(level) = reference_y {
            chart
                .draw_series(LineSeries::new(
                    [(x.range.start, level), (x.range.end, level)],
                    RGBColor(90, 90, 90).stroke_width(1),
                ))
                .map_err(draw_err)?;
        }
        for c in curves {
            // Data curves are the only 2-px polylines: the browser check
            // counts them by that.
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().copied(),
                    c.color.stroke_width(2),
                ))
                .map_err(draw_err)?;
            if c.markers {
                chart
                    .draw_series(
                        c.points
                            .iter()
                            .map(|&p| Circle::new(p, 3, c.color.filled())),
                    )
                    .map_err(draw_err)?;
            }
        }
        for (i, c) in curves.iter().enumerate() {
            let top = 30 + i as i32 * 22;
            legend_area
                .draw(&Rectangle::new(
                    [(4, top + 5), (24, top + 9)],
                    c.color.filled(),
                ))
                .map_err(draw_err)?;
            legend_area
                .draw(&Text::new(c.name.clone(), (30, top), (FONT, 16)))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

fn draw_err<E: std::fmt::Display>(e: E) -> String {
    format!("cannot draw a plot: {e}")
}

/// Curves that span some x, i.e. that a browser draws as a visible line.
fn visible_curves(curves: &[Curve]) -> usize {
    curves
        .iter()
        .filter(|c| {
            let xs = c.points.iter().map(|p| p.0);
            let lo = xs.clone().fold(f64::INFINITY, f64::min);
            let hi = xs.fold(f64::NEG_INFINITY, f64::max);
            hi > lo
        })
        .count()
}

/// Threads on a log2 axis, labelled with the thread counts measured.
fn threads_axis(threads: &BTreeSet<u32>) -> Axis {
    let logs: Vec<f64> = threads.iter().map(|&t| (t as f64).log2()).collect();
    let lo = logs.first().copied().unwrap_or(0.0);
    let hi = logs.last().copied().unwrap_or(0.0);
    let pad = if hi > lo { (hi - lo) * 0.06 } else { 0.5 };
    Axis {
        range: (lo - pad)..(hi + pad),
        ticks: logs,
        light: Vec::new(),
        desc: "threads".into(),
        label: Box::new(|v| format!("{}", v.exp2().round())),
    }
}

/// About `n` round ticks from 0 to `max`.
fn linear_ticks(max: f64, n: usize) -> (f64, Vec<f64>) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| s * n as f64 >= max)
        .unwrap_or(10.0 * mag);
    let top = (max / step).ceil() * step;
    let ticks = (0..=((top / step).round() as usize))
        .map(|i| i as f64 * step)
        .collect();
    (top, ticks)
}

fn throughput_plot(
    scenario: &str,
    tier: &TierName,
    group: &Group,
    palette: &Palette,
) -> Result<Plot, String> {
    let threads: BTreeSet<u32> = group.keys().copied().collect();
    let mut entries: Vec<&Entry> = group.values().flatten().collect();
    // Stable sort keeps thread order within a series.
    entries.sort_by(|a, b| {
        (pool_rank(&a.result.pool), a.file).cmp(&(pool_rank(&b.result.pool), b.file))
    });
    let mut curves: Vec<Curve> = Vec::new();
    for e in entries {
        let point = ((e.result.threads as f64).log2(), e.result.ops_per_sec);
        match curves.last_mut() {
            Some(c) if c.name == e.series => c.points.push(point),
            _ => curves.push(Curve {
                name: e.series.clone(),
                color: palette.color(&e.result.pool, e.file),
                points: vec![point],
                markers: true,
            }),
        }
    }
    let max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (top, ticks) = linear_ticks(max * 1.05, 5);
    let y = Axis {
        range: 0.0..top,
        ticks,
        light: Vec::new(),
        desc: "operations / s".into(),
        label: Box::new(fmt_count),
    };
    let title = format!("{scenario} · {tier}: throughput vs threads");
    let svg = line_chart(
        &title,
        (720, 420),
        &threads_axis(&threads),
        &y,
        &curves,
        None,
    )?;
    Ok(Plot {
        slug: slug(&format!("throughput-{scenario}-{tier}")),
        svg,
        curves: visible_curves(&curves),
    })
}

fn summary_plot(
    scenario: &str,
    groups: &BTreeMap<(String, TierName), Group>,
    labels: &[String],
    side_by_side: bool,
) -> Result<Option<Plot>, String> {
    let mut curves = Vec::new();
    let mut threads = BTreeSet::new();
    let mut max: f64 = 1.0;
    for ((s, tier), group) in groups {
        if s != scenario {
            continue;
        }
        let mut per_file: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for (t, entries) in group {
            let files: BTreeSet<usize> = entries.iter().map(|e| e.file).collect();
            for file in files {
                let find = |pool: &str| ops_per_sec(entries, file, pool);
                if let (Some(a), Some(b)) = (find("iobuf"), find("crossbeam")) {
                    if b > 0.0 {
                        threads.insert(*t);
                        max = max.max(a / b);
                        per_file
                            .entry(file)
                            .or_default()
                            .push(((*t as f64).log2(), a / b));
                    }
                }
            }
        }
        let tier_index = tier
            .0
            .parse::<iobuf::Tier>()
            .map(|t| t as usize)
            .unwrap_or(0);
        for (file, points) in per_file {
            let base = TIER_COLORS[tier_index % TIER_COLORS.len()];
            let name = if side_by_side {
                format!("{} · {}", tier.0, labels[file])
            } else {
                tier.0.clone()
            };
            curves.push(Curve {
                name,
                color: lighten(base, file),
                points,
                markers: true,
            });
        }
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let (top, ticks) = linear_ticks(max * 1.05, 5);
    let y = Axis {
        range: 0.0..top,
        ticks,
        light: Vec::new(),
        desc: "iobuf ÷ crossbeam throughput".into(),
        label: Box::new(|v| format!("{}×", (v * 100.0).round() / 100.0)),
    };
    let title = format!("{scenario}: iobuf throughput relative to crossbeam, per tier");
    let svg = line_chart(
        &title,
        (640, 420),
        &threads_axis(&threads),
        &y,
        &curves,
        Some(1.0),
    )?;
    Ok(Some(Plot {
        slug: slug(&format!("summary-{scenario}")),
        svg,
        curves: visible_curves(&curves),
    }))
}

/// One colour per tier, smallest to largest.
const TIER_COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
    RGBColor(99, 121, 57),
];

/// Furthest percentile axis position: 99.9999%.
const MAX_NINES: f64 = 6.0;

/// Percentile curve of one series as (nines, log10 ns): nines is
/// -log10(1 - q), so 1 is p90, 2 is p99, 3 is p99.9.
fn percentile_curve(
    r: &CaseResult,
    op: Op,
    warnings: &mut Vec<String>,
) -> Option<(Vec<(f64, f64)>, bool)> {
    let log_ns = |v: f64| v.max(1.0).log10();
    if let Some(text) = r.histogram_text(op) {
        match results::decode_histogram(text) {
            Ok(h) if !h.is_empty() => {
                let floor = 1.0 / h.len() as f64;
                let mut points: Vec<(f64, f64)> = h
                    .iter_quantiles(4)
                    .map(|v| {
                        let tail = (1.0 - v.quantile_iterated_to()).max(floor);
                        (
                            (-tail.log10()).min(MAX_NINES),
                            log_ns(v.value_iterated_to() as f64),
                        )
                    })
                    .collect();
                points.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
                return Some((points, false));
            }
            Ok(_) => {}
            Err(e) => warnings.push(format!(
                "{} {} {}: {e}; drawing its summary percentiles instead",
                r.key(),
                r.pool,
                op.label()
            )),
        }
    }
    let s = r.summary(op)?;
    let mut points = vec![
        (-(0.5f64).log10(), log_ns(s.p50)),
        (1.0, log_ns(s.p90)),
        (2.0, log_ns(s.p99)),
        (3.0, log_ns(s.p999)),
        (4.0, log_ns(s.p9999)),
    ];
    let max_at = r
        .ops
        .filter(|&n| n > 0)
        .map(|n| (n as f64).log10().clamp(4.5, MAX_NINES))
        .unwrap_or(5.0);
    points.push((max_at, log_ns(s.max)));
    Some((points, true))
}

fn latency_plot(
    scenario: &str,
    tier: &TierName,
    threads: u32,
    op: Op,
    entries: &[Entry],
    palette: &Palette,
    warnings: &mut Vec<String>,
) -> Result<Option<Plot>, String> {
    let mut curves = Vec::new();
    for e in entries {
        if let Some((points, markers)) = percentile_curve(e.result, op, warnings) {
            curves.push(Curve {
                name: e.series.clone(),
                color: palette.color(&e.result.pool, e.file),
                points,
                markers,
            });
        }
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let all = curves.iter().flat_map(|c| c.points.iter());
    let x_max = all
        .clone()
        .map(|p| p.0)
        .fold(2.0, f64::max)
        .ceil()
        .min(MAX_NINES);
    let y_lo = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .floor();
    let mut y_hi = all.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max).ceil();
    if y_hi <= y_lo {
        y_hi = y_lo + 1.0;
    }
    let x = Axis {
        range: 0.0..x_max,
        ticks: (0..=x_max as i32).map(f64::from).collect(),
        // The median, unlabelled: its label would collide with 0%.
        light: vec![-(0.5f64).log10()],
        desc: "percentile".into(),
        label: Box::new(|v| {
            let q = 1.0 - 10f64.powf(-v);
            let s = format!("{:.4}", q * 100.0);
            format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
        }),
    };
    let decades = (y_hi - y_lo) as i32;
    let mut y_ticks = Vec::new();
    let mut y_light = Vec::new();
    for d in (y_lo as i32)..=(y_hi as i32) {
        y_ticks.push(f64::from(d));
        for m in [2.0f64, 5.0] {
            let v = f64::from(d) + m.log10();
            if v < y_hi {
                if decades <= 2 {
                    y_ticks.push(v);
                } else {
                    y_light.push(v);
                }
            }
        }
    }
    let y = Axis {
        range: y_lo..y_hi,
        ticks: y_ticks,
        light: y_light,
        desc: format!("{} latency", op.label()),
        label: Box::new(|v| fmt_ns(10f64.powf(v))),
    };
    let title = format!(
        "{scenario} · {tier} · {threads} threads: {} latency",
        op.label()
    );
    let svg = line_chart(&title, (640, 400), &x, &y, &curves, None)?;
    Ok(Some(Plot {
        slug: slug(&format!(
            "latency-{scenario}-{tier}-{threads}t-{}",
            op.key()
        )),
        svg,
        curves: visible_curves(&curves),
    }))
}

/// Adds a plot to the page's list, its slug made unique (two scenario names
/// may slug alike), and gives its HTML.
fn place(plots: &mut Vec<Plot>, mut plot: Plot, caption: &str) -> String {
    let base = plot.slug.clone();
    let mut n = 2;
    while plots.iter().any(|p| p.slug == plot.slug) {
        plot.slug = format!("{base}-{n}");
        n += 1;
    }
    let html = figure(&plot, caption);
    plots.push(plot);
    html
}

fn figure(plot: &Plot, caption: &str) -> String {
    format!(
        "<figure class=\"plot\" id=\"{}\" data-curves=\"{}\">{}<figcaption>{}</figcaption></figure>\n",
        plot.slug,
        plot.curves,
        // The XML declaration-free SVG plotters writes embeds as is.
        plot.svg,
        esc(caption)
    )
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1500px; padding: 0 16px; color: #222; }
h1 { margin-bottom: 4px; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 40px; }
.dim { color: #777; font-weight: normal; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure.plot { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 6px; background: #fff; }
figure.plot svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #555; max-width: 640px; margin-top: 4px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.good { color: #1a7f37; }
td.bad { color: #c62828; }
.alarm { border: 2px solid #c62828; background: #fdecea; padding: 8px 14px; margin: 12px 0; }
#render-check { font-size: 12px; color: #777; }
nav ul { columns: 4; font-size: 14px; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; }
"#;

/// Measures every plot as laid out and records the verdict in the DOM, for
/// headless checks (`chromium --dump-dom`). A plot passes when its SVG has a
/// size, its text renders, and it shows at least as many 2-px data curves
/// with a non-empty extent as the report drew.
const RENDER_CHECK: &str = r#"
(function () {
  var figures = document.querySelectorAll('figure.plot');
  var failed = [];
  figures.forEach(function (f) {
    var svg = f.querySelector('svg');
    var want = parseInt(f.getAttribute('data-curves') || '0', 10);
    var box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    var drawn = 0, textWidth = 0;
    if (svg) {
      svg.querySelectorAll('polyline[stroke-width="2"]').forEach(function (p) {
        var b = p.getBBox();
        if (b.width > 0) { drawn++; }
      });
      svg.querySelectorAll('text').forEach(function (t) {
        textWidth += t.getComputedTextLength();
      });
    }
    var ok = box.width > 0 && box.height > 0 && drawn >= want && textWidth > 0;
    f.setAttribute('data-rendered', ok ? 'ok' : 'fail');
    f.setAttribute('data-measured', Math.round(box.width) + 'x' + Math.round(box.height) +
      ' curves=' + drawn + '/' + want + ' text=' + Math.round(textWidth));
    if (!ok) { failed.push(f.id); }
  });
  var out = document.getElementById('render-check');
  out.setAttribute('data-status', figures.length > 0 && failed.length === 0 ? 'pass' : 'fail');
  out.textContent = 'render check: ' + (figures.length - failed.length) + ' of ' +
    figures.length + ' plots rendered' + (failed.length ? '; failed: ' + failed.join(' ') : '');
})();
"#;

fn page(title: &str, toc: &str, body: &str, plots: usize) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n\
         <h1>{title}</h1>\n\
         <p class=\"dim\">Written by iobuf-bench {version}. {plots} plots. Throughput is operations per second \
         over all worker threads; latencies are per operation in ns, from HdrHistograms.</p>\n\
         <p id=\"render-check\" data-status=\"not-run\">render check: not run (JavaScript off?)</p>\n\
         <nav><ul>{toc}</ul></nav>\n{body}\n<script>{RENDER_CHECK}</script>\n</body></html>\n",
        title = esc(title),
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_cover_the_maximum_with_round_steps() {
        let (top, ticks) = linear_ticks(7.3e6, 5);
        assert!(top >= 7.3e6);
        assert_eq!(ticks.first(), Some(&0.0));
        assert_eq!(ticks.last(), Some(&top));
        assert!(ticks.len() >= 3 && ticks.len() <= 7, "{ticks:?}");
    }

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(
            slug("latency-Pairs-small-4t-end_to_end"),
            "latency-pairs-small-4t-end-to-end"
        );
        assert_eq!(slug("a/../b"), "a-b");
    }

    #[test]
    fn escaping_closes_no_tags() {
        assert_eq!(esc("<script>&\""), "&lt;script&gt;&amp;&quot;");
    }
}
