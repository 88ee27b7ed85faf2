//! The printable report page (`/jobs/report`, drawn whole on the server, to attach to a paper's
//! appendix or a ticket) and the Jobs card's panel (`/jobs/report/panel`, HTML the card puts in
//! place, so the dashboard's WASM carries none of it). Both read the same measures.

use crate::server::http::server_page;
use crate::server::jobs::report::summary::{gpu_label, kwh, reason_label, sm_mean};
use crate::shared::format;
use crate::wire::{GpuRun, JobReport};
use leptos::prelude::*;
use std::sync::Arc;

/// One line of the run table: its label, its value in words, and the number two runs are
/// compared by with whether more of it is worse (None: not compared).
pub struct Measure {
    pub label: String,
    pub text: String,
    pub compared: Option<(f64, bool)>,
}

fn measure(label: impl Into<String>, text: String, compared: Option<(f64, bool)>) -> Measure {
    Measure {
        label: label.into(),
        text,
        compared,
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or("–".into(), |v| format!("{} %", v.round()))
}

fn duration(seconds: f64) -> String {
    format::hours_minutes(seconds.max(0.0) as u64)
}

/// The run as a list of measures, the same on the page, the panel and side by side.
pub fn measures(report: &JobReport) -> Vec<Measure> {
    let mut list = vec![
        measure(
            "Duration",
            duration(report.duration_seconds),
            Some((report.duration_seconds, true)),
        ),
        measure("GPUs", report.gpus.len().to_string(), None),
        measure(
            "Energy",
            kwh(report.energy_kwh),
            Some((report.energy_kwh, true)),
        ),
        measure(
            "Mean SM use",
            percent(sm_mean(report)),
            sm_mean(report).map(|v| (v, false)),
        ),
    ];
    if let (Some(rate), Some(counter)) = (report.steps_per_second, &report.counter) {
        list.push(measure(
            format!("{counter} per second"),
            format::reading(rate),
            Some((rate, false)),
        ));
    }
    if let Some(cost) = report.cost {
        let currency = report.currency.clone().unwrap_or_default();
        list.push(measure(
            "Cost",
            format!("{cost:.2} {currency}"),
            Some((cost, true)),
        ));
    }
    if let Some(grams) = report.co2_grams {
        list.push(measure(
            "CO₂",
            format!("{} g", format::reading(grams)),
            Some((grams, true)),
        ));
    }
    for (reason, seconds) in &report.throttled_seconds {
        list.push(measure(
            format!("Held by {}", reason_label(reason)),
            duration(*seconds),
            Some((*seconds / report.duration_seconds.max(1e-9), true)),
        ));
    }
    let xid: u64 = report.gpus.iter().map(|g| g.xid_errors).sum();
    list.push(measure(
        "XID errors",
        xid.to_string(),
        Some((xid as f64, true)),
    ));
    let host = &report.host;
    list.push(measure(
        "Host CPU saturated",
        duration(host.cpu_saturated_seconds),
        Some((
            host.cpu_saturated_seconds / report.duration_seconds.max(1e-9),
            true,
        )),
    ));
    list.push(measure(
        "Swap grew by",
        format::gib(host.swap_grew_bytes as u64),
        Some((host.swap_grew_bytes, true)),
    ));
    list
}

fn gib(bytes: Option<f64>) -> String {
    bytes.map_or("–".into(), |b| format::gib(b as u64))
}

fn gpu_row(gpu: &GpuRun) -> impl IntoView + use<> {
    let throttled = if gpu.throttled_seconds.is_empty() {
        "none".to_owned()
    } else {
        gpu.throttled_seconds
            .iter()
            .map(|(reason, s)| format!("{} {}", reason_label(reason), duration(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let gpm = match (gpu.tensor_mean_percent, gpu.dram_mean_percent) {
        (None, None) => "–".to_owned(),
        (tensor, dram) => format!("{} · {}", percent(tensor), percent(dram)),
    };
    let errors = format!(
        "XID {} · ECC {}/{}{}",
        gpu.xid_errors,
        gpu.ecc_corrected,
        gpu.ecc_uncorrected,
        if gpu.pcie_narrow_seconds > 0.0 {
            format!(" · PCIe narrow {}", duration(gpu.pcie_narrow_seconds))
        } else {
            String::new()
        }
    );
    view! {
        <tr data-testid="report-gpu" data-uuid=gpu.uuid.clone()>
            <th scope="row" title=gpu.uuid.clone()>{gpu_label(gpu)}{gpu.name.clone().map(|n| format!(" · {n}"))}</th>
            <td>{format!("{} / {} / {}", duration(gpu.busy_seconds), duration(gpu.idle_held_seconds), duration(gpu.idle_seconds))}</td>
            <td class="num">{format!("{} / {}", percent(gpu.sm_mean_percent), percent(gpu.sm_p95_percent))}</td>
            <td class="num">{format!("{} / {}", gib(gpu.memory_peak_bytes), gib(gpu.memory_mean_bytes))}</td>
            <td class="num">{gpm}</td>
            <td class="num">{gpu.power_mean_watts.map_or("–".into(), |w| format!("{w:.0} W"))}</td>
            <td class="num" data-testid="report-gpu-energy">{kwh(gpu.energy_kwh)}</td>
            <td>{throttled}</td>
            <td>{errors}</td>
        </tr>
    }
}

/// The dashboard link that opens every chart on a span.
pub fn span_href(from_ms: i64, to_ms: i64) -> String {
    format!("/?from={from_ms}&to={to_ms}")
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// The whole report: what the page and the comparison draw of each run.
pub fn body(report: &JobReport) -> impl IntoView + use<> {
    let measures = measures(report)
        .into_iter()
        .map(|m| view! { <tr><th scope="row">{m.label}</th><td>{m.text}</td></tr> })
        .collect_view();
    let missing = (!report.missing.is_empty()).then(|| {
        let items = report
            .missing
            .iter()
            .map(|m| view! { <li>{m.clone()}</li> })
            .collect_view();
        view! { <ul class="report-missing" role="note" data-testid="report-missing">{items}</ul> }
    });
    let gaps = (!report.gaps.is_empty()).then(|| {
        let items = report
            .gaps
            .iter()
            .map(|gap| {
                let text = format!(
                    "{} – {} ({})",
                    utc(gap.from_ms),
                    utc(gap.to_ms),
                    duration((gap.to_ms - gap.from_ms) as f64 / 1000.0)
                );
                view! { <li><a href=span_href(gap.from_ms, gap.to_ms) data-testid="report-gap">{text}</a></li> }
            })
            .collect_view();
        view! { <h3>"No history saved"</h3><ul>{items}</ul> }
    });
    let fields = report
        .fields
        .iter()
        .map(|(name, f)| {
            view! {
                <tr data-testid="report-field" data-field=name.clone()>
                    <th scope="row">{name.clone()}</th>
                    <td class="num">{format::reading(f.first)}</td>
                    <td class="num">{format::reading(f.last)}</td>
                    <td class="num">{format::reading(f.min)}</td>
                    <td class="num">{format::reading(f.max)}</td>
                    <td class="num">{f.count}</td>
                    <td class="num">{f.rate_per_second.map_or("–".into(), |r| format!("{}/s", format::reading(r)))}</td>
                </tr>
            }
        })
        .collect_view();
    let gpus = report.gpus.iter().map(gpu_row).collect_view();
    let owner = report.owner.as_ref().map(|o| {
        let place = if o.owner.is_empty() {
            String::new()
        } else {
            format!(" in {}", o.owner)
        };
        format!("{}{place}", o.user)
    });
    let ended = if report.through_ms.is_some()
        && matches!(
            report.status,
            crate::wire::JobStatus::Running | crate::wire::JobStatus::Stalled
        ) {
        "running".to_owned()
    } else {
        utc(report.to_ms)
    };
    view! {
        <p class="report-summary" data-testid="report-summary">{report.summary.clone()}</p>
        {missing}
        <div class="report-scroll">
            <table class="report-table" data-testid="report-run">
                <tr><th scope="row">"Started"</th><td>{utc(report.from_ms)}</td></tr>
                <tr><th scope="row">"Ended"</th><td>{ended}</td></tr>
                {owner.map(|o| view! { <tr><th scope="row">"Run by"</th><td data-testid="report-owner">{o}</td></tr> })}
                {measures}
                <tr><th scope="row">"Read from"</th><td>{report.resolution.clone()}</td></tr>
            </table>
        </div>
        <h3>"GPUs"</h3>
        <div class="report-scroll">
            <table class="report-table report-gpus">
                <tr>
                    <th scope="col">"GPU"</th><th scope="col">"Busy / idle-held / idle"</th>
                    <th scope="col">"SM mean / p95"</th><th scope="col">"Memory peak / mean"</th>
                    <th scope="col">"Tensor · DRAM"</th><th scope="col">"Power"</th>
                    <th scope="col">"Energy"</th><th scope="col">"Held back"</th><th scope="col">"Errors"</th>
                </tr>
                {gpus}
            </table>
        </div>
        <h3>"Fields"</h3>
        <div class="report-scroll">
            <table class="report-table report-fields">
                <tr>
                    <th scope="col">"Field"</th><th scope="col">"First"</th><th scope="col">"Last"</th>
                    <th scope="col">"Min"</th><th scope="col">"Max"</th><th scope="col">"Sent"</th><th scope="col">"Rate"</th>
                </tr>
                {fields}
            </table>
        </div>
        {gaps}
    }
}

/// `/jobs/report`: the printable page, or why there is none.
pub fn render(answer: &Result<Arc<JobReport>, String>) -> String {
    let body = match answer {
        Ok(report) => {
            let name = report.name.clone().unwrap_or_else(|| report.channel.clone());
            let json = format!("/api/system/jobs/report?channel={}", report.channel);
            let links = view! {
                <nav class="report-links">
                    <a href=span_href(report.from_ms, report.to_ms) data-testid="report-span">"Open on the dashboard's charts"</a>
                    <a href=json>"JSON"</a>
                    <a href="/">"This machine's dashboard"</a>
                </nav>
            };
            let body = body(report);
            view! { <header class="fleet-header"><h1>{format!("Run report · {name}")}</h1>{links}</header>{body} }.into_any()
        }
        Err(problem) => view! {
            <header class="fleet-header"><h1>"Run report"</h1><a href="/">"This machine's dashboard"</a></header>
            <p class="card usage-problem" role="alert" data-testid="report-problem">{problem.clone()}</p>
        }
        .into_any(),
    };
    server_page::document(
        "Run report · Vitals",
        "fleet-page report-page",
        None,
        move || body,
    )
}

/// `/jobs/report/panel`: the summary, the figures, links to the spans and the page, and a pick
/// of another job to compare with.
pub fn panel(answer: &Result<Arc<JobReport>, String>, jobs: &[(String, String)]) -> String {
    Owner::new().with(|| match answer {
        Ok(report) => {
            // A channel is lowercase words, digits, `_`, `-` and `/` (checked when it was
            // emitted): a query carries it as it is.
            let channel = report.channel.clone();
            let others = jobs
                .iter()
                .filter(|(c, _)| *c != report.channel)
                .map(|(c, name)| view! { <option value=c.clone()>{name.clone()}</option> })
                .collect_view();
            let compare = (jobs.len() > 1).then(|| {
                view! {
                    <form class="report-compare" action="/jobs/compare" method="get" data-testid="report-compare">
                        <input type="hidden" name="a" value=report.channel.clone() />
                        <label>"Compare with "<select name="b" data-testid="report-compare-with">{others}</select></label>
                        <button type="submit">"Compare"</button>
                    </form>
                }
            });
            let measures = measures(report)
                .into_iter()
                .map(|m| view! { <div><dt>{m.label}</dt><dd>{m.text}</dd></div> })
                .collect_view();
            let missing = report
                .missing
                .iter()
                .map(|m| view! { <li>{m.clone()}</li> })
                .collect_view();
            view! {
                <p class="report-summary" data-testid="report-summary">{report.summary.clone()}</p>
                <ul class="report-missing" role="note">{missing}</ul>
                <dl class="report-measures">{measures}</dl>
                <nav class="report-links">
                    <a href=span_href(report.from_ms, report.to_ms) data-testid="report-span">"Zoom the charts on this run"</a>
                    <a href=format!("/jobs/report?channel={channel}") data-testid="report-page-link">"Printable report"</a>
                    <a href=format!("/api/system/jobs/report?channel={channel}")>"JSON"</a>
                </nav>
                {compare}
            }
            .to_html()
        }
        Err(problem) => view! { <p class="report-problem" role="alert" data-testid="report-problem">{problem.clone()}</p> }.to_html(),
    })
}
