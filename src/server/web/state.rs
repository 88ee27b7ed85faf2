//! The state every route shares: configuration, the hub, the latest snapshot, the pages' history,
//! sign-in state and the Leptos options. Capability routes take only their own handle from it
//! (`FromRef`): the jobs' routes `Jobs`, the fleet's `Arc<Fleet>`, the usage's `UsageReads`, `/metrics` its registry.

use crate::server::alerts::Alerts;
use crate::server::config::Config;
use crate::server::fleet::Fleet;
use crate::server::history::Durable;
use crate::server::http::guard::HostRules;
use crate::server::hub::Hub;
use crate::server::jobs::Jobs;
use crate::server::pipeline::latest::Latest;
use crate::server::pipeline::page_history::PageHistory;
use crate::server::pipeline::process_watch::ProcessWatch;
use crate::server::usage::routes::UsageReads;
use crate::server::web::auth::failures::FailedAttempts;
use crate::server::web::auth::sessions::Sessions;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub latest: Latest,
    /// The history on disk (or why there is none).
    pub durable: Durable,
    /// The history a page starts from, kept typed by the sampler.
    pub page_history: Arc<PageHistory>,
    pub hostname: Arc<str>,
    /// The IP the server is bound to when it is a specific one (then it is a valid Host).
    pub bound_ip: Option<String>,
    /// What `/metrics` encodes: a collector over `latest`.
    pub metrics_registry: Arc<Registry>,
    /// Browser sessions handed out after a sign-in, when an access token is configured.
    pub sessions: Arc<Sessions>,
    /// Wrong tokens per client address, when an access token is configured.
    pub failures: Arc<FailedAttempts>,
    /// Sign-in forms being read at once (bodies sent before anyone is known).
    pub sign_in_reads: Arc<tokio::sync::Semaphore>,
    /// Range reads of the history database running at once (it has one reading connection).
    pub history_reads: Arc<tokio::sync::Semaphore>,
    /// The process table's scans, run while someone watches.
    pub processes: Arc<ProcessWatch>,
    /// The alert rules' state, fed by the sampler.
    pub alerts: Arc<Alerts>,
    /// The jobs the `jobs/` channels tell of, with what their routes need.
    pub jobs: Jobs,
    /// The fleet page's hosts, read from Prometheus.
    pub fleet: Arc<Fleet>,
    /// The machine's health list, worked out at every tick.
    pub health: Arc<crate::server::health::Health>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Jobs {
    fn from_ref(state: &AppState) -> Self {
        state.jobs.clone()
    }
}

impl FromRef<AppState> for Arc<crate::server::health::Health> {
    fn from_ref(state: &AppState) -> Self {
        state.health.clone()
    }
}

impl FromRef<AppState> for Arc<Fleet> {
    fn from_ref(state: &AppState) -> Self {
        state.fleet.clone()
    }
}

impl FromRef<AppState> for UsageReads {
    fn from_ref(state: &AppState) -> Self {
        UsageReads {
            durable: state.durable.clone(),
            turns: state.history_reads.clone(),
        }
    }
}

impl FromRef<AppState> for Arc<Registry> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics_registry.clone()
    }
}

impl FromRef<AppState> for HostRules {
    fn from_ref(state: &AppState) -> Self {
        HostRules {
            allowed: state.config.allowed_hosts.clone().into(),
            bound_ip: state.bound_ip.clone(),
        }
    }
}
