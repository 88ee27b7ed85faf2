//! The state every route shares: configuration, the hub, the latest snapshot and the Leptos options.

use super::config::Config;
use super::hub::Hub;
use super::sampler::Latest;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub latest: Latest,
    pub emit_token: Arc<str>,
    pub hostname: Arc<str>,
    /// The IP the server is bound to when it is a specific non-loopback one (then it is a valid Host).
    pub bound_ip: Option<String>,
    /// What `/metrics` encodes: a collector over `latest`.
    pub metrics_registry: Arc<prometheus_client::registry::Registry>,
    /// Browser sessions and failed sign-ins, when an access token is configured.
    pub guard: Arc<super::auth::Guard>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
