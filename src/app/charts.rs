//! Chart options as pure functions: history in, a `Chart` of charming's parts out. Tested on the host by their JSON.

use super::chart_option::Chart;
use crate::shared::store::Millis;
use charming::component::{Axis, Grid, Legend, LegendType};
use charming::datatype::{CompositeValue, DataPoint};
use charming::element::{
    AxisLabel, AxisType, Formatter, ItemStyle, Label, LabelPosition, LineStyle, LineStyleType,
    MarkArea, MarkAreaData, MarkLine, MarkLineData, MarkLineVariant, SplitLine, Symbol, Tooltip,
    Trigger,
};
use charming::series::{Bar, Line};

/// A named line with its points.
pub struct LineSeries<'a> {
    pub name: &'a str,
    pub points: &'a [(Millis, f64)],
}

/// Two drawn points farther apart than this have a stretch without data between them (Vitals
/// was not running): three drawn points' time, or three of the series' usual spacing when its
/// samples are sparser than that.
fn gap_after_ms(points: &[(Millis, f64)], bucket_ms: Millis) -> Millis {
    let mut spacings: Vec<Millis> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let middle = spacings.len() / 2;
    let usual = if spacings.is_empty() {
        0
    } else {
        *spacings.select_nth_unstable(middle).1
    };
    3 * bucket_ms.max(usual).max(1)
}

/// ECharts' empty value (a null would reach it as `undefined` through charming's serializer).
const EMPTY_VALUE: &str = "-";

/// Points as `[time, value]`, the value in the chart's unit and rounded (see `rounded`): tooltips
/// show it as it is, and a reading that came in as f32 would otherwise read 12.300000190734863.
/// A gap in time gets a `[time, "-"]` point, which ECharts leaves undrawn instead of joining the
/// line across it.
fn time_points(points: &[(Millis, f64)], scale: f64, bucket_ms: Millis) -> Vec<DataPoint> {
    let gap_after_ms = gap_after_ms(points, bucket_ms);
    let mut drawn = Vec::with_capacity(points.len() + 2);
    let mut previous: Option<Millis> = None;
    for &(t, v) in points {
        if let Some(before) = previous.filter(|&before| t - before > gap_after_ms) {
            let middle = (before + (t - before) / 2) as f64;
            drawn.push(DataPoint::from(vec![
                CompositeValue::from(middle),
                CompositeValue::from(EMPTY_VALUE),
            ]));
        }
        drawn.push(DataPoint::from(vec![t as f64, rounded(v / scale)]));
        previous = Some(t);
    }
    drawn
}

/// Two decimals, or for a value under 1 its first three digits (a loss of 0.00123 is not 0).
fn rounded(value: f64) -> f64 {
    let magnitude = value.abs();
    let decimals = if magnitude >= 1.0 || magnitude == 0.0 {
        2
    } else {
        (2 - magnitude.log10().floor() as i32).min(12)
    };
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

/// A line of `points`, its tooltip reading each value with `unit` (a template the page turns into
/// a formatter: see chart_view).
fn line(name: &str, points: &[(Millis, f64)], scale: f64, bucket_ms: Millis, unit: &str) -> Line {
    Line::new()
        .name(name)
        .show_symbol(false)
        .tooltip(Tooltip::new().value_formatter(Formatter::String(format!("{{value}} {unit}"))))
        .data(time_points(points, scale, bucket_ms))
}

/// The span of time a chart shows, and the time one drawn point stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeWindow {
    pub start_ms: Millis,
    pub end_ms: Millis,
    pub bucket_ms: Millis,
}

fn base(window: TimeWindow) -> Chart {
    Chart::new()
        // The card's own background shows through, in either theme.
        .background_color("transparent")
        // Live data redraws every tick: animating each redraw costs CPU and reads as jitter.
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        // A scrolling legend stays on one line however narrow the card, so it never covers the plot.
        .legend(
            Legend::new()
                .type_(LegendType::Scroll)
                .top(4)
                .left(4)
                .right(4)
                .item_width(16)
                .item_height(8)
                .item_gap(8)
                .padding(2),
        )
        .grid(Grid::new().left(48).right(48).top(36).bottom(28))
        // The axis spans the whole selected range, so the range reads the same whatever the history.
        .x_axis(
            Axis::new()
                .type_(AxisType::Time)
                .min(window.start_ms as f64)
                .max(window.end_ms as f64)
                .split_line(SplitLine::new().show(false)),
        )
}

/// A 0–100 % value axis.
fn percent_axis() -> Axis {
    Axis::new()
        .type_(AxisType::Value)
        .min(0)
        .max(100)
        .axis_label(AxisLabel::new().formatter("{value} %"))
}

/// Power draw against its limit, for a GPU's utilization chart.
pub struct PowerLine<'a> {
    pub points: &'a [(Millis, f64)],
    pub limit_watts: f64,
}

/// Utilization (0–100 %) on the left axis; temperature (°C) on the right one when there is any to
/// draw; power draw on a hidden axis that runs up to the power limit, so its line reads as "share
/// of the limit" beside utilization while its tooltip shows watts against the limit.
pub fn utilization_chart(
    window: TimeWindow,
    utilization: &[LineSeries<'_>],
    temperature: &[LineSeries<'_>],
    power: Option<PowerLine<'_>>,
) -> Chart {
    let bucket_ms = window.bucket_ms;
    let mut chart = base(window).y_axis(percent_axis().interval(20));
    for series in utilization {
        chart = chart.series(line(series.name, series.points, 1.0, bucket_ms, "%"));
    }
    let mut axes = 1;
    if temperature.iter().any(|s| !s.points.is_empty()) {
        // Both axes split into five steps, so their grid lines coincide (0–100 % against 0–125 °C).
        chart = chart.y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .min(0)
                .max(125)
                .interval(25)
                .split_line(SplitLine::new().show(false))
                .axis_label(AxisLabel::new().formatter("{value} °C")),
        );
        for series in temperature {
            let temperature = line(series.name, series.points, 1.0, bucket_ms, "°C");
            chart = chart.series(temperature.y_axis_index(axes as f64));
        }
        axes += 1;
    }
    if let Some(power) = power.filter(|p| !p.points.is_empty()) {
        let limit = power.limit_watts;
        let unit = format!("W / {limit:.0} W");
        chart = chart
            .y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .show(false)
                    .min(0)
                    .max(limit),
            )
            .series(line("Power", power.points, 1.0, bucket_ms, &unit).y_axis_index(axes as f64));
    }
    chart
}

/// Shades the spans of alerts on a time chart, through a series of their own (its legend entry
/// hides them).
pub fn with_alert_spans(chart: Chart, spans: &[(Millis, Millis)]) -> Chart {
    if spans.is_empty() {
        return chart;
    }
    let areas: Vec<(MarkAreaData, MarkAreaData)> = spans
        .iter()
        .map(|&(start, end)| {
            (
                MarkAreaData::new().x_axis(iso(start)),
                MarkAreaData::new().x_axis(iso(end)),
            )
        })
        .collect();
    chart.series(
        Line::new()
            .name("Alerts")
            .data(Vec::<DataPoint>::new())
            .mark_area(
                MarkArea::new()
                    .silent(true)
                    .item_style(ItemStyle::new().color("rgba(220, 38, 38, 0.15)"))
                    .data(areas),
            ),
    )
}

/// A time as a time axis reads it: an ISO-8601 string (a number in a string is not a time).
fn iso(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One clock event reason's lane: its name, colour and the spans it held.
pub struct ClockLane<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub spans: Vec<(Millis, Millis)>,
}

/// Height of one lane, in percent of the utilization axis.
const LANE_PERCENT: f64 = 4.0;

/// Draws each clock event reason that held as a thin lane across the top of a percent chart, a
/// band where it held; the legend names each lane and hides it on a click.
pub fn with_clock_events(mut chart: Chart, lanes: &[ClockLane<'_>]) -> Chart {
    for (row, lane) in lanes.iter().enumerate() {
        let top = 100.0 - LANE_PERCENT * row as f64;
        let bottom = top - LANE_PERCENT * 0.75;
        let areas: Vec<(MarkAreaData, MarkAreaData)> = lane
            .spans
            .iter()
            .map(|&(start, end)| {
                (
                    MarkAreaData::new()
                        .x_axis(iso(start))
                        .y_axis(top.to_string()),
                    MarkAreaData::new()
                        .x_axis(iso(end))
                        .y_axis(bottom.to_string()),
                )
            })
            .collect();
        chart = chart.series(
            Line::new()
                .name(lane.label)
                .item_style(ItemStyle::new().color(lane.color))
                .data(Vec::<DataPoint>::new())
                .mark_area(
                    MarkArea::new()
                        .silent(true)
                        .item_style(ItemStyle::new().color(lane.color).opacity(0.8))
                        .data(areas),
                ),
        );
    }
    chart
}

/// A job's numeric fields, each on a hidden axis fitted to its own values, so a loss near 0.1 and
/// a step count in the thousands both read as curves on the time axis the other charts share (the
/// axis shows when there is one field). The legend hides and shows fields; tooltips give values.
pub fn job_chart(window: TimeWindow, fields: &[LineSeries<'_>]) -> Chart {
    let labelled = fields.len() == 1;
    let mut chart = base(window);
    if fields.is_empty() {
        // ECharts' brush needs an axis to draw on, before the fields arrive too.
        chart = chart.y_axis(Axis::new().type_(AxisType::Value));
    }
    for (axis, field) in fields.iter().enumerate() {
        chart = chart
            .y_axis(
                Axis::new()
                    .type_(AxisType::Value)
                    .scale(true)
                    .show(labelled)
                    .split_line(SplitLine::new().show(labelled)),
            )
            .series(
                line(field.name, field.points, 1.0, window.bucket_ms, "").y_axis_index(axis as f64),
            );
    }
    chart
}

/// Marks moments (XID errors, a job's start and end) as dashed vertical lines named by their
/// label, in `color`.
pub fn with_markers(chart: Chart, name: &str, color: &str, markers: &[(Millis, String)]) -> Chart {
    if markers.is_empty() {
        return chart;
    }
    let lines: Vec<MarkLineVariant> = markers
        .iter()
        .map(|(at, label)| {
            MarkLineVariant::Simple(MarkLineData::new().name(label).x_axis(iso(*at)))
        })
        .collect();
    chart.series(
        Line::new()
            .name(name)
            .item_style(ItemStyle::new().color(color))
            .data(Vec::<DataPoint>::new())
            .mark_line(
                MarkLine::new()
                    .symbol(vec![Symbol::None, Symbol::None])
                    .line_style(LineStyle::new().color(color).type_(LineStyleType::Dashed))
                    .label(Label::new().formatter("{b}"))
                    .data(lines),
            ),
    )
}

/// The unit that reads best for the largest rate shown, and its size in bytes per second.
pub fn rate_unit(max_bytes_per_sec: f64) -> (&'static str, f64) {
    if max_bytes_per_sec >= 1e9 {
        ("GB/s", 1e9)
    } else if max_bytes_per_sec >= 1e6 {
        ("MB/s", 1e6)
    } else {
        ("KB/s", 1e3)
    }
}

/// Rates (disk read and write, or network down and up), scaled to one readable unit.
pub fn rate_chart(window: TimeWindow, series: &[LineSeries<'_>]) -> Chart {
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (unit, scale) = rate_unit(max);
    let mut chart =
        base(window).y_axis(Axis::new().type_(AxisType::Value).min(0).axis_label(
            AxisLabel::new().formatter(Formatter::String(format!("{{value}} {unit}"))),
        ));
    for s in series {
        chart = chart.series(line(s.name, s.points, scale, window.bucket_ms, unit));
    }
    chart
}

/// One bar of the memory chart: used against total.
pub struct MemoryBar {
    pub label: String,
    pub used_bytes: u64,
    pub total_bytes: u64,
}

/// One row of the memory chart as drawn: its label with GiB, and percent used. Rows that read the
/// same are equal, so the chart redraws only when what it shows changes.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryRow {
    pub category: String,
    pub percent: f64,
}

/// The memory chart's rows: used against total in GiB (one decimal) and percent (one decimal).
pub fn memory_rows(bars: &[MemoryBar]) -> Vec<MemoryRow> {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    bars.iter()
        .map(|bar| {
            let percent = if bar.total_bytes == 0 {
                0.0
            } else {
                bar.used_bytes as f64 * 100.0 / bar.total_bytes as f64
            };
            MemoryRow {
                category: format!(
                    "{} {:.1} / {:.1} GiB",
                    bar.label,
                    gib(bar.used_bytes),
                    gib(bar.total_bytes)
                ),
                percent: (percent * 10.0).round() / 10.0,
            }
        })
        .collect()
}

/// RAM, swap and each GPU's memory as horizontal bars of percent used, labelled with GiB.
pub fn memory_chart(rows: &[MemoryRow]) -> Chart {
    let categories: Vec<String> = rows.iter().map(|row| row.category.clone()).collect();
    let percents: Vec<DataPoint> = rows
        .iter()
        .map(|row| DataPoint::from(row.percent))
        .collect();
    Chart::new()
        .background_color("transparent")
        .animation(false)
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Item)
                .formatter("{b}: {c} %"),
        )
        .grid(
            Grid::new()
                .left(8)
                .right(48)
                .top(8)
                .bottom(8)
                .contain_label(true),
        )
        .x_axis(percent_axis())
        .y_axis(
            Axis::new()
                .type_(AxisType::Category)
                .inverse(true)
                .data(categories),
        )
        .series(
            Bar::new().name("used").data(percents).label(
                Label::new()
                    .show(true)
                    .position(LabelPosition::Right)
                    .formatter("{c} %"),
            ),
        )
}

/// Every core's utilization in whole percent, as the per-core chart draws it: a bar cannot show
/// finer, and cores that read the same leave the chart alone.
pub fn core_percents(per_core_percent: &[f32]) -> Vec<f64> {
    per_core_percent
        .iter()
        .map(|&p| (p as f64).round().clamp(0.0, 100.0))
        .collect()
}

/// Every core's current utilization as a bar: readable from 2 to 128 cores.
pub fn per_core_chart(percents: &[f64]) -> Chart {
    let names: Vec<String> = (0..percents.len()).map(|i| i.to_string()).collect();
    let values: Vec<DataPoint> = percents.iter().map(|&p| DataPoint::from(p)).collect();
    Chart::new()
        .background_color("transparent")
        .animation(false)
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Item)
                .formatter("core {b}: {c} %"),
        )
        .grid(Grid::new().left(40).right(8).top(8).bottom(24))
        .x_axis(Axis::new().type_(AxisType::Category).data(names))
        .y_axis(percent_axis())
        .series(Bar::new().name("core").data(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn json(chart: &Chart) -> Value {
        serde_json::to_value(chart).unwrap()
    }

    fn window(end_ms: Millis, range_ms: Millis) -> TimeWindow {
        TimeWindow {
            start_ms: end_ms - range_ms,
            end_ms,
            bucket_ms: 1_000,
        }
    }

    #[test]
    fn a_jobs_fields_each_fill_the_chart_on_an_axis_of_their_own() {
        let loss = [(1000, 0.00123), (2000, 0.00098)];
        let step = [(1000, 100.0), (2000, 200.0)];
        let two = json(&job_chart(
            window(2000, 10_000),
            &[
                LineSeries {
                    name: "loss",
                    points: &loss,
                },
                LineSeries {
                    name: "step",
                    points: &step,
                },
            ],
        ));
        assert_eq!(two["yAxis"].as_array().unwrap().len(), 2);
        assert_eq!(two["yAxis"][0]["scale"], true);
        assert_eq!(
            two["yAxis"][1]["show"], false,
            "two fields: no axis reads for both"
        );
        assert_eq!(two["series"][1]["yAxisIndex"], 1.0);
        assert_eq!(
            two["series"][0]["data"][0][1], 0.00123,
            "a small value is not rounded away"
        );
        let one = json(&job_chart(
            window(2000, 10_000),
            &[LineSeries {
                name: "loss",
                points: &loss,
            }],
        ));
        // charming writes a lone axis as an object.
        assert_eq!(one["yAxis"]["show"], true, "{one}");
    }

    #[test]
    fn a_stretch_without_data_is_drawn_as_a_gap() {
        // One point a second, then nothing for a minute, then again.
        let points: Vec<(Millis, f64)> = (0..10).chain(70..80).map(|s| (s * 1_000, 5.0)).collect();
        let v = json(&utilization_chart(
            window(80_000, 120_000),
            &[LineSeries {
                name: "CPU %",
                points: &points,
            }],
            &[],
            None,
        ));
        let data = v["series"][0]["data"].as_array().unwrap();
        assert_eq!(data.len(), 21, "20 points and one break");
        assert_eq!(
            data[10],
            json!([39_500.0, "-"]),
            "the break sits in the gap"
        );
        assert!(data.iter().filter(|p| p[1] == "-").count() == 1);

        // Sparse samples (every 10 s, drawn at 1 s) are not gaps; a missed one is not either.
        let sparse: Vec<(Millis, f64)> = [0, 10, 20, 40, 50].map(|s| (s * 1_000, 1.0)).to_vec();
        let v = json(&rate_chart(
            window(50_000, 60_000),
            &[LineSeries {
                name: "Disk read",
                points: &sparse,
            }],
        ));
        assert_eq!(v["series"][0]["data"].as_array().unwrap().len(), 5);
    }

    /// The CPU card's chart over the last minute to 2 s.
    fn cpu_chart(usage: &[(Millis, f64)], temperature: &[(Millis, f64)]) -> Value {
        json(&utilization_chart(
            window(2_000, 60_000),
            &[LineSeries {
                name: "CPU %",
                points: usage,
            }],
            &[LineSeries {
                name: "Temperature °C",
                points: temperature,
            }],
            None,
        ))
    }

    #[test]
    fn utilization_has_two_axes_and_temperature_on_the_right() {
        // As the store holds it: an f32 reading widened to f64.
        let usage = [(1_000, 12.3_f32 as f64), (2_000, 50.0)];
        let temp = [(1_000, 40.0), (2_000, 42.0)];
        let v = cpu_chart(&usage, &temp);
        assert_eq!(v["animation"], false);
        assert_eq!(v["xAxis"]["type"], "time");
        assert_eq!(
            v["xAxis"]["min"], -58_000.0,
            "the axis spans the selected range"
        );
        assert_eq!(v["xAxis"]["max"], 2_000.0);
        assert_eq!(v["yAxis"][0]["max"], 100);
        assert_eq!(v["yAxis"][1]["max"], 125);
        assert_eq!(v["legend"]["type"], "scroll");
        assert_eq!(v["yAxis"][0]["axisLabel"]["formatter"], "{value} %");
        assert_eq!(v["yAxis"][1]["axisLabel"]["formatter"], "{value} °C");
        assert_eq!(v["series"][0]["name"], "CPU %");
        assert_eq!(
            v["series"][0]["data"],
            json!([[1000.0, 12.3], [2000.0, 50.0]])
        );
        assert!(v["series"][0].get("yAxisIndex").is_none());
        assert_eq!(v["series"][1]["yAxisIndex"], 1.0);
        assert_eq!(v["series"][1]["showSymbol"], false);
        assert_eq!(v["series"][0]["tooltip"]["valueFormatter"], "{value} %");
        assert_eq!(v["series"][1]["tooltip"]["valueFormatter"], "{value} °C");
    }

    #[test]
    fn no_temperature_axis_without_a_temperature_to_draw() {
        let usage = [(1_000, 12.0)];
        let v = cpu_chart(&usage, &[]);
        assert!(v["yAxis"].is_object(), "one axis: {}", v["yAxis"]);
        assert_eq!(v["series"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn power_rides_a_hidden_axis_up_to_the_limit() {
        let temp = [(1_000, 60.0)];
        let temperature = [LineSeries {
            name: "Temperature °C",
            points: &temp,
        }];
        let power = || {
            Some(PowerLine {
                points: &[(1_000, 300.0)],
                limit_watts: 700.0,
            })
        };
        let v = json(&utilization_chart(
            window(1_000, 60_000),
            &[],
            &temperature,
            power(),
        ));
        assert_eq!(v["yAxis"][2]["show"], false);
        assert_eq!(v["yAxis"][2]["max"], 700.0);
        assert_eq!(v["series"][1]["name"], "Power");
        assert_eq!(v["series"][1]["yAxisIndex"], 2.0);
        assert_eq!(v["series"][1]["data"], json!([[1000.0, 300.0]]));
        assert_eq!(
            v["series"][1]["tooltip"]["valueFormatter"],
            "{value} W / 700 W"
        );
        // Without a temperature, power takes the second axis.
        let v = json(&utilization_chart(window(1_000, 60_000), &[], &[], power()));
        assert_eq!(v["yAxis"][1]["max"], 700.0);
        assert_eq!(v["series"][0]["yAxisIndex"], 1.0);
    }

    #[test]
    fn alert_spans_are_shaded_in_iso_time() {
        let chart = with_alert_spans(
            utilization_chart(window(1_000, 60_000), &[], &[], None),
            &[(1_767_225_600_000, 1_767_225_660_500)],
        );
        let v = json(&chart);
        let area = &v["series"][0]["markArea"]["data"][0];
        assert_eq!(area[0]["xAxis"], "2026-01-01T00:00:00.000Z");
        assert_eq!(area[1]["xAxis"], "2026-01-01T00:01:00.500Z");
        assert_eq!(v["series"][0]["name"], "Alerts");
        let none = json(&with_alert_spans(
            utilization_chart(window(1_000, 60_000), &[], &[], None),
            &[],
        ));
        assert!(none["series"].as_array().is_none_or(|s| s.is_empty()));
    }

    #[test]
    fn io_rates_pick_a_readable_unit() {
        assert_eq!(rate_unit(500.0), ("KB/s", 1e3));
        assert_eq!(rate_unit(12e6), ("MB/s", 1e6));
        assert_eq!(rate_unit(3e9), ("GB/s", 1e9));
        let read = [(0, 2_000_000.0), (1_000, 4_004_567.0)];
        let v = json(&rate_chart(
            window(1_000, 60_000),
            &[LineSeries {
                name: "Read",
                points: &read,
            }],
        ));
        assert_eq!(v["yAxis"]["axisLabel"]["formatter"], "{value} MB/s");
        assert_eq!(v["series"][0]["name"], "Read");
        assert_eq!(v["series"][0]["tooltip"]["valueFormatter"], "{value} MB/s");
        assert_eq!(
            v["series"][0]["data"],
            json!([[0.0, 2.0], [1000.0, 4.0]]),
            "tooltips read two decimals in the chart's unit"
        );
    }

    #[test]
    fn memory_bars_show_percent_and_gib() {
        let v = json(&memory_chart(&memory_rows(&[
            MemoryBar {
                label: "RAM".into(),
                used_bytes: 6 << 30,
                total_bytes: 24 << 30,
            },
            MemoryBar {
                label: "Swap".into(),
                used_bytes: 0,
                total_bytes: 0,
            },
        ])));
        assert_eq!(
            v["yAxis"]["data"],
            json!(["RAM 6.0 / 24.0 GiB", "Swap 0.0 / 0.0 GiB"])
        );
        assert_eq!(v["series"][0]["data"], json!([25.0, 0.0]));
        assert_eq!(v["series"][0]["label"]["formatter"], "{c} %");
        let ram = |used_bytes| {
            memory_rows(&[MemoryBar {
                label: "RAM".into(),
                used_bytes,
                total_bytes: 24 << 30,
            }])
        };
        assert_eq!(
            ram(6 << 30),
            ram((6 << 30) + 1_000_000),
            "a megabyte more reads the same"
        );
        assert_ne!(ram(6 << 30), ram(7 << 30));
    }

    #[test]
    fn per_core_has_one_bar_per_core() {
        let v = json(&per_core_chart(&core_percents(&[1.0, 99.94, 50.4])));
        assert_eq!(v["xAxis"]["data"], json!(["0", "1", "2"]));
        assert_eq!(v["series"][0]["data"], json!([1.0, 100.0, 50.0]));
        assert_eq!(
            core_percents(&[0.4, 0.3, 100.2]),
            [0.0, 0.0, 100.0],
            "readings that draw the same compare equal"
        );
    }
}
