//! The health list drawn by the server: the card the dashboard shows (quiet and small while all
//! is well) and the `/health` page with every reading behind it. No WASM carries either: the
//! dashboard asks for the card's HTML and puts it in place.

use crate::server::http::server_page;
use crate::wire::{AlertSeverity, HealthItem, HealthReport, SensorKind};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The card: "All 14 checks pass", or each finding with its action.
pub fn card(report: &HealthReport, now: DateTime<Utc>) -> String {
    Owner::new().with(|| card_view(report, now).to_html())
}

fn card_view(report: &HealthReport, now: DateTime<Utc>) -> AnyView {
    let title = view! { <h2><a href="/health">"Health"</a></h2> };
    if report.items.is_empty() {
        let checks = report.checks;
        return view! {
            <div class="health-card quiet" data-testid="health-card" data-state="ok">
                {title}
                <p data-testid="health-summary">{format!("All {checks} checks pass")}</p>
                {unavailable(report)}
            </div>
        }
        .into_any();
    }
    let worst = report
        .items
        .iter()
        .map(|i| i.severity)
        .max()
        .unwrap_or(AlertSeverity::Warning);
    let summary = format!(
        "{} of {} checks need attention",
        report.items.len(),
        report.checks
    );
    let items = report
        .items
        .iter()
        .map(|item| item_view(item, now))
        .collect_view();
    view! {
        <div class="health-card" data-testid="health-card" data-state=worst.name()>
            {title}
            <p data-testid="health-summary">{summary}</p>
            <ul class="health-items">{items}</ul>
            {unavailable(report)}
        </div>
    }
    .into_any()
}

fn unavailable(report: &HealthReport) -> impl IntoView + use<> {
    let notes = report.unavailable.clone();
    (!notes.is_empty()).then(|| {
        view! { <p class="health-unavailable">{notes.join(" · ")}</p> }
    })
}

fn item_view(item: &HealthItem, now: DateTime<Utc>) -> impl IntoView + use<> {
    let minutes = (now - item.since).num_minutes().max(0);
    let since = if minutes < 1 {
        "just now".to_owned()
    } else if minutes < 120 {
        format!("for {minutes} min")
    } else {
        format!("since {}", item.since.format("%Y-%m-%d %H:%M UTC"))
    };
    let subject = match &item.link {
        Some(link) => view! { <a href=link.clone()>{item.subject.clone()}</a> }.into_any(),
        None => item.subject.clone().into_any(),
    };
    view! {
        <li class=format!("health-item {}", item.severity.name()) data-testid="health-item" data-check=item.check.clone()>
            <span class="health-what"><strong>{subject}</strong>" · "{item.value.clone()}</span>
            <span class="health-since">{since}</span>
            <span class="health-action">{item.action.clone()}</span>
        </li>
    }
}

/// `/health`: the card, then every reading it was made from.
pub fn render(report: &HealthReport, now: DateTime<Utc>) -> String {
    let host = &report.host;
    let disks = host
        .disks
        .iter()
        .map(|d| {
            let verdict = match d.passed {
                Some(true) => "passed".to_owned(),
                Some(false) => "FAILED".to_owned(),
                None => d.note.clone().unwrap_or_else(|| "unknown".into()),
            };
            let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "–".into());
            view! {
                <tr>
                    <td>{d.device.clone()}</td>
                    <td>{d.model.clone().unwrap_or_default()}</td>
                    <td>{verdict}</td>
                    <td>{d.temperature_celsius.map(|t| format!("{t:.0} °C")).unwrap_or_default()}</td>
                    <td>{number(d.power_on_hours)}</td>
                    <td>{number(d.percentage_used)}</td>
                    <td>{number(d.reallocated_sectors.or(d.media_errors))}</td>
                    <td>{number(d.pending_sectors)}</td>
                </tr>
            }
        })
        .collect_view();
    let sensors = host
        .sensors
        .iter()
        .map(|s| {
            let unit = match s.kind {
                SensorKind::Temperature => "°C",
                SensorKind::Fan => "RPM",
            };
            let limit = |l: Option<f64>| l.map(|l| format!("{l:.0} {unit}")).unwrap_or_default();
            view! {
                <tr>
                    <td>{s.chip.clone()}</td>
                    <td>{s.label.clone()}</td>
                    <td>{format!("{:.0} {unit}", s.value)}</td>
                    <td>{limit(s.max.or(s.min))}</td>
                    <td>{limit(s.crit)}</td>
                </tr>
            }
        })
        .collect_view();
    let memory = host
        .memory_controllers
        .iter()
        .map(|m| {
            view! {
                <tr>
                    <td>{format!("mc{}", m.controller)}</td>
                    <td>{m.dimms.iter().map(|d| d.label.clone()).collect::<Vec<_>>().join(", ")}</td>
                    <td>{m.corrected}</td>
                    <td>{m.uncorrected}</td>
                </tr>
            }
        })
        .collect_view();
    let pcie = host
        .pcie
        .iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{p.name.clone()}</td>
                    <td>{p.address.clone()}</td>
                    <td>{p.correctable}</td>
                    <td>{p.nonfatal}</td>
                    <td>{p.fatal}</td>
                </tr>
            }
        })
        .collect_view();
    let none = |empty: bool, what: &'static str| {
        empty.then(|| view! { <p class="health-none">{what}</p> })
    };
    let (no_disks, no_sensors) = (host.disks.is_empty(), host.sensors.is_empty());
    let (no_memory, no_pcie) = (host.memory_controllers.is_empty(), host.pcie.is_empty());
    let card = card_view(report, now);
    server_page::document(
        "Vitals · Health",
        "health-page",
        Some("30".into()),
        move || {
            view! {
            <header class="page-header"><a href="/">"← Dashboard"</a><h1>"Health"</h1></header>
            <main class="health-main">
                <section class="card">{card}</section>
                <section class="card" id="disks"><h2>"Disks (SMART)"</h2>
                    {none(no_disks, "No disk reported SMART (virtual disks have none).")}
                    <table><thead><tr><th>"Disk"</th><th>"Model"</th><th>"Verdict"</th><th>"Temp."</th><th>"Hours on"</th><th>"Wear %"</th><th>"Reallocated / media errors"</th><th>"Pending"</th></tr></thead><tbody>{disks}</tbody></table>
                </section>
                <section class="card" id="sensors"><h2>"Sensors"</h2>
                    {none(no_sensors, "This machine exposes no hwmon sensors (virtual machines usually have none).")}
                    <table><thead><tr><th>"Chip"</th><th>"Sensor"</th><th>"Now"</th><th>"Max / min"</th><th>"Critical"</th></tr></thead><tbody>{sensors}</tbody></table>
                </section>
                <section class="card" id="memory"><h2>"Memory errors (EDAC)"</h2>
                    {none(no_memory, "No memory controller reports errors here (EDAC not available).")}
                    <table><thead><tr><th>"Controller"</th><th>"DIMMs"</th><th>"Corrected"</th><th>"Uncorrected"</th></tr></thead><tbody>{memory}</tbody></table>
                </section>
                <section class="card" id="pcie"><h2>"PCIe errors (AER)"</h2>
                    {none(no_pcie, "No PCIe device reports AER counters here.")}
                    <table><thead><tr><th>"Device"</th><th>"Address"</th><th>"Correctable"</th><th>"Non-fatal"</th><th>"Fatal"</th></tr></thead><tbody>{pcie}</tbody></table>
                </section>
            </main>
        }
        .into_any()
        },
    )
}
