//! The state every route shares: configuration, the hub, the latest snapshot, the pages' history,
//! sign-in state and the Leptos options.

use super::config::Config;
use super::failures::FailedAttempts;
use super::hub::Hub;
use super::page_history::PageHistory;
use super::sampler::Latest;
use super::sessions::Sessions;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub latest: Latest,
    /// The history on disk (or why there is none).
    pub durable: super::history_db::Durable,
    /// The history a page starts from, kept typed by the sampler.
    pub page_history: Arc<PageHistory>,
    pub emit_token: Arc<str>,
    pub hostname: Arc<str>,
    /// The IP the server is bound to when it is a specific one (then it is a valid Host).
    pub bound_ip: Option<String>,
    /// What `/metrics` encodes: a collector over `latest`.
    pub metrics_registry: Arc<prometheus_client::registry::Registry>,
    /// Browser sessions handed out after a sign-in, when an access token is configured.
    pub sessions: Arc<Sessions>,
    /// Wrong tokens per client address, when an access token is configured.
    pub failures: Arc<FailedAttempts>,
    /// Sign-in forms being read at once (bodies sent before anyone is known).
    pub sign_in_reads: Arc<tokio::sync::Semaphore>,
    /// The process table's scans, run while someone watches.
    pub processes: Arc<super::processes::ProcessWatch>,
    /// The alert rules' state, fed by the sampler.
    pub alerts: Arc<super::alerts::Alerts>,
    /// The jobs the `jobs/` channels tell of.
    pub jobs: Arc<super::jobs::JobBook>,
    /// The fleet page's hosts, read from Prometheus.
    pub fleet: Arc<super::fleet::Fleet>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
