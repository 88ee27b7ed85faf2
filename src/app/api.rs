//! Server functions: the REST routes the page calls too, so both share one implementation.

use super::store::MetricsStore;
use crate::wire::{CurrentMetrics, GpuList};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

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

/// `GET /api/system/seed`: the server's history as a ready store, so a page that opens mid-run
/// shows the last hour at once instead of empty charts.
#[server(prefix = "/api/system", endpoint = "seed", input = GetUrl)]
pub async fn fetch_seed() -> Result<MetricsStore, ServerFnError> {
    use crate::server::state::AppState;
    let app =
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
    Ok(crate::server::api::seed(&app))
}
