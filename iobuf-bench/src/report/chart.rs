//! The one chart every plot is: lines (with optional point markers) on two
//! axes, a legend strip on the right, drawn by plotters into an SVG string.
//!
//! Data curves are the only 2-px polylines and legend samples the only
//! 3-px ones: the browser check counts and colour-checks curves by that.

use plotters::prelude::*;

use super::axes::Axis;
use super::palette::{contrast, SeriesStyle, BACKGROUND, MIN_CONTRAST};

/// One line of a chart.
pub struct Curve {
    /// Legend text.
    pub name: String,
    /// Colour and dash pattern.
    pub style: SeriesStyle,
    /// (x, y) in axis units.
    pub points: Vec<(f64, f64)>,
    /// Whether every point also gets a dot.
    pub markers: bool,
}

const FONT: &str = "sans-serif";

/// Draws a line chart with a legend strip on the right, into an SVG string.
pub fn line_chart(
    title: &str,
    size: (u32, u32),
    x: &Axis,
    y: &Axis,
    curves: &[Curve],
    reference_y: Option<f64>,
) -> Result<String, String> {
    // The palette promises this; a curve nobody could see is a bug.
    if let Some(c) = curves
        .iter()
        .find(|c| contrast(c.style.color, BACKGROUND) < MIN_CONTRAST)
    {
        return Err(format!(
            "cannot draw a plot: series {} would be nearly invisible ({:?})",
            c.name, c.style.color
        ));
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&BACKGROUND).map_err(draw_err)?;
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
                    c.style.color.stroke_width(2),
                ))
                .map_err(draw_err)?;
            if c.markers {
                chart
                    .draw_series(
                        c.points
                            .iter()
                            .map(|&p| Circle::new(p, 3, c.style.color.filled())),
                    )
                    .map_err(draw_err)?;
            }
        }
        for (i, c) in curves.iter().enumerate() {
            let top = 30 + i as i32 * 22;
            // Legend samples are the only 3-px polylines, so that their
            // dash pattern can be set below like their curve's.
            legend_area
                .draw(&PathElement::new(
                    vec![(2, top + 7), (26, top + 7)],
                    c.style.color.stroke_width(3),
                ))
                .map_err(draw_err)?;
            legend_area
                .draw(&Text::new(c.name.clone(), (30, top), (FONT, 16)))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    let dashes: Vec<Option<&str>> = curves.iter().map(|c| c.style.dash).collect();
    let svg = dash_polylines(&svg, "stroke-width=\"2\" ", &dashes);
    Ok(dash_polylines(&svg, "stroke-width=\"3\" ", &dashes))
}

/// Gives the `i`-th polyline carrying `marker` the dash pattern `dashes[i]`
/// (plotters' line styles have no dashes; its own dashed series would
/// split one curve into many polylines).
fn dash_polylines(svg: &str, marker: &str, dashes: &[Option<&str>]) -> String {
    let mut out = String::with_capacity(svg.len() + 32 * dashes.len());
    let mut rest = svg;
    let mut i = 0;
    while let Some(at) = rest.find(marker) {
        let end = at + marker.len();
        out.push_str(&rest[..end]);
        if let Some(Some(dash)) = dashes.get(i) {
            out.push_str(&format!("stroke-dasharray=\"{dash}\" "));
        }
        i += 1;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

pub fn draw_err<E: std::fmt::Display>(e: E) -> String {
    format!("cannot draw a plot: {e}")
}

/// Curves that span some x, i.e. that a browser draws as a visible line.
pub fn visible_curves(curves: &[Curve]) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashes_go_to_the_matching_polylines_only() {
        let svg = r#"<polyline stroke-width="1" points="a"/><polyline stroke-width="2" points="b"/><polyline stroke-width="2" points="c"/>"#;
        let out = dash_polylines(svg, "stroke-width=\"2\" ", &[None, Some("9 4")]);
        assert_eq!(
            out,
            r#"<polyline stroke-width="1" points="a"/><polyline stroke-width="2" points="b"/><polyline stroke-width="2" stroke-dasharray="9 4" points="c"/>"#
        );
    }
}
