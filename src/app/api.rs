//! Server functions: the REST routes the page calls too, so both share one implementation.

use crate::wire::{CurrentMetrics, GpuList, PageSeed, ServerFnFailure};
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

impl FromServerFnError for ServerFnFailure {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::ServerError(message) => ServerFnFailure::Server(message),
            other => ServerFnFailure::Request(other.to_string()),
        }
    }
}

/// What every server function reads from memory, as the server put it in the context.
#[cfg(feature = "ssr")]
fn source() -> Result<crate::shared::page_source::SharedPageSource, ServerFnFailure> {
    use_context().ok_or_else(|| ServerFnFailure::Server("server state missing".into()))
}

/// `GET /api/system/metrics`: the latest sample of every channel (what the page polls while its
/// socket is down). Read from memory: a request never triggers a collection.
#[server(prefix = "/api/system", endpoint = "metrics", input = GetUrl)]
pub async fn fetch_current_metrics() -> Result<CurrentMetrics, ServerFnFailure> {
    Ok(source()?.current_metrics())
}

/// `GET /api/system/gpus`: every GPU with its availability and current jobs, or the reason there are none.
#[server(prefix = "/api/system", endpoint = "gpus", input = GetUrl)]
pub async fn fetch_gpu_list() -> Result<GpuList, ServerFnFailure> {
    Ok(source()?.gpus())
}

/// `GET /api/system/seed`: the same seed the page carries inside it (`seed.rs`), for other clients
/// that want the hello and the last hour in one request.
#[server(prefix = "/api/system", endpoint = "seed", input = GetUrl)]
pub async fn fetch_seed() -> Result<PageSeed, ServerFnFailure> {
    Ok(source()?.page_seed())
}
