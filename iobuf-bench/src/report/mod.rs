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
//! (size, curves drawn, and that every curve's colour stands out from the
//! background) and writes the verdict into `#render-check`, so a headless
//! browser's `--dump-dom` shows whether the plots really rendered
//! (scripts/check-report-in-browser.sh).
//!
//! The flow: [`model`] groups the runs, [`throughput`], [`summary`] and
//! [`latency`] draw one kind of chart each on [`chart`] and [`axes`] in
//! [`palette`]'s colours, [`tables`] writes the tables, and [`html`] puts
//! it all in one page.

mod axes;
mod chart;
mod html;
mod latency;
mod model;
mod palette;
mod summary;
mod tables;
mod throughput;

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::document::read::{self as results, Op, RunDoc};
use crate::export::atomic;
use html::{esc, page, place, slug};
use latency::latency_plot;
use model::{tier_size, Model};
use summary::summary_plots;
use tables::{latency_table, ratio_table, sources_table};
use throughput::throughput_plot;

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
    if let Some(input) = args.files.iter().find(|f| atomic::same_file(f, &args.out)) {
        return Err(format!(
            "--out {} is one of the input files ({}); refusing to overwrite it",
            args.out.display(),
            input.display()
        ));
    }
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
    atomic::write(&args.out, report.html.as_bytes())?;
    if let Some(dir) = &args.svg_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        for plot in &report.plots {
            let path = dir.join(format!("{}.svg", plot.slug));
            atomic::write(&path, plot.svg.as_bytes())?;
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

/// Builds the page from loaded runs.
pub fn build(docs: &[RunDoc], title: &str) -> Result<Report, String> {
    let model = Model::new(docs);
    let Model {
        labels,
        side_by_side,
        groups,
        palette,
    } = &model;
    let side_by_side = *side_by_side;
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

    body.push_str(&sources_table(docs, labels));

    // Summary: every pool's same-run ratio to crossbeam, sorted bars.
    let scenarios = model.scenarios();
    let mut summary_html = String::new();
    for scenario in &scenarios {
        for (plot, caption) in summary_plots(scenario, groups)? {
            summary_html.push_str(&place(&mut plots, plot, &caption));
        }
    }
    if !summary_html.is_empty() {
        let _ = writeln!(
            body,
            "<section><h2 id=\"summary\">Summary</h2><div class=\"plots\">{summary_html}</div></section>"
        );
    }

    let mut toc = String::new();
    for ((scenario, tier), group) in groups {
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
        let plot = throughput_plot(scenario, tier, group, palette)?;
        body.push_str(&place(
            &mut plots,
            plot,
            "Throughput (operations per second, all threads together) against worker threads.",
        ));
        body.push_str("</div>");
        body.push_str(&ratio_table(group, labels, side_by_side));
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
                    palette,
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
