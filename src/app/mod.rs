//! The browser side: the page shell, the dashboard and its parts.

pub mod alerts;
pub mod api;
pub mod chart_view;
pub mod charts;
pub mod connection;
pub mod dashboard;
pub mod dom;
pub mod format;
pub mod gpu_depth;
pub mod gpu_detail;
pub mod job_card;
pub mod jobs;
pub mod json;
pub mod live;
pub mod process_card;
pub mod processes;
pub mod seed;
#[cfg(feature = "ssr")]
mod shell;
pub mod store;
pub mod stored;
pub mod tab;
pub mod theme;
pub mod timeline;

use leptos::prelude::*;
use leptos_meta::provide_meta_context;
#[cfg(feature = "ssr")]
pub use shell::shell;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <dashboard::Dashboard />
    }
}
