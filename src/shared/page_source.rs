//! What the page's server functions read, as the server provides it. The app declares the
//! functions (their bodies run on the server) and finds this source in Leptos' context; the server
//! implements it, so the browser side never names a server type.

use crate::wire::{CurrentMetrics, GpuList, PageSeed};
use std::sync::Arc;

/// The server's answers to `/api/system/metrics`, `/gpus` and `/seed`, read from memory.
pub trait PageSource: Send + Sync {
    fn current_metrics(&self) -> CurrentMetrics;
    fn gpus(&self) -> GpuList;
    fn page_seed(&self) -> PageSeed;
}

/// How the source travels in Leptos' context.
pub type SharedPageSource = Arc<dyn PageSource>;
