//! The browser side: the dashboard and its parts (the page shell around it is the server's).

pub mod alerts;
pub mod api;
pub mod chart_option;
pub mod chart_view;
pub mod charts;
pub mod connection;
pub mod dashboard;
pub mod dom;
pub mod gpu_depth;
pub mod gpu_detail;
pub mod health_card;
pub mod job_card;
pub mod jobs;
pub mod live;
pub mod process_card;
pub mod processes;
pub mod seed;
pub mod server_html;
pub mod stored;
pub mod tab;
pub mod theme;
pub mod timeline;

use leptos::prelude::*;
use leptos_meta::provide_meta_context;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <dashboard::Dashboard />
    }
}
