//! Server functions: the REST routes the page calls too, so both share one implementation.

use super::store::MetricsStore;
use crate::wire::{CurrentMetrics, GpuList, Hello};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

/// What a page starts from: the server's hello (host, uptime, GPU status) and its history as a
/// ready store. The server renders the page from it and sends it along, so values show at first
/// paint and the charts draw as soon as the page is live.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PageSeed {
    pub hello: Hello,
    pub history: MetricsStore,
}

/// `GET /api/system/metrics`: the latest sample of every channel (what the page polls while its
/// socket is down). Read from memory: a request never triggers a collection.
#[server(prefix = "/api/system", endpoint = "metrics", input = GetUrl)]
pub async fn fetch_current_metrics() -> Result<CurrentMetrics, ServerFnError> {
    use crate::server::state::AppState;
    let app =
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
    Ok(crate::server::api::current_metrics(&app))
}

/// `GET /api/system/gpus`: every GPU with its availability and current jobs, or the reason there are none.
#[server(prefix = "/api/system", endpoint = "gpus", input = GetUrl)]
pub async fn fetch_gpu_list() -> Result<GpuList, ServerFnError> {
    use crate::server::state::AppState;
    let app =
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
    Ok(crate::server::api::gpus(&app))
}

/// `GET /api/system/seed`: the same seed the page carries inside it (`seed.rs`), for other clients
/// that want the hello and the last hour in one request.
#[server(prefix = "/api/system", endpoint = "seed", input = GetUrl)]
pub async fn fetch_seed() -> Result<PageSeed, ServerFnError> {
    use crate::server::state::AppState;
    let app =
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
    Ok(crate::server::api::page_seed(&app))
}
