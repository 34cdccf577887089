//! Series colours and line styles.
//!
//! Every pool has one colour, the same in every plot. Every colour here has
//! a contrast ratio of at least [`MIN_CONTRAST`] against the white plot
//! background (WCAG 2 relative luminance), and the files of a side-by-side
//! comparison are told apart by dash pattern and by ever *darker* shades of
//! the pool's colour, never by lightening towards white: darkening only
//! raises the contrast, so a report of any number of files has no series
//! that fades into the page. The browser check (render_check.js) measures
//! the same ratio on the drawn strokes.

use plotters::style::RGBColor;

/// The least contrast ratio a series colour has against the background.
pub const MIN_CONTRAST: f64 = 3.0;

/// The plot background.
pub const BACKGROUND: RGBColor = RGBColor(255, 255, 255);

/// Fixed colours of the known pools.
const POOL_COLORS: [(&str, RGBColor); 5] = [
    ("iobuf", RGBColor(31, 119, 180)),
    ("iobuf-fifo", RGBColor(0, 128, 128)),
    ("iobuf-cached", RGBColor(34, 139, 34)),
    ("crossbeam", RGBColor(148, 103, 189)),
    ("mutex", RGBColor(214, 39, 40)),
];

/// Colours for anything else (unknown pools, tiers), in order of use.
pub const SERIES_COLORS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(197, 90, 17),
    RGBColor(34, 139, 34),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(200, 60, 160),
    RGBColor(100, 100, 100),
    RGBColor(128, 128, 0),
    RGBColor(0, 128, 128),
    RGBColor(57, 59, 121),
    RGBColor(99, 121, 57),
];

/// SVG dash patterns per file of a side-by-side comparison; the first file
/// is solid.
const DASHES: [Option<&str>; 5] = [
    None,
    Some("9 4"),
    Some("2 3"),
    Some("9 3 2 3"),
    Some("14 5"),
];

/// How one series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesStyle {
    /// Stroke and marker colour.
    pub color: RGBColor,
    /// SVG `stroke-dasharray`, `None` for a solid line.
    pub dash: Option<&'static str>,
}

/// The style of the `file`-th file's series in `base` colour: the first
/// file's is the colour itself, solid; later files' are dashed and darker.
pub fn for_file(base: RGBColor, file: usize) -> SeriesStyle {
    // Up to 45% towards black in three steps, then the steps repeat (the
    // dash pattern still differs up to the fifth file).
    let mix = 0.15 * (file % 4) as f64;
    let shade = |c: u8| (c as f64 * (1.0 - mix)).round() as u8;
    SeriesStyle {
        color: RGBColor(shade(base.0), shade(base.1), shade(base.2)),
        dash: DASHES[file % DASHES.len()],
    }
}

/// Colours fixed per pool, so a pool looks the same in every plot.
pub struct Palette {
    others: Vec<String>,
}

impl Palette {
    /// A palette where `pools` (any order, duplicates allowed) are drawn.
    pub fn new<'a>(pools: impl IntoIterator<Item = &'a str>) -> Palette {
        let mut others: Vec<String> = pools
            .into_iter()
            .filter(|p| !POOL_COLORS.iter().any(|(known, _)| known == p))
            .map(str::to_string)
            .collect();
        others.sort();
        others.dedup();
        Palette { others }
    }

    /// The pool's own colour.
    pub fn base(&self, pool: &str) -> RGBColor {
        POOL_COLORS
            .iter()
            .find(|(name, _)| *name == pool)
            .map(|(_, c)| *c)
            .unwrap_or_else(|| {
                let i = self.others.iter().position(|p| p == pool).unwrap_or(0);
                SERIES_COLORS[i % SERIES_COLORS.len()]
            })
    }

    /// How `pool`'s series from the `file`-th file is drawn.
    pub fn style(&self, pool: &str, file: usize) -> SeriesStyle {
        for_file(self.base(pool), file)
    }
}

/// WCAG 2 relative luminance of an sRGB colour.
pub fn luminance(c: RGBColor) -> f64 {
    let lin = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// WCAG 2 contrast ratio of two colours, 1 to 21.
pub fn contrast(a: RGBColor, b: RGBColor) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_of_any_file_stands_out_from_the_background() {
        let bases = POOL_COLORS.iter().map(|(_, c)| *c).chain(SERIES_COLORS);
        for base in bases {
            for file in 0..12 {
                let c = for_file(base, file).color;
                let ratio = contrast(c, BACKGROUND);
                assert!(
                    ratio >= MIN_CONTRAST,
                    "{base:?} file {file}: {c:?} {ratio:.2}"
                );
            }
        }
        // The old fourth and fifth files' shades are what must never come back.
        assert!(contrast(RGBColor(0xDA, 0xE8, 0xF3), BACKGROUND) < MIN_CONTRAST);
        assert!(contrast(RGBColor(0xEA, 0xF9, 0xFB), BACKGROUND) < MIN_CONTRAST);
    }

    #[test]
    fn files_differ_in_dash_and_shade() {
        let styles: Vec<SeriesStyle> = (0..5)
            .map(|f| for_file(RGBColor(31, 119, 180), f))
            .collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[i + 1..] {
                assert_ne!(a.dash, b.dash);
            }
        }
        assert_eq!(styles[0].dash, None);
        assert!(luminance(styles[1].color) < luminance(styles[0].color));
    }

    #[test]
    fn unknown_pools_get_distinct_colours_in_a_stable_order() {
        let p = Palette::new(["zeta", "iobuf", "alpha", "zeta"]);
        assert_eq!(p.base("iobuf"), RGBColor(31, 119, 180));
        assert_eq!(p.base("alpha"), SERIES_COLORS[0]);
        assert_eq!(p.base("zeta"), SERIES_COLORS[1]);
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((contrast(RGBColor(0, 0, 0), BACKGROUND) - 21.0).abs() < 1e-9);
        assert!((contrast(BACKGROUND, BACKGROUND) - 1.0).abs() < 1e-9);
        // #777777 on white is 4.48:1.
        let grey = contrast(RGBColor(0x77, 0x77, 0x77), BACKGROUND);
        assert!((grey - 4.48).abs() < 0.01, "{grey}");
    }
}
