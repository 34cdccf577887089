//! `iobuf-bench report`: the HTML page, its SVG plots, and (when Chromium is
//! installed) that the plots really render in a browser.

mod run_doc;

use assert_cmd::Command;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn report(files: &[PathBuf], out: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("iobuf-bench")
        .unwrap()
        .arg("report")
        .args(files)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn write_report(dir: &Path, docs: &[(&str, Value)]) -> String {
    let files: Vec<PathBuf> = docs
        .iter()
        .map(|(name, doc)| run_doc::write(dir, name, doc))
        .collect();
    let out = dir.join("report.html");
    let o = report(&files, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

/// The ids of the page's plots, in order.
fn figure_ids(html: &str) -> Vec<&str> {
    html.match_indices("<figure class=\"plot\" id=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[test]
fn one_plot_per_view_and_nothing_external() {
    let dir = TempDir::new().unwrap();
    let html = write_report(dir.path(), &[("run.json", run_doc::doc())]);
    let ids = figure_ids(&html);
    // Per scenario: a summary bar chart per thread count and a throughput
    // plot; latency plots per thread count for get and put, plus
    // end-to-end in handoff.
    let expected = 2 * 3 + 2 + 3 * 2 + 3 * 3;
    assert_eq!(ids.len(), expected, "{ids:?}");
    for id in [
        "summary-pairs-small-4t",
        "throughput-pairs-small",
        "throughput-handoff-small",
        "latency-pairs-small-4t-get",
        "latency-handoff-small-1t-end-to-end",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(!ids.contains(&"latency-pairs-small-1t-end-to-end"));
    assert_eq!(html.matches("<svg ").count(), expected);
    assert_eq!(html.matches("</svg>").count(), expected);

    // Self-contained: no fetched script, style, font or image.
    for needle in ["<link", "src=", "@import", "url(", "@font-face"] {
        assert!(!html.contains(needle), "page contains {needle:?}");
    }
    let external = html
        .match_indices("http")
        .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
        .count();
    assert_eq!(external, 0, "only the SVG namespace may be a URL");

    // Every pool is in the legends and the ratio tables.
    for pool in run_doc::POOLS {
        assert!(
            html.contains(&format!(">\n{pool}\n</text>")),
            "{pool} legend"
        );
    }
    assert!(html.contains("iobuf&thinsp;/&thinsp;crossbeam"));
    // The fixture's iobuf is 20M/15M of crossbeam's throughput.
    assert!(html.contains("1.33&times;"));
    assert!(html.contains("id=\"render-check\""));
    assert!(!html.contains("Integrity failures"));
}

#[test]
fn latency_curves_come_from_the_histograms() {
    let dir = TempDir::new().unwrap();
    let doc = run_doc::doc_with(&["pairs"], &["small"], &[2], &["iobuf"]);
    let html = write_report(dir.path(), &[("run.json", doc.clone())]);
    // A histogram gives a curve of many points; the summary alone gives 6.
    let polyline_points = |html: &str| -> Vec<usize> {
        html.split("<polyline")
            .skip(1)
            .filter(|p| p.contains("stroke-width=\"2\""))
            .map(|p| {
                let start = p.find("points=\"").unwrap() + 8;
                p[start..][..p[start..].find('"').unwrap()]
                    .split_whitespace()
                    .count()
            })
            .collect()
    };
    let start = html.find("id=\"latency-pairs-small-2t-get\"").unwrap();
    let with_histograms = polyline_points(&html[start..]);
    assert!(with_histograms[0] > 20, "{with_histograms:?}");

    let mut summaries_only = doc;
    summaries_only["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("histograms");
    let html = write_report(dir.path(), &[("run.json", summaries_only)]);
    let start = html.find("id=\"latency-pairs-small-2t-get\"").unwrap();
    assert_eq!(polyline_points(&html[start..])[0], 6);
}

#[test]
fn an_undecodable_histogram_falls_back_to_the_summary_with_a_warning() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(&["pairs"], &["small"], &[2], &["iobuf"]);
    doc["results"][0]["histograms"]["get"] = json!("bm90IGEgaGlzdG9ncmFt");
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let out = dir.path().join("report.html");
    let o = report(&[file], &out, &[]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("summary percentiles"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(out).unwrap();
    assert!(figure_ids(&html).contains(&"latency-pairs-small-2t-get"));
}

#[test]
fn matrix_parts_merge_and_repeated_runs_go_side_by_side() {
    let dir = TempDir::new().unwrap();
    // Two thread counts in two files: one matrix.
    let one = run_doc::doc_with(&["pairs"], &["small"], &[1], &run_doc::POOLS);
    let two = run_doc::doc_with(&["pairs"], &["small"], &[2], &run_doc::POOLS);
    let html = write_report(dir.path(), &[("t1.json", one.clone()), ("t2.json", two)]);
    assert!(!html.contains("iobuf · t1"));
    let throughput = figure_ids(&html)
        .into_iter()
        .filter(|id| id.starts_with("throughput"))
        .count();
    assert_eq!(throughput, 1);
    // One bar per pool in each thread count's summary; one line per pool
    // across both files, drawn in the pool's own colour whichever file a
    // point came from.
    assert!(html.contains("id=\"summary-pairs-small-1t\" data-curves=\"4\""));
    assert!(html.contains("id=\"summary-pairs-small-2t\" data-curves=\"4\""));
    assert!(html.contains("id=\"throughput-pairs-small\" data-curves=\"4\""));
    let start = html.find("id=\"latency-pairs-small-2t-get\"").unwrap();
    let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
    assert!(figure.contains("stroke=\"#1F77B4\""), "iobuf's blue");

    // The same cases twice: two runs to compare, labelled by file.
    let mut slower = one.clone();
    run_doc::scale_pool(&mut slower, "iobuf", 0.5);
    let html = write_report(dir.path(), &[("before.json", one), ("after.json", slower)]);
    assert!(html.contains("iobuf · before"));
    assert!(html.contains("iobuf · after"));
    assert!(html.contains("1.33&times;") && html.contains("0.67&times;"));
}

/// The summary: sorted bars of each row's same-run ratio, whiskers for the
/// rounds' spread, the ceiling marked, the winner and whether it is
/// resolved.
#[test]
fn the_summary_sorts_bars_marks_the_ceiling_and_says_if_the_winner_is_resolved() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(
        &["pairs"],
        &["small"],
        &[1],
        &["ceiling", "iobuf", "iobuf-cached", "crossbeam"],
    );
    run_doc::set_rounds(&mut doc, 2, |pool| match pool {
        "ceiling" => vec![90e6, 95e6, 92e6],
        "iobuf" => vec![20e6, 21e6, 20.5e6],
        "iobuf-cached" => vec![40e6, 44e6, 42e6],
        _ => vec![10e6, 10e6, 10e6],
    });
    let html = write_report(dir.path(), &[("run.json", doc)]);
    let start = html.find("id=\"summary-pairs-small-1t\"").unwrap();
    let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
    // Sorted: ceiling, iobuf-cached, iobuf, crossbeam.
    let order: Vec<usize> = [
        "ceiling (harness limit)",
        ">iobuf-cached<",
        ">iobuf<",
        ">crossbeam<",
    ]
    .iter()
    .map(|n| figure.find(n).unwrap_or_else(|| panic!("{n} in {figure}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(
        figure.contains("stroke-dasharray=\"6 3\""),
        "the ceiling is marked"
    );
    assert!(!figure.contains("url("), "nothing referenced");
    assert!(
        figure.contains("winner: iobuf-cached (resolved)"),
        "the winner leaves out the ceiling: {figure}"
    );
    // Whiskers for the rows whose rounds differ (not crossbeam's, all 1×).
    assert_eq!(figure.matches("stroke=\"#222222\"").count(), 3);
    assert_eq!(figure.matches("stroke-width=\"2\"").count(), 4);
    assert!(!figure.contains("ABOVE THE CEILING"), "{figure}");
}

/// A row that reaches the ceiling is named in the verdict, not shown as a
/// plain lead.
#[test]
fn the_summary_names_a_row_at_or_above_the_ceiling() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(
        &["pairs"],
        &["small"],
        &[1],
        &["ceiling", "iobuf", "crossbeam"],
    );
    run_doc::set_rounds(&mut doc, 2, |pool| match pool {
        "ceiling" => vec![40e6, 40e6, 40e6],
        "iobuf" => vec![42e6, 44e6, 43.2e6],
        _ => vec![10e6, 10e6, 10e6],
    });
    let html = write_report(dir.path(), &[("run.json", doc)]);
    let start = html.find("id=\"summary-pairs-small-1t\"").unwrap();
    let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
    assert!(
        figure.contains(
            "AT OR ABOVE THE CEILING (noise or a harness bug, not a lead): iobuf 1.08× the ceiling"
        ),
        "{figure}"
    );
}

#[test]
fn integrity_failures_are_shown() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(&["pairs"], &["small"], &[2], &run_doc::POOLS);
    doc["results"][0]["integrity"]["corrupted"] = json!(7);
    let html = write_report(dir.path(), &[("run.json", doc)]);
    assert!(html.contains("Integrity failures"));
    assert!(html.contains("7 corrupted buffers"));
}

#[test]
fn svg_dir_gets_every_plot_as_a_standalone_file() {
    let dir = TempDir::new().unwrap();
    let file = run_doc::write(dir.path(), "run.json", &run_doc::doc());
    let out = dir.path().join("report.html");
    let svg_dir = dir.path().join("svg");
    let o = report(&[file], &out, &["--svg-dir", svg_dir.to_str().unwrap()]);
    assert!(o.status.success());
    let html = std::fs::read_to_string(out).unwrap();
    for id in figure_ids(&html) {
        let svg = std::fs::read_to_string(svg_dir.join(format!("{id}.svg"))).unwrap();
        assert!(svg.starts_with("<svg ") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // The same drawing as the page's.
        assert!(html.contains(svg.as_str()), "{id}");
    }
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"schema\": \"iobuf-bench/1\", \"results\": 5}").unwrap();
    let good = run_doc::write(dir.path(), "run.json", &run_doc::doc());
    let out = dir.path().join("report.html");
    for files in [
        vec![good.clone(), garbage.clone()],
        vec![dir.path().join("nope.json")],
    ] {
        let o = report(&files, &out, &[]);
        assert_eq!(o.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!out.exists());
    }
    let empty = run_doc::write(
        dir.path(),
        "empty.json",
        &json!({"schema": "iobuf-bench/1", "meta": {}, "config": {}, "results": []}),
    );
    let o = report(&[empty], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to report"));
}

/// The browser check script, run with the static checks only unless
/// `IOBUF_BROWSER_TESTS=1`: `.ci/run` opens a report in Chromium once
/// itself, so `cargo test` does not start the browser again by default.
fn browser_check(script: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("bash");
    c.arg(script);
    if std::env::var("IOBUF_BROWSER_TESTS").as_deref() != Ok("1") {
        c.env("IOBUF_SKIP_BROWSER", "1");
    }
    c
}

/// Opens the page in headless Chromium through the same script CI runs
/// (with `IOBUF_BROWSER_TESTS=1`; the static checks otherwise). Skips
/// (passes, with the reason printed) where Chromium is not installed.
#[test]
fn plots_render_in_a_real_browser() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc();
    // One case drawn from summaries only, to cover that path in the browser too.
    doc["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("histograms");
    write_report(dir.path(), &[("run.json", doc)]);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-report-in-browser.sh");
    let screenshot = dir.path().join("report.png");
    let o = browser_check(&script)
        .arg(dir.path().join("report.html"))
        .arg(&screenshot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.code() == Some(77) {
        println!("skipped: {}", stdout.trim());
        return;
    }
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("render check: 23 of 23 plots rendered"),
        "{stdout}"
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);

    // The check has teeth: a plot whose curves are gone fails it.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let start = html.find("id=\"throughput-pairs-small\"").unwrap();
    let end = start + html[start..].find("</figure>").unwrap();
    let broken = format!(
        "{}{}{}",
        &html[..start],
        html[start..end].replace("<polyline", "<desc"),
        &html[end..]
    );
    let broken_path = dir.path().join("broken.html");
    std::fs::write(&broken_path, broken).unwrap();
    let o = browser_check(&script)
        .arg(&broken_path)
        .arg(dir.path().join("broken.png"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("22 of 23 plots rendered"), "{stdout}");
    assert!(stderr.contains("throughput-pairs-small"), "{stderr}");

    // So does one whose curves the browser paints near-white (a style the
    // SVG check cannot see): the page's own contrast check catches it.
    let faint = html.replacen(
        "</style>",
        "#throughput-pairs-small polyline[stroke-width=\"2\"] { stroke: #EAF9FB; }</style>",
        1,
    );
    let faint_path = dir.path().join("faint.html");
    std::fs::write(&faint_path, faint).unwrap();
    let o = browser_check(&script)
        .arg(&faint_path)
        .arg(dir.path().join("faint.png"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("22 of 23 plots rendered"), "{stdout}");
    assert!(stderr.contains("faint=4"), "{stderr}");
}

#[test]
fn scenario_names_that_slug_alike_keep_their_own_plots() {
    let dir = TempDir::new().unwrap();
    let doc = run_doc::doc_with(
        &["burst_x", "burst-x"],
        &["small"],
        &[2],
        &["iobuf", "crossbeam"],
    );
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let out = dir.path().join("report.html");
    let svg_dir = dir.path().join("svg");
    let o = report(&[file], &out, &["--svg-dir", svg_dir.to_str().unwrap()]);
    assert!(o.status.success());
    let html = std::fs::read_to_string(out).unwrap();
    let ids = figure_ids(&html);
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert_eq!(std::fs::read_dir(svg_dir).unwrap().count(), ids.len());
}

/// WCAG 2 contrast ratio of an `RRGGBB` colour against white.
fn contrast_on_white(hex: &str) -> f64 {
    let lin = |i: usize| {
        let v = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(0) + 0.7152 * lin(2) + 0.0722 * lin(4);
    1.05 / (l + 0.05)
}

/// (stroke colour, dash pattern) of every data curve (2-px polyline) in `svg`.
fn data_curves(svg: &str) -> Vec<(String, Option<String>)> {
    svg.split("<polyline")
        .skip(1)
        .map(|p| &p[..p.find("/>").unwrap()])
        .filter(|p| p.contains("stroke-width=\"2\""))
        .map(|p| {
            let attr = |name: &str| {
                let key = format!(" {name}=\"");
                p.find(&key).map(|at| {
                    let rest = &p[at + key.len()..];
                    rest[..rest.find('"').unwrap()].to_string()
                })
            };
            (attr("stroke").unwrap(), attr("stroke-dasharray"))
        })
        .collect()
}

#[test]
fn five_files_side_by_side_have_no_invisible_series_and_the_check_catches_one() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc_with(&["pairs"], &["small"], &[1, 2], &run_doc::POOLS);
    let docs: Vec<(String, Value)> = (0..5)
        .map(|i| {
            let mut d = base.clone();
            run_doc::scale_pool(&mut d, "iobuf", 1.0 - 0.1 * i as f64);
            (format!("run{i}.json"), d)
        })
        .collect();
    let named: Vec<(&str, Value)> = docs.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    let html = write_report(dir.path(), &named);
    for label in ["iobuf · run0", "iobuf · run4", "mutex · run4"] {
        assert!(html.contains(label), "{label}");
    }
    let start = html.find("id=\"throughput-pairs-small\"").unwrap();
    let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
    let curves = data_curves(figure);
    // 4 pools × 5 files, every one visible and told apart from the others.
    assert_eq!(curves.len(), 20, "{curves:?}");
    let distinct: std::collections::BTreeSet<_> = curves.iter().collect();
    assert_eq!(distinct.len(), 20, "two series drawn alike: {curves:?}");
    let all = data_curves(&html);
    assert!(all.len() > 20);
    for (color, _) in &all {
        let ratio = contrast_on_white(&color[1..]);
        assert!(ratio >= 3.0, "{color} has contrast {ratio:.2}:1 on white");
    }
    // Each pool's first file is solid, its later files dashed, each its own way.
    for pool in curves.chunks(5) {
        assert_eq!(pool[0].1, None, "{pool:?}");
        let dashes: std::collections::BTreeSet<_> = pool[1..].iter().map(|(_, d)| d).collect();
        assert!(pool[1..].iter().all(|(_, d)| d.is_some()), "{pool:?}");
        assert_eq!(dashes.len(), 4, "{pool:?}");
    }

    // The check script passes this page (or skips without a browser)...
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-report-in-browser.sh");
    let page = dir.path().join("report.html");
    let o = browser_check(&script)
        .arg(&page)
        .arg(dir.path().join("five.png"))
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0) | Some(77)),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // ...and fails it, browser or not, once one series is near-white.
    let (first, _) = &curves[3];
    let needle = format!("stroke=\"{first}\" stroke-width=\"2\"");
    assert!(html.contains(&needle));
    let faint = html.replacen(&needle, "stroke=\"#EAF9FB\" stroke-width=\"2\"", 1);
    let faint_path = dir.path().join("faint.html");
    std::fs::write(&faint_path, faint).unwrap();
    let o = browser_check(&script)
        .arg(&faint_path)
        .arg(dir.path().join("faint.png"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("#EAF9FB"), "{stderr}");
}

#[test]
fn report_refuses_to_overwrite_an_input() {
    let dir = TempDir::new().unwrap();
    let file = run_doc::write(dir.path(), "a.json", &run_doc::doc());
    let before = std::fs::read(&file).unwrap();
    // The same file, spelt two ways.
    for out in [file.clone(), dir.path().join(".").join("a.json")] {
        let o = report(std::slice::from_ref(&file), &out, &[]);
        assert_eq!(o.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("refusing to overwrite"), "{stderr}");
        assert_eq!(std::fs::read(&file).unwrap(), before);
    }
}

#[test]
fn the_page_is_written_whole_or_not_at_all() {
    let dir = TempDir::new().unwrap();
    let file = run_doc::write(dir.path(), "run.json", &run_doc::doc());
    let out = dir.path().join("report.html");
    std::fs::write(&out, "previous page").unwrap();
    // A failing run leaves the previous page as it was.
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let o = report(&[garbage], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous page");
    // A good one replaces it, and leaves no temporary file behind.
    let o = report(&[file], &out, &[]);
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // An output directory that does not exist is a one-line error.
    let o = report(
        &[dir.path().join("run.json")],
        &dir.path().join("missing").join("r.html"),
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}
