//! Alerts in the page: the firing ones in a strip under the header (nothing when all is well),
//! each naming what, the value, since when, and a link to its chart; their spans shaded on the
//! charts; and, when the person allowed it, a browser notification when one fires while the tab
//! is in the background.

use super::live::Live;
use crate::shared::format;
use crate::shared::store::Millis;
use crate::wire::series::{self, gpu_key};
use crate::wire::{Alert, AlertState, GpuMetrics};
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Resolved alerts kept for their spans on the charts.
const RESOLVED_KEPT: usize = 50;

/// The alerts the page knows: active ones, and the latest resolved ones (for the charts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertBook {
    alerts: Vec<Alert>,
}

impl AlertBook {
    pub fn new(active: Vec<Alert>) -> AlertBook {
        AlertBook { alerts: active }
    }

    /// Takes in a change from `system/alerts`.
    pub fn apply(&mut self, alert: Alert) {
        self.alerts.retain(|a| {
            !(a.rule == alert.rule && a.series == alert.series && a.state != AlertState::Resolved)
        });
        self.alerts.push(alert);
        let resolved = self
            .alerts
            .iter()
            .filter(|a| a.state == AlertState::Resolved)
            .count();
        if resolved > RESOLVED_KEPT
            && let Some(oldest) = self
                .alerts
                .iter()
                .position(|a| a.state == AlertState::Resolved)
        {
            self.alerts.remove(oldest);
        }
    }

    /// Replaces the active alerts with the server's list (after a reconnect), keeping the
    /// resolved ones for the charts.
    pub fn replace_active(&mut self, active: Vec<Alert>) {
        self.alerts.retain(|a| a.state == AlertState::Resolved);
        self.alerts.extend(active);
    }

    /// The firing ones (a pending alert may still come to nothing), the most severe first, then
    /// the oldest.
    pub fn firing(&self) -> Vec<Alert> {
        let mut active: Vec<Alert> = self
            .alerts
            .iter()
            .filter(|a| a.state == AlertState::Firing)
            .cloned()
            .collect();
        active.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.started.cmp(&b.started)));
        active
    }

    /// The spans (start, end) of the alerts on series `watched` picks, ending now for active ones.
    pub fn spans(&self, watched: impl Fn(&str) -> bool, now: Millis) -> Vec<(Millis, Millis)> {
        self.alerts
            .iter()
            .filter(|a| a.state != AlertState::Pending && watched(&a.series))
            .map(|a| {
                let end = match a.state {
                    AlertState::Resolved => a.since.timestamp_millis(),
                    _ => now,
                };
                (a.started.timestamp_millis(), end)
            })
            .collect()
    }
}

/// The chart an alert's series is drawn on, if any.
pub fn chart_of(series_name: &str, gpus: &BTreeMap<u32, GpuMetrics>) -> Option<String> {
    if let Some(rest) = series_name.strip_prefix("gpu/") {
        let (key, _) = rest.split_once('/')?;
        let gpu = gpus.values().find(|g| gpu_key(g) == key)?;
        return Some(format!("chart-gpu-{}", gpu.index));
    }
    match series_name {
        series::CPU_USAGE | series::CPU_TEMPERATURE => Some("chart-cpu".into()),
        s if s.starts_with("memory.") => Some("chart-memory".into()),
        s if s.starts_with("filesystem/") || s.starts_with("disk") => Some("chart-disk".into()),
        _ => None,
    }
}

/// What the alert is about, naming a GPU by its index and name: "GPU 0 · Fake H100: GPU
/// temperature".
pub fn subject(alert: &Alert, gpus: &BTreeMap<u32, GpuMetrics>) -> String {
    let gpu = gpus.values().find(|g| gpu_key(g) == alert.instance);
    match (gpu, alert.instance.is_empty()) {
        (Some(gpu), _) => format!("GPU {} · {}: {}", gpu.index, gpu.name, alert.summary),
        (None, true) => alert.summary.clone(),
        (None, false) => format!("{} {}", alert.summary, alert.instance),
    }
}

/// The active alerts under the header; nothing at all when there are none.
#[component]
pub fn AlertStrip() -> impl IntoView {
    let live = expect_context::<Live>();
    let active = Memo::new(move |_| live.alerts.with(AlertBook::firing));
    let items = move || {
        let gpus = live.store.with(|s| s.gpus.clone());
        active
            .get()
            .into_iter()
            .map(|alert| {
                let link = chart_of(&alert.series, &gpus).map(|id| format!("#{id}"));
                let since = format::clock_utc(alert.since.timestamp_millis());
                view! {
                    <li class="alert" data-testid="alert" data-severity=alert.severity.name()>
                        <span class="severity">{alert.severity.name()}</span>
                        <span class="what">{subject(&alert, &gpus)}</span>
                        <span class="value">{format::alert_value(&alert)}</span>
                        <span class="since">{format!("since {since}")}</span>
                        {link.map(|href| view! { <a href=href>"chart"</a> })}
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <Show when=move || active.with(|a| !a.is_empty())>
            <ul class="alert-strip" data-testid="alert-strip" role="status">
                {items}
                <NotifyButton />
            </ul>
        </Show>
    }
}

/// Asks for permission to notify, while it has been neither given nor refused.
#[component]
fn NotifyButton() -> impl IntoView {
    let askable = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| askable.set(notifications::permission() == "default"));
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        notifications::ask(askable);
    };
    view! {
        <Show when=move || askable.get()>
            <li><button class="notify" on:click=ask>"Notify me when one fires in the background"</button></li>
        </Show>
    }
}

/// Browser notifications, when allowed and the tab is hidden.
#[cfg(feature = "hydrate")]
pub mod notifications {
    use crate::wire::{Alert, AlertState};
    use leptos::prelude::*;

    pub fn permission() -> String {
        match web_sys::Notification::permission() {
            web_sys::NotificationPermission::Granted => "granted",
            web_sys::NotificationPermission::Denied => "denied",
            _ => "default",
        }
        .into()
    }

    pub fn ask(askable: RwSignal<bool>) {
        if let Ok(promise) = web_sys::Notification::request_permission() {
            leptos::task::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                askable.set(permission() == "default");
            });
        }
    }

    /// Notifies of an alert that just fired, if the page is hidden and allowed to.
    pub fn fired(alert: &Alert, subject: &str, value: &str) {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        if alert.state != AlertState::Firing || !hidden || permission() != "granted" {
            return;
        }
        let options = web_sys::NotificationOptions::new();
        options.set_body(&format!("{subject}: {value}"));
        options.set_tag(&format!("{}:{}", alert.rule, alert.series));
        let _ = web_sys::Notification::new_with_options("Vitals alert", &options);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AlertSeverity;
    use chrono::DateTime;

    fn alert(state: AlertState, started: i64, since: i64) -> Alert {
        Alert {
            rule: "gpu_temperature".into(),
            summary: "GPU temperature".into(),
            series: "gpu/GPU-a/temperature".into(),
            instance: "GPU-a".into(),
            severity: AlertSeverity::Critical,
            state,
            value: Some(91.5),
            threshold: 90.0,
            started: DateTime::from_timestamp(started, 0).unwrap(),
            since: DateTime::from_timestamp(since, 0).unwrap(),
            detail: None,
        }
    }

    #[test]
    fn changes_update_the_book_and_resolved_alerts_keep_their_span() {
        let mut book = AlertBook::default();
        book.apply(alert(AlertState::Pending, 100, 100));
        assert!(
            book.firing().is_empty(),
            "pending may still come to nothing"
        );
        book.apply(alert(AlertState::Firing, 100, 160));
        assert_eq!(book.firing().len(), 1);
        let on_gpu = |s: &str| s.starts_with("gpu/GPU-a/");
        assert_eq!(book.spans(on_gpu, 200_000), [(100_000, 200_000)]);
        book.apply(alert(AlertState::Resolved, 100, 300));
        assert!(book.firing().is_empty());
        assert_eq!(book.spans(on_gpu, 400_000), [(100_000, 300_000)]);
        assert_eq!(book.spans(|s| s == "cpu.usage", 400_000), []);
    }

    #[test]
    fn an_alert_reads_as_what_where_and_how_much() {
        let gpus: BTreeMap<u32, GpuMetrics> = [(
            0,
            GpuMetrics {
                index: 0,
                uuid: "GPU-a".into(),
                name: "Fake H100".into(),
                ..Default::default()
            },
        )]
        .into();
        let hot = alert(AlertState::Firing, 0, 0);
        assert_eq!(subject(&hot, &gpus), "GPU 0 · Fake H100: GPU temperature");
        assert_eq!(format::alert_value(&hot), "91.5 °C");
        assert_eq!(chart_of(&hot.series, &gpus).as_deref(), Some("chart-gpu-0"));
        assert_eq!(chart_of("cpu.usage", &gpus).as_deref(), Some("chart-cpu"));
        let gone = Alert {
            series: "gpu/GPU-a/available".into(),
            value: Some(0.0),
            ..hot
        };
        assert_eq!(format::alert_value(&gone), "unavailable");
    }
}
