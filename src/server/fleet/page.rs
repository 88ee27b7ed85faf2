//! `/fleet`: the fleet as one server-rendered table, no WASM at all, so the dashboard's module
//! does not carry it and a page of 500 hosts draws at once. Sorting and filtering are links and
//! a GET form; the page reloads itself every refresh period.

use crate::server::fleet::select::{MAX_HOSTS_SHOWN, Selection, SortKey, SortOrder, select};
use crate::server::http::server_page;
use crate::shared::format;
use crate::wire::{FleetAlert, FleetGpu, FleetHost, FleetUser, FleetView, HostState};
use chrono::{DateTime, Utc};
use leptos::prelude::*;

pub fn render(view: &FleetView, selection: &Selection, now: DateTime<Utc>) -> String {
    let body = if view.configured {
        fleet_table(view, selection, now).into_any()
    } else {
        not_configured().into_any()
    };
    // Reload on the refresh period (at least every 5 s), with the same filter and sort.
    let reload = view.refresh_seconds.max(5.0).round().to_string();
    let reload = view.configured.then_some(reload);
    server_page::document("Fleet · Vitals", "fleet-page", reload, || body)
}

fn not_configured() -> impl IntoView {
    view! {
        <header class="fleet-header">
            <h1>"Fleet"</h1>
            <a href="/">"This machine's dashboard"</a>
        </header>
        <section class="card fleet-off" data-testid="fleet-off">
            <p>
                "The fleet page shows every machine a Prometheus scrapes: Vitals, or node_exporter and dcgm-exporter. Start Vitals with "
                <code>"--fleet-prometheus http://prometheus:9090"</code>
                " (or " <code>"VITALS_FLEET_PROMETHEUS"</code> ", or " <code>"fleet_prometheus"</code>
                " in the config file) to turn it on; the README's \"For fleets\" has a scrape config that links each host to its own dashboard."
            </p>
        </section>
    }
}

fn fleet_table(view: &FleetView, selection: &Selection, now: DateTime<Utc>) -> impl IntoView {
    let mut shown = select(&view.hosts, selection);
    let down = view
        .hosts
        .iter()
        .filter(|h| h.state == HostState::Down)
        .count();
    let matched = shown.len();
    shown.truncate(MAX_HOSTS_SHOWN);
    let count = if matched > shown.len() {
        format!(
            "{} of {matched} matching hosts shown (of {}): filter to see the others",
            shown.len(),
            view.hosts.len()
        )
    } else if shown.len() == view.hosts.len() {
        format!("{} hosts", view.hosts.len())
    } else {
        format!("{} of {} hosts", shown.len(), view.hosts.len())
    };
    let age = view.age_at(now);
    let read = match (age, view.refresh_ms) {
        (Some(age), Some(ms)) => format!(
            "read from {} {} in {ms:.0} ms",
            view.prometheus,
            format::age(age as u64)
        ),
        _ => format!("reading {}…", view.prometheus),
    };
    let problem = view.error.clone().map(|error| {
        let age = age
            .map(|age| {
                format!(
                    "Stale: the hosts below are from {}. ",
                    format::age(age as u64)
                )
            })
            .unwrap_or_else(|| "No hosts read yet: ".to_owned());
        view! { <p class="fleet-stale" role="alert" data-testid="fleet-stale">{age}{error}</p> }
    });
    let header_cells = COLUMNS
        .iter()
        .map(|&(key, title)| sort_header(key, title, selection))
        .collect_view();
    let rows = shown
        .into_iter()
        .map(|host| host_row(host, now))
        .collect_view();
    let filter = selection.q.clone();
    let sort = selection.sort.name();
    let order = order_name(selection.order());
    view! {
        <header class="fleet-header">
            <h1>"Fleet"</h1>
            <span class="fleet-count" data-testid="fleet-count">{count}</span>
            {(down > 0).then(|| view! { <span class="badge fleet-down-count">{format!("{down} down")}</span> })}
            <span class="fleet-read" data-testid="fleet-read">{read}</span>
            <a href="/">"This machine's dashboard"</a>
        </header>
        {problem}
        <form class="fleet-filter" method="get" action="/fleet">
            <input
                type="search"
                name="q"
                value=filter
                placeholder="Filter: host name, label (env=prod), GPU model"
                aria-label="Filter hosts"
                maxlength="200"
            />
            <input type="hidden" name="sort" value=sort />
            <input type="hidden" name="order" value=order />
            <button type="submit">"Filter"</button>
        </form>
        // A grid of rows rather than a <table>: rows out of view skip layout and paint
        // (content-visibility), so a page of 500 hosts draws, and reloads, at once.
        <div class="card fleet-card" role="table" aria-label="Hosts" data-testid="fleet-table">
            <div class="fleet-row fleet-head" role="row">{header_cells}</div>
            <div role="rowgroup">{rows}</div>
        </div>
        {users_table(&view.users)}
    }
}

/// "Who uses the fleet": the last week's GPU-hours per person, over every host.
fn users_table(users: &[FleetUser]) -> Option<impl IntoView + use<>> {
    if users.is_empty() {
        return None;
    }
    let hours = |h: Option<f64>| h.map_or("–".to_owned(), |h| format!("{h:.1}"));
    let rows = users
        .iter()
        .map(|u| {
            view! {
                <div class="usage-row fleet-user" role="row" data-testid="fleet-user" data-name=u.user.clone()>
                    <div role="cell" class="usage-name">{u.user.clone()}</div>
                    <div role="cell" class="num">{hours(Some(u.gpu_hours_held))}</div>
                    <div role="cell" class="num">{hours(u.gpu_hours_used)}</div>
                    <div role="cell" class="num">{hours(u.idle_held_hours)}</div>
                    <div role="cell" class="num">{u.energy_kwh.map_or("–".to_owned(), |k| format!("{k:.1} kWh"))}</div>
                    <div role="cell" class="num">{u.hosts}</div>
                </div>
            }
        })
        .collect_view();
    Some(view! {
        <h2 class="fleet-users-title">"Who uses the fleet (last 7 days)"</h2>
        <div class="card fleet-card" role="table" aria-label="GPU use per person" data-testid="fleet-users">
            <div class="usage-row fleet-user fleet-head" role="row">
                <div role="columnheader">"Person"</div>
                <div role="columnheader">"GPU-hours held"</div>
                <div role="columnheader">"GPU-hours used"</div>
                <div role="columnheader">"Idle-held hours"</div>
                <div role="columnheader">"Energy"</div>
                <div role="columnheader">"Hosts"</div>
            </div>
            <div role="rowgroup">{rows}</div>
        </div>
    })
}

const COLUMNS: [(SortKey, &str); 11] = [
    (SortKey::Host, "Host"),
    (SortKey::State, "State"),
    (SortKey::Cpu, "CPU"),
    (SortKey::Memory, "RAM"),
    (SortKey::Load, "Load"),
    (SortKey::Disk, "Disk r/w"),
    (SortKey::Network, "Net rx/tx"),
    (SortKey::Gpu, "GPU util"),
    (SortKey::GpuMemory, "GPU memory"),
    (SortKey::Temperature, "Temp · power"),
    (SortKey::Alerts, "Alerts"),
];

fn order_name(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    }
}

/// A column title linking to the table sorted by it: its natural order first, reversed when
/// it is already sorted so.
fn sort_header(key: SortKey, title: &'static str, selection: &Selection) -> impl IntoView {
    let current = selection.sort == key;
    let order = match (current, selection.order()) {
        (true, SortOrder::Asc) => SortOrder::Desc,
        (true, SortOrder::Desc) => SortOrder::Asc,
        (false, _) => key.natural_order(),
    };
    let href = format!(
        "/fleet?{}",
        query_string(&[
            ("q", selection.q.as_str()),
            ("sort", key.name()),
            ("order", order_name(order)),
        ])
    );
    let arrow = match (current, selection.order()) {
        (true, SortOrder::Asc) => " ▲",
        (true, SortOrder::Desc) => " ▼",
        _ => "",
    };
    let aria = current.then(|| match selection.order() {
        SortOrder::Asc => "ascending",
        SortOrder::Desc => "descending",
    });
    view! {
        <div role="columnheader" aria-sort=aria>
            <a href=href data-sort=key.name()>{title}{arrow}</a>
        </div>
    }
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn host_row(host: &FleetHost, now: DateTime<Utc>) -> impl IntoView {
    let name = host.name.clone();
    let title = match &host.dashboard {
        Some(url) => view! { <a class="fleet-host" href=url.clone()>{name.clone()}</a> }.into_any(),
        None => view! { <span class="fleet-host">{name.clone()}</span> }.into_any(),
    };
    let labels = host
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (state_class, state_text) = match host.state {
        HostState::Up => ("ok", "up"),
        HostState::Partial => ("warn", "partly down"),
        HostState::Down => ("bad", "down"),
    };
    let since = match host.since {
        Some(at) => format!(
            "for {}",
            format::span((now - at).num_seconds().max(0) as u64)
        ),
        None if !host.targets.is_empty() => "for over 1 h".to_owned(),
        None => String::new(),
    };
    let down_targets = host
        .targets
        .iter()
        .filter(|t| !t.up)
        .map(|t| format!("{} {}", t.job, t.instance))
        .collect::<Vec<_>>()
        .join(", ");
    let rate_pair = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (None, None) => "–".to_owned(),
        _ => format!(
            "{} / {}",
            a.map_or("–".into(), format::rate),
            b.map_or("–".into(), format::rate)
        ),
    };
    let gpu_mean = host.mean_gpu_utilization();
    let gpus = host.gpus.iter().map(gpu_line).collect_view();
    let alerts = host.alerts.iter().map(alert_line).collect_view();
    view! {
        <div class="fleet-row" role="row" data-host=name.clone() data-state=state_text>
            <div role="cell">{title}<div class="fleet-labels">{labels}</div></div>
            <div role="cell">
                <span class=format!("fleet-state {state_class}")>{state_text}</span>
                <div class="fleet-since" title=down_targets>{since}</div>
            </div>
            <div role="cell" class="num">
                {percent(host.cpu_percent)}
                {sparkline(&host.cpu_history, "CPU % over the last hour")}
            </div>
            <div role="cell" class="num">{percent(host.memory_percent)}</div>
            <div role="cell" class="num">{host.load1.map_or("–".to_owned(), |l| format!("{l:.2}"))}</div>
            <div role="cell" class="num">
                {rate_pair(host.disk_read_bytes_per_second, host.disk_write_bytes_per_second)}
            </div>
            <div role="cell" class="num">
                {rate_pair(
                    host.network_receive_bytes_per_second,
                    host.network_transmit_bytes_per_second,
                )}
            </div>
            <div role="cell" class="num">
                {gpu_mean.map(|mean| format!("{mean:.0} % mean"))}
                {(!host.gpu_history.is_empty())
                    .then(|| sparkline(&host.gpu_history, "mean GPU utilization % over the last hour"))}
            </div>
            <div role="cell" class="fleet-gpus">{gpus}</div>
            <div role="cell" class="fleet-alerts">{alerts}</div>
        </div>
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{v:.0} %"))
}

fn gpu_line(gpu: &FleetGpu) -> impl IntoView {
    let memory = match (gpu.memory_used_mib, gpu.memory_total_mib) {
        (Some(used), Some(total)) if total > 0.0 => {
            format!("{:.1}/{:.0} GiB", used / 1024.0, total / 1024.0)
        }
        (Some(used), _) => format!("{:.1} GiB", used / 1024.0),
        _ => "–".to_owned(),
    };
    let power = match (gpu.power_watts, gpu.power_limit_watts) {
        (Some(draw), Some(limit)) => format!("{draw:.0}/{limit:.0} W"),
        (Some(draw), None) => format!("{draw:.0} W"),
        _ => "–".to_owned(),
    };
    let hot = gpu.temperature_celsius.is_some_and(|t| t >= 85.0);
    let text = format!(
        "GPU {} · {} · {} · {} · {}",
        gpu.index,
        percent(gpu.utilization_percent),
        memory,
        gpu.temperature_celsius
            .map_or("–".to_owned(), |t| format!("{t:.0} °C")),
        power
    );
    view! {
        <div class="fleet-gpu" class:hot=hot title=gpu.model.clone() data-gpu=gpu.index.clone()>
            {text}
        </div>
    }
}

fn alert_line(alert: &FleetAlert) -> impl IntoView {
    let class = match alert.severity.as_str() {
        "critical" | "page" => "badge fleet-alert bad",
        _ => "badge fleet-alert warn",
    };
    view! { <span class=class title=alert.about.clone()>{alert.name.clone()}</span> }
}

/// The last hour as a line: 0–100 % bottom to top, gaps where there was no data.
fn sparkline(points: &[Option<f32>], label: &'static str) -> impl IntoView {
    let width = points.len().saturating_sub(1).max(1);
    // Runs of consecutive points; a gap (None) ends one.
    let mut runs: Vec<Vec<(f32, f32)>> = vec![Vec::new()];
    for (i, point) in points.iter().enumerate() {
        match point {
            Some(value) => runs
                .last_mut()
                .expect("there is always a run")
                .push((i as f32, 20.0 - value.clamp(0.0, 100.0) / 5.0)),
            None => runs.push(Vec::new()),
        }
    }
    let polylines = runs
        .into_iter()
        .filter(|run| !run.is_empty())
        .map(|run| match run[..] {
            // A lone point (a gap on both sides) is drawn as a short dash, not left invisible.
            [(x, y)] => format!("{x},{y:.1} {},{y:.1}", x + 0.6),
            _ => run.iter().map(|(x, y)| format!("{x},{y:.1} ")).collect(),
        })
        .map(|points| view! { <polyline points=points /> })
        .collect_view();
    view! {
        <svg
            class="spark"
            viewBox=format!("0 0 {width} 20")
            preserveAspectRatio="none"
            role="img"
            aria-label=label
        >
            {polylines}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_survives_in_sort_links() {
        assert_eq!(encode("env=prod gpu"), "env%3Dprod%20gpu");
        assert_eq!(query_string(&[("q", ""), ("sort", "cpu")]), "sort=cpu");
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;
    use crate::wire::{FleetTarget, HostState};

    #[test]
    fn hosts_render_escaped_with_sparklines_and_sort_links() {
        let host = FleetHost {
            name: "gpu-<a>".into(),
            state: HostState::Down,
            since: Some(chrono::DateTime::from_timestamp(1_000, 0).unwrap()),
            targets: vec![FleetTarget {
                job: "vitals".into(),
                instance: "gpu:3000".into(),
                up: false,
            }],
            labels: [("note".to_owned(), "<script>alert(1)</script>".to_owned())].into(),
            dashboard: Some("http://gpu:3000/".into()),
            cpu_percent: Some(42.4),
            load1: Some(1.5),
            network_receive_bytes_per_second: Some(2e6),
            cpu_history: vec![Some(0.0), Some(100.0), None, Some(50.0)],
            ..Default::default()
        };
        let view = FleetView {
            configured: true,
            prometheus: "http://prom:9090".into(),
            refresh_seconds: 10.0,
            hosts: vec![host],
            ..Default::default()
        };
        let selection = Selection {
            q: "gpu".into(),
            sort: SortKey::Cpu,
            order: None,
        };
        let now = chrono::DateTime::from_timestamp(1_125, 0).unwrap();
        let html = render(&view, &selection, now);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(r#"<meta http-equiv="refresh" content="10""#));
        assert!(!html.contains("<script>"), "labels are escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("gpu-&lt;a&gt;"));
        assert!(html.contains(r#"href="http://gpu:3000/""#));
        assert!(html.contains("for 2 min"), "down since 125 s");
        assert!(html.contains("42 %"));
        assert!(html.contains("2.0 MB/s"));
        // 0 % at the bottom (y 20), 100 % at the top; the lone point after the gap is a dash.
        assert!(html.contains(r#"points="0,20.0 1,0.0 ""#), "{html}");
        assert!(html.contains(r#"points="3,10.0 3.6,10.0""#), "{html}");
        // The current sort reverses on a second click and keeps the filter.
        assert!(
            html.contains(r#"href="/fleet?q=gpu&amp;sort=cpu&amp;order=asc""#),
            "{html}"
        );
        assert!(html.contains(r#"aria-sort="descending""#));
    }

    #[test]
    fn an_unconfigured_page_says_how_and_does_not_reload() {
        let html = render(
            &FleetView::default(),
            &Selection::default(),
            chrono::Utc::now(),
        );
        assert!(html.contains("--fleet-prometheus"));
        assert!(!html.contains("http-equiv"));
    }
}
