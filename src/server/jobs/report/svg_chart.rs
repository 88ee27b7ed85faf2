//! A small line chart drawn on the server as SVG: runs on one axis of seconds from their
//! starts, so the comparison page and its print need no script and the dashboard's WASM none.

use crate::shared::format;
use leptos::prelude::*;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 150.0;
/// Room for the value labels on the left and the time labels below.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 18.0;

/// One line: its CSS class (its colour), its name in the legend, and its points as (seconds from
/// the run's start, value).
pub struct Line<'a> {
    pub class: &'static str,
    pub name: String,
    pub points: &'a [(f64, f64)],
}

/// Where a point falls: x from 0 s at the left edge of the plot to `x_max` at the right.
pub fn x_of(seconds: f64, x_max: f64) -> f64 {
    LEFT + seconds.clamp(0.0, x_max) / x_max.max(1e-9) * (WIDTH - LEFT)
}

fn y_of(value: f64, (low, high): (f64, f64)) -> f64 {
    let span = (high - low).max(1e-12);
    (HEIGHT - BOTTOM) * (1.0 - (value - low) / span)
}

/// The chart: a title, the lines from t = 0 to `x_max` seconds, and the range of values.
pub fn chart(title: &str, test_id: &str, x_max: f64, lines: &[Line]) -> impl IntoView + use<> {
    let values = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let (mut low, mut high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    // Percentages, watts and counts read best from zero.
    low = low.min(0.0);
    if high <= low {
        high = low + 1.0;
    }
    let polylines = lines
        .iter()
        .map(|line| {
            let points = line
                .points
                .iter()
                .map(|&(s, v)| format!("{:.1},{:.1}", x_of(s, x_max), y_of(v, (low, high))))
                .collect::<Vec<_>>()
                .join(" ");
            let first = line.points.first().map_or(String::new(), |p| format!("{:.1}", p.0));
            view! {
                <polyline class=format!("chart-line {}", line.class) points=points
                    data-first-seconds=first fill="none"><title>{line.name.clone()}</title></polyline>
            }
        })
        .collect_view();
    let legend = lines
        .iter()
        .map(|line| view! { <span class=format!("legend {}", line.class)>{line.name.clone()}</span> })
        .collect_view();
    let plot_bottom = HEIGHT - BOTTOM;
    view! {
        <figure class="compare-chart" data-testid=test_id.to_owned() data-x-max=format!("{x_max:.1}")>
            <figcaption>{title.to_owned()}" "{legend}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title.to_owned()
                preserveAspectRatio="none">
                <line class="axis" x1=LEFT y1="0" x2=LEFT y2=plot_bottom />
                <line class="axis" x1=LEFT y1=plot_bottom x2=WIDTH y2=plot_bottom />
                <text class="tick" x=LEFT - 4.0 y="10" text-anchor="end">{format::reading(high)}</text>
                <text class="tick" x=LEFT - 4.0 y=plot_bottom text-anchor="end">{format::reading(low)}</text>
                <text class="tick" x=LEFT y=HEIGHT - 2.0 data-testid="chart-start">"t = 0"</text>
                <text class="tick" x=WIDTH y=HEIGHT - 2.0 text-anchor="end">
                    {format::hours_minutes(x_max.max(0.0) as u64)}
                </text>
                {polylines}
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_runs_start_at_the_left_edge_and_values_fill_the_height() {
        assert_eq!(x_of(0.0, 100.0), LEFT);
        assert_eq!(x_of(100.0, 100.0), WIDTH);
        assert_eq!(x_of(250.0, 100.0), WIDTH, "past the end is clamped");
        assert_eq!(y_of(0.0, (0.0, 10.0)), HEIGHT - BOTTOM);
        assert_eq!(y_of(10.0, (0.0, 10.0)), 0.0);
        let html = Owner::new().with(|| {
            let points = [(0.0, 1.0), (50.0, 2.0)];
            let lines = [Line {
                class: "run-a",
                name: "A".into(),
                points: &points,
            }];
            chart("loss", "chart-loss", 100.0, &lines).to_html()
        });
        assert!(html.contains(r#"points="48.0,66.0 324.0,0.0""#), "{html}");
        assert!(html.contains(r#"data-first-seconds="0.0""#));
    }
}
