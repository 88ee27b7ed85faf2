//! The fleet: every host a Prometheus knows, read through its HTTP API (never a hub or database
//! of our own). One refresh (all queries at once) every `--fleet-refresh` seconds, shared by every
//! browser, and only while someone looks; when Prometheus fails, the last hosts stay, marked stale.

pub mod hosts;
pub mod page;
pub mod prom;
pub mod queries;
pub mod routes;
pub mod select;
pub mod users;

use crate::wire::FleetView;
use chrono::Utc;
use futures_util::future::{try_join, try_join_all};
use prom::{Credentials, Prometheus};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

pub const DEFAULT_REFRESH_SECONDS: f64 = 10.0;
pub const DEFAULT_RATE_WINDOW_SECONDS: u64 = 120;
/// The sparklines: the last hour, a point a minute.
const HISTORY_SECONDS: f64 = 3600.0;
const HISTORY_STEP_SECONDS: f64 = 60.0;
/// How long a first visitor waits for the first refresh before the page says it is still reading.
const FIRST_READ_WAIT: Duration = Duration::from_secs(5);

/// What `--fleet-*` configured.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    pub prometheus: reqwest::Url,
    pub credentials: Credentials,
    pub refresh: Duration,
    /// The window counters are turned into rates over: at least two scrape intervals.
    pub rate_window: Duration,
}

pub struct Fleet {
    source: Option<Source>,
    view: watch::Sender<Arc<FleetView>>,
    /// When a page or API client last asked (ms since the epoch): no one asking, no queries.
    asked_ms: AtomicI64,
    wake: Notify,
    /// Answers (pages and JSON) built at once: one, each a copy of up to a thousand hosts.
    answers: tokio::sync::Semaphore,
}

struct Source {
    prometheus: Prometheus,
    settings: FleetSettings,
}

impl Fleet {
    pub fn new(settings: Option<FleetSettings>) -> Arc<Fleet> {
        let source = settings.map(|settings| Source {
            // A query may take most of a refresh period, but never hang a refresh for long.
            prometheus: Prometheus::new(
                &settings.prometheus,
                settings.credentials.clone(),
                settings
                    .refresh
                    .clamp(Duration::from_secs(5), Duration::from_secs(30)),
            ),
            settings,
        });
        let view = FleetView {
            configured: source.is_some(),
            prometheus: source
                .as_ref()
                .map(|s| s.prometheus.shown().to_owned())
                .unwrap_or_default(),
            refresh_seconds: source
                .as_ref()
                .map_or(0.0, |s| s.settings.refresh.as_secs_f64()),
            history_step_seconds: HISTORY_STEP_SECONDS,
            ..Default::default()
        };
        Arc::new(Fleet {
            source,
            view: watch::channel(Arc::new(view)).0,
            asked_ms: AtomicI64::new(0),
            wake: Notify::new(),
            answers: tokio::sync::Semaphore::new(1),
        })
    }

    /// Starts the refresh loop (when a Prometheus is configured).
    pub fn spawn(self: &Arc<Fleet>) {
        if self.source.is_some() {
            let fleet = self.clone();
            tokio::spawn(async move { fleet.run().await });
        }
    }

    /// The hosts as last read; wakes the refresh loop, and on a first visit waits a moment for
    /// the first read.
    pub async fn current(&self) -> Arc<FleetView> {
        let mut changes = self.view.subscribe();
        let view = changes.borrow_and_update().clone();
        let Some(source) = &self.source else {
            return view;
        };
        self.asked_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        let due = view.updated.is_none_or(|at| {
            (Utc::now() - at).to_std().unwrap_or_default() > source.settings.refresh
        });
        if due {
            self.wake.notify_one();
        }
        if view.updated.is_some() || view.error.is_some() {
            return view;
        }
        match tokio::time::timeout(FIRST_READ_WAIT, changes.changed()).await {
            Ok(Ok(())) => changes.borrow().clone(),
            _ => view,
        }
    }

    fn watched(&self, refresh: Duration) -> bool {
        let quiet = Utc::now().timestamp_millis() - self.asked_ms.load(Ordering::Relaxed);
        quiet < (2 * refresh + Duration::from_secs(10)).as_millis() as i64
    }

    async fn run(&self) {
        let Some(source) = &self.source else { return };
        let refresh = source.settings.refresh;
        loop {
            let woken = self.wake.notified();
            if !self.watched(refresh) {
                woken.await;
                continue;
            }
            let started = Instant::now();
            let read = read(source).await;
            self.view.send_modify(|view| {
                // Copied only while a request still holds the previous read.
                let view = Arc::make_mut(view);
                match read {
                    Ok((hosts, users, history_start)) => {
                        view.hosts = hosts;
                        view.users = users;
                        view.updated = Some(Utc::now());
                        view.history_start = Some(history_start);
                        view.refresh_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                        view.stale = false;
                        view.error = None;
                    }
                    Err(error) => {
                        view.stale = true;
                        view.error = Some(error);
                    }
                }
            });
            // A big fleet's answers took several MiB while they were read; they are freed now,
            // and handing them back keeps the server's resident memory at what it holds.
            crate::server::runtime::heap::give_back_freed();
            // The next refresh a period after this one began, or at once when asked after a
            // quiet spell.
            let rest = refresh.saturating_sub(started.elapsed());
            tokio::time::sleep(rest).await;
        }
    }
}

/// One refresh: every instant query and every range query at once, within one `ReadBudget`.
type Read = (
    Vec<crate::wire::FleetHost>,
    Vec<crate::wire::FleetUser>,
    chrono::DateTime<Utc>,
);

async fn read(source: &Source) -> Result<Read, String> {
    use queries::{GpuMetric, HostMetric};
    let window = source.settings.rate_window;
    let prometheus = &source.prometheus;
    let mut instant_queries = vec![
        queries::up(),
        queries::prometheus_alerts(),
        queries::vitals_alerts(),
    ];
    instant_queries.extend(HostMetric::ALL.iter().map(|m| m.query(window)));
    instant_queries.extend(GpuMetric::ALL.iter().map(|m| m.query()));
    instant_queries.extend(
        queries::USER_COUNTERS
            .iter()
            .map(|c| queries::user_totals(c)),
    );
    instant_queries.push(queries::user_hosts());
    let range_queries = [
        queries::cpu_percent(window),
        queries::gpu_utilization_mean(),
        queries::host_up(),
    ];
    let end = Utc::now().timestamp_millis() as f64 / 1000.0;
    let start = end - HISTORY_SECONDS;
    // One budget for the whole refresh: the first answer past it ends the refresh, and dropping
    // the other queries frees what they had read.
    let budget = prom::ReadBudget::new();
    let (instant, range) = try_join(
        try_join_all(
            instant_queries
                .iter()
                .map(|q| prometheus.instant(q, &budget)),
        ),
        try_join_all(
            range_queries
                .iter()
                .map(|q| prometheus.range(q, start, end, HISTORY_STEP_SECONDS, &budget)),
        ),
    )
    .await?;
    let mut instant = instant.into_iter();
    let mut next = || instant.next().unwrap_or_default();
    let up = next();
    let mut alerts = next();
    alerts.extend(next());
    let host_metrics = HostMetric::ALL.iter().map(|&m| (m, next())).collect();
    let gpu_metrics = GpuMetric::ALL.iter().map(|&m| (m, next())).collect();
    let user_totals = [next(), next(), next(), next()];
    let users = users::assemble(
        [
            &user_totals[0],
            &user_totals[1],
            &user_totals[2],
            &user_totals[3],
        ],
        &next(),
    );
    let mut range = range.into_iter();
    let mut next_range = || range.next().unwrap_or_default();
    let answers = hosts::Answers {
        up,
        host_metrics,
        gpu_metrics,
        alerts,
        history: hosts::History {
            start,
            step: HISTORY_STEP_SECONDS,
            points: (HISTORY_SECONDS / HISTORY_STEP_SECONDS) as usize + 1,
        },
        cpu_history: next_range(),
        gpu_history: next_range(),
        up_history: next_range(),
    };
    let history_start =
        chrono::DateTime::from_timestamp_millis((start * 1000.0) as i64).unwrap_or_else(Utc::now);
    Ok((hosts::assemble(&answers), users, history_start))
}
