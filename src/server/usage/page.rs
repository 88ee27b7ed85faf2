//! `/usage`: who used the GPUs over the last day, week or month, one server-rendered table (no
//! WASM, so the dashboard's module does not carry it). The range and grouping are links; each
//! person's row links to the GPUs' saved history over the span they held them.

use crate::server::http::server_page;
use crate::server::usage::report::NO_JOB;
use crate::wire::{UsageGrouping, UsageReport, UsageRow};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The ranges the page offers, as `range=` writes them, in days.
pub const RANGES: [(&str, i64); 3] = [("24h", 1), ("7d", 7), ("30d", 30)];

const GROUPINGS: [(UsageGrouping, &str); 4] = [
    (UsageGrouping::User, "People"),
    (UsageGrouping::Owner, "Units and containers"),
    (UsageGrouping::Job, "Jobs"),
    (UsageGrouping::Gpu, "GPUs"),
];

pub fn render(
    answer: &Result<UsageReport, String>,
    range: &str,
    by: UsageGrouping,
    now: DateTime<Utc>,
) -> String {
    let body = match answer {
        Ok(report) => table(report, now).into_any(),
        Err(problem) => view! {
            <p class="card usage-problem" role="alert" data-testid="usage-problem">{problem.clone()}</p>
        }
        .into_any(),
    };
    let ranges = RANGES
        .iter()
        .map(|(name, _)| {
            let href = format!("/usage?range={name}&by={}", by.name());
            let current = (*name == range).then_some("page");
            view! { <a href=href aria-current=current data-testid=format!("usage-range-{name}")>{*name}</a> }
        })
        .collect_view();
    let groupings = GROUPINGS
        .iter()
        .map(|(grouping, title)| {
            let href = format!("/usage?range={range}&by={}", grouping.name());
            let current = (*grouping == by).then_some("page");
            view! { <a href=href aria-current=current>{*title}</a> }
        })
        .collect_view();
    server_page::document(
        "GPU usage · Vitals",
        "fleet-page usage-page",
        None,
        move || {
            view! {
            <header class="fleet-header">
                <h1>"GPU usage"</h1>
                <nav class="usage-ranges" aria-label="Range" data-testid="usage-ranges">{ranges}</nav>
                <nav class="usage-ranges" aria-label="Group by">{groupings}</nav>
                <a href="/">"This machine's dashboard"</a>
            </header>
            {body}
            <p class="usage-note">
                "Held: GPU-hours with memory held (a shared GPU split by the memory each holds). Used: each process's own SM share where the driver reports per-process samples, else the GPU's utilization split the same way. Idle-held: held while the GPU sat idle. Also as "
                <a href=format!("/api/system/usage?range={range}&by={}&format=csv", by.name())>"CSV"</a>
                " and "
                <a href=format!("/api/system/usage?range={range}&by={}", by.name())>"JSON"</a>
                "."
            </p>
        }
        .into_any()
        },
    )
}

fn table(report: &UsageReport, now: DateTime<Utc>) -> impl IntoView {
    if report.rows.is_empty() {
        return view! {
            <p class="card usage-empty" data-testid="usage-empty">
                "No GPU was held in this range."
            </p>
        }
        .into_any();
    }
    let rows = report
        .rows
        .iter()
        .map(|row| usage_row(row, now))
        .collect_view();
    view! {
        <div class="card fleet-card usage-card" role="table" aria-label="GPU usage" data-testid="usage-table">
            <div class="usage-row fleet-head" role="row">
                <div role="columnheader">{GROUPINGS.iter().find(|(g, _)| *g == report.by).map(|(_, t)| *t)}</div>
                <div role="columnheader">"GPU-hours held"</div>
                <div role="columnheader">"GPU-hours used"</div>
                <div role="columnheader">"Efficiency"</div>
                <div role="columnheader">"Idle-held hours"</div>
                <div role="columnheader">"Energy"</div>
                <div role="columnheader">"Where and which jobs"</div>
                <div role="columnheader">"When"</div>
            </div>
            <div role="rowgroup">{rows}</div>
        </div>
    }
    .into_any()
}

fn usage_row(row: &UsageRow, now: DateTime<Utc>) -> impl IntoView {
    let hours = |h: f64| format!("{h:.2}");
    let efficiency = row
        .efficiency_percent
        .map_or("–".to_owned(), |e| format!("{e:.0} %"));
    let energy = if row.energy_wh >= 1000.0 {
        format!("{:.2} kWh", row.energy_wh / 1000.0)
    } else {
        format!("{:.0} Wh", row.energy_wh)
    };
    let mut places: Vec<String> = row.top_owners.clone();
    places.extend(
        row.top_jobs
            .iter()
            .filter(|j| j.as_str() != NO_JOB)
            .map(|job| format!("job {}", job.strip_prefix("jobs/").unwrap_or(job))),
    );
    let places = places.join(" · ");
    // The span they held GPUs: the dashboard opens its charts on it.
    let when = match (row.first_held, row.last_held) {
        (Some(first), Some(last)) => {
            let to = (last + chrono::TimeDelta::minutes(1)).min(now);
            let href = format!(
                "/?from={}&to={}",
                first.timestamp_millis(),
                to.timestamp_millis()
            );
            let text = format!(
                "{} – {}",
                first.format("%b %d %H:%M"),
                last.format("%b %d %H:%M UTC")
            );
            view! { <a href=href data-testid="usage-when">{text}</a> }.into_any()
        }
        _ => "–".into_any(),
    };
    let idle = if row.idle_held_hours > 0.0 {
        "num usage-idle"
    } else {
        "num"
    };
    view! {
        <div class="usage-row" role="row" data-testid="usage-row" data-name=row.name.clone()>
            <div role="cell" class="usage-name">{row.name.clone()}</div>
            <div role="cell" class="num" data-testid="usage-held">{hours(row.gpu_hours_held)}</div>
            <div role="cell" class="num" data-testid="usage-used">{hours(row.gpu_hours_used)}</div>
            <div role="cell" class="num">{efficiency}</div>
            <div role="cell" class=idle data-testid="usage-idle-held">{hours(row.idle_held_hours)}</div>
            <div role="cell" class="num" data-testid="usage-energy">{energy}</div>
            <div role="cell" class="usage-places">{places}</div>
            <div role="cell">{when}</div>
        </div>
    }
}
