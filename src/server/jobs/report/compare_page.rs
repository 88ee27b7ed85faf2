//! `/jobs/compare?a=…&b=…`: two runs on one axis of seconds from their starts — each field they
//! sent, then their GPUs' mean utilization and total power beneath — with what sets them apart
//! and their reports side by side, the worse figure of each pair marked.

use crate::server::history::query::RangeRequest;
use crate::server::http::error::HttpError;
use crate::server::http::server_page;
use crate::server::jobs::Jobs;
use crate::server::jobs::fields::metrics_between;
use crate::server::jobs::report::page::{Measure, measures, span_href};
use crate::server::jobs::report::svg_chart::{Line, chart};
use crate::server::runtime::turns::in_turn;
use crate::wire::series::{gpu_metric, gpu_series};
use crate::wire::{JobComparison, JobReport};
use chrono::Utc;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Points per line: enough for a page's width.
const POINTS: usize = 200;
/// Two figures closer than this share of the larger are not marked.
const MARK_STEP: f64 = 0.03;

/// A line's points: seconds since the run's start, and the value then.
type Points = Vec<(f64, f64)>;

/// One run's lines, in seconds from its start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunLines {
    pub fields: BTreeMap<String, Points>,
    pub utilization: Points,
    pub power: Points,
}

/// Both runs' lines, read on a blocking thread in turn with the other history reads.
pub async fn lines_of(
    jobs: &Jobs,
    a: &JobReport,
    b: &JobReport,
) -> Result<[RunLines; 2], HttpError> {
    let Some(db) = jobs.durable.db.clone() else {
        return Ok(Default::default());
    };
    let (jobs_for_work, runs) = (jobs.clone(), [a.clone(), b.clone()]);
    let interval_ms = jobs.report_settings.interval_ms;
    let work = move || {
        let now = Utc::now().timestamp_millis();
        let mut both: [RunLines; 2] = Default::default();
        for (lines, run) in both.iter_mut().zip(&runs) {
            let (from, to) = (run.from_ms, run.to_ms.max(run.from_ms + 1));
            let seconds = |t: f64| (t - from as f64) / 1000.0;
            let sent = metrics_between(&jobs_for_work, &run.channel, from, to)?;
            let bucket = ((to - from) as f64 / POINTS as f64).max(1.0);
            let mut fields: BTreeMap<String, BTreeMap<i64, (f64, u32)>> = BTreeMap::new();
            for (t, data) in &sent {
                for (name, value) in data.as_object().into_iter().flatten() {
                    if let Some(v) = value.as_f64().filter(|v| v.is_finite()) {
                        let at = ((t - from) as f64 / bucket) as i64;
                        let slot = fields
                            .entry(name.clone())
                            .or_default()
                            .entry(at)
                            .or_default();
                        (slot.0, slot.1) = (slot.0 + v, slot.1 + 1);
                    }
                }
            }
            lines.fields = fields
                .into_iter()
                .map(|(name, buckets)| {
                    let points = buckets
                        .into_iter()
                        .map(|(at, (sum, n))| (at as f64 * bucket / 1000.0, sum / f64::from(n)))
                        .collect();
                    (name, points)
                })
                .collect();
            let wanted: Vec<String> = run
                .gpus
                .iter()
                .flat_map(|g| {
                    [gpu_metric::UTILIZATION, gpu_metric::POWER].map(|m| gpu_series(&g.uuid, m))
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let request = RangeRequest {
                from_ms: from,
                to_ms: to,
                points: POINTS,
                series: &wanted,
            };
            let range = db
                .range(&request, interval_ms, now)
                .map_err(|e| HttpError::Internal(e.to_string()))?;
            let mut utilization: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
            let mut power: BTreeMap<i64, f64> = BTreeMap::new();
            for (name, buckets) in &range.series {
                for [start, _, mean, _] in buckets {
                    let at = *start as i64;
                    if name.ends_with(&format!("/{}", gpu_metric::UTILIZATION)) {
                        let slot = utilization.entry(at).or_default();
                        (slot.0, slot.1) = (slot.0 + mean, slot.1 + 1);
                    } else {
                        *power.entry(at).or_default() += mean;
                    }
                }
            }
            lines.utilization = utilization
                .into_iter()
                .map(|(t, (sum, n))| (seconds(t as f64).max(0.0), sum / f64::from(n)))
                .collect();
            lines.power = power
                .into_iter()
                .map(|(t, watts)| (seconds(t as f64).max(0.0), watts))
                .collect();
        }
        Ok::<_, HttpError>(both)
    };
    in_turn(&jobs.history_reads, work)
        .await
        .map_err(|e| HttpError::Internal(format!("the comparison failed: {e}")))?
}

fn name_of(report: &JobReport) -> String {
    report
        .name
        .clone()
        .unwrap_or_else(|| report.channel.clone())
}

/// Which of two figures is worse, if they differ enough: 'a', 'b' or neither.
fn worse(a: Option<(f64, bool)>, b: Option<(f64, bool)>) -> Option<char> {
    let ((va, more_is_worse), (vb, _)) = (a?, b?);
    let larger = va.abs().max(vb.abs());
    if larger == 0.0 || (va - vb).abs() / larger < MARK_STEP {
        return None;
    }
    Some(if (va > vb) == more_is_worse { 'a' } else { 'b' })
}

fn side_by_side(a: &JobReport, b: &JobReport) -> impl IntoView + use<> {
    let (ma, mb) = (measures(a), measures(b));
    let mut labels: Vec<String> = ma.iter().map(|m| m.label.clone()).collect();
    for m in &mb {
        if !labels.contains(&m.label) {
            labels.push(m.label.clone());
        }
    }
    let find = |list: &[Measure], label: &str| {
        list.iter()
            .find(|m| m.label == label)
            .map(|m| (m.text.clone(), m.compared))
    };
    let rows = labels
        .into_iter()
        .map(|label| {
            let (ta, ca) = find(&ma, &label).unwrap_or(("–".into(), None));
            let (tb, cb) = find(&mb, &label).unwrap_or(("–".into(), None));
            let marked = worse(ca, cb);
            let class = |run: char| (marked == Some(run)).then_some("worse");
            let shown = label.clone();
            view! {
                <tr data-testid="compare-row" data-label=shown>
                    <th scope="row">{label}</th>
                    <td class=class('a')>{ta}</td>
                    <td class=class('b')>{tb}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="report-scroll">
            <table class="report-table compare-table" data-testid="compare-table">
                <tr>
                    <th scope="col"></th>
                    <th scope="col"><a href=format!("/jobs/report?channel={}", a.channel)>{format!("A · {}", name_of(a))}</a></th>
                    <th scope="col"><a href=format!("/jobs/report?channel={}", b.channel)>{format!("B · {}", name_of(b))}</a></th>
                </tr>
                {rows}
            </table>
        </div>
    }
}

fn charts(compared: &JobComparison, lines: &[RunLines; 2]) -> impl IntoView + use<> {
    let x_max = compared
        .a
        .duration_seconds
        .max(compared.b.duration_seconds)
        .max(1.0);
    let names = [
        format!("A · {}", name_of(&compared.a)),
        format!("B · {}", name_of(&compared.b)),
    ];
    let pair = |pick: &dyn Fn(&RunLines) -> Option<&Points>| -> Vec<(usize, Points)> {
        lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| pick(l).map(|p| (i, p.clone())))
            .collect()
    };
    let draw = |title: String, id: String, runs: Vec<(usize, Points)>| {
        let drawn: Vec<Line> = runs
            .iter()
            .map(|(i, points)| Line {
                class: if *i == 0 { "run-a" } else { "run-b" },
                name: names[*i].clone(),
                points,
            })
            .collect();
        chart(&title, &id, x_max, &drawn)
    };
    let mut field_names: Vec<&String> = lines.iter().flat_map(|l| l.fields.keys()).collect();
    field_names.sort();
    field_names.dedup();
    let fields = field_names
        .into_iter()
        .map(|name| {
            let runs = pair(&|l: &RunLines| l.fields.get(name));
            draw(name.clone(), format!("compare-field-{name}"), runs)
        })
        .collect_view();
    let utilization = draw(
        "GPU utilization (mean of its GPUs, %)".into(),
        "compare-utilization".into(),
        pair(&|l: &RunLines| Some(&l.utilization)),
    );
    let power = draw(
        "GPU power (all its GPUs, W)".into(),
        "compare-power".into(),
        pair(&|l: &RunLines| Some(&l.power)),
    );
    view! { <section class="compare-charts">{fields}{utilization}{power}</section> }
}

/// The page, or why there is none.
pub fn render(answer: &Result<(JobComparison, [RunLines; 2]), String>) -> String {
    let body = match answer {
        Ok((compared, lines)) => {
            let differences = if compared.differences.is_empty() {
                view! { <li>"No difference worth naming: same pace, same holdbacks."</li> }.into_any()
            } else {
                compared
                    .differences
                    .iter()
                    .map(|d| view! { <li>{d.clone()}</li> })
                    .collect_view()
                    .into_any()
            };
            let spans = [&compared.a, &compared.b].map(|r| {
                view! { <a href=span_href(r.from_ms, r.to_ms)>{format!("{} on the dashboard", name_of(r))}</a> }
            });
            view! {
                <header class="fleet-header">
                    <h1>"Two runs compared"</h1>
                    <nav class="report-links">{spans}<a href="/">"This machine's dashboard"</a></nav>
                </header>
                <ul class="compare-differences" data-testid="compare-differences">{differences}</ul>
                {charts(compared, lines)}
                {side_by_side(&compared.a, &compared.b)}
            }
            .into_any()
        }
        Err(problem) => view! {
            <header class="fleet-header"><h1>"Two runs compared"</h1><a href="/">"This machine's dashboard"</a></header>
            <p class="card usage-problem" role="alert" data-testid="report-problem">{problem.clone()}</p>
        }
        .into_any(),
    };
    server_page::document(
        "Two runs compared · Vitals",
        "fleet-page report-page",
        None,
        move || body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worse_of_two_figures_is_the_one_more_of_which_is_worse() {
        assert_eq!(worse(Some((10.0, true)), Some((20.0, true))), Some('b'));
        assert_eq!(worse(Some((10.0, false)), Some((20.0, false))), Some('a'));
        assert_eq!(
            worse(Some((10.0, true)), Some((10.1, true))),
            None,
            "too close"
        );
        assert_eq!(worse(None, Some((1.0, true))), None);
    }
}
