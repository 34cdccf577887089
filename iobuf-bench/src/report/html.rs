//! HTML: the page around the plots, each plot's figure, and escaping.
//!
//! The style sheet (style.css) and the render check (render_check.js) are
//! their own files, included at build time, so the page stays one
//! self-contained file with nothing to fetch.

use super::Plot;

/// The page's style sheet.
const STYLE: &str = include_str!("style.css");

/// Measures every plot as laid out and records the verdict in the DOM, for
/// headless checks (`chromium --dump-dom`); see the file's own comment.
const RENDER_CHECK: &str = include_str!("render_check.js");

/// may slug alike), and gives its HTML.
pub fn place(plots: &mut Vec<Plot>, mut plot: Plot, caption: &str) -> String {
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

/// A file-name- and id-safe form of `s`.
pub fn slug(s: &str) -> String {
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

/// `s` escaped for HTML text and attributes.
pub fn esc(s: &str) -> String {
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

/// The whole document around `body`.
pub fn page(title: &str, toc: &str, body: &str, plots: usize) -> String {
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
