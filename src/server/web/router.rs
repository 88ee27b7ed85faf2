//! The router: every capability's routes mounted on one axum router, with the page and the
//! embedded site behind them and the Host check, the access token and the security headers in
//! front. With the page shell, the one server file that knows the app.

use crate::app::App;
use crate::server::fleet;
use crate::server::health;
use crate::server::http::guard::{self, HostRules};
use crate::server::http::site;
use crate::server::jobs::emit::{self, EMIT_PATH};
use crate::server::jobs::fields;
use crate::server::jobs::report::routes as run_report;
use crate::server::prometheus;
use crate::server::usage;
use crate::server::web::shell::shell;
use crate::server::web::state::AppState;
use crate::server::web::{api, auth, ws};
use crate::shared::page_source::SharedPageSource;
use axum::Router;
use axum::extract::FromRef;
use axum::handler::Handler;
use axum::middleware;
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let page_source: SharedPageSource = Arc::new(state.clone());
    let provide_state = move || {
        leptos::context::provide_context(context_state.clone());
        leptos::context::provide_context(page_source.clone());
    };
    let page_options = state.leptos_options.clone();
    // Emitters carry the emit token, checked by the route itself: this router stays outside the
    // access-token layer, so neither token opens the other's door.
    let emit = Router::new().route(EMIT_PATH, post(emit::emit));
    let dashboard = Router::new()
        .route("/ws", get(ws::upgrade))
        // /api/system/metrics, /gpus and /seed are server functions (app/api.rs), mounted with the pages.
        .route(
            auth::sign_out::SIGN_OUT_PATH,
            get(auth::sign_out::page).post(auth::sign_out::sign_out),
        )
        .route("/api/system/history", get(api::history))
        .route("/api/system/alerts", get(api::alerts))
        .route("/api/system/processes", get(api::processes))
        .route("/api/system/jobs", get(api::jobs))
        .route("/api/system/jobs/fields", get(fields::job_fields))
        .route("/api/system/jobs/report", get(run_report::api))
        .route("/api/system/jobs/compare", get(run_report::api_compare))
        .route("/jobs/report", get(run_report::report_page))
        .route("/jobs/report/panel", get(run_report::panel))
        .route("/jobs/compare", get(run_report::compare_page))
        .route("/metrics", get(prometheus::metrics))
        .route("/api/fleet", get(fleet::routes::api))
        .route("/fleet", get(fleet::routes::fleet_page))
        .route("/api/system/usage", get(usage::routes::api))
        .route("/usage", get(usage::routes::usage_page))
        .route("/api/system/health", get(health::routes::api))
        .route("/health", get(health::routes::health_page))
        .route("/health/card", get(health::routes::card))
        .leptos_routes_with_context(&state, routes, provide_state, move || {
            shell(page_options.clone())
        })
        // Pages, the seed and REST answers change every tick, so they are compressed on every
        // request: the fastest level, since a default gzip of a full hour's seed cost three
        // times the CPU of producing it.
        .route_layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        // The site: from the binary when it carries it (already compressed), else from disk,
        // where the WASM module and ECharts shrink to a third: it matters on a remote link.
        .fallback(
            site_or_page(shell).layer(CompressionLayer::new().compress_when(site::compressible)),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    // Layers run bottom-up: targets no route can answer refused first, then the Host check, then
    // the token (or the emit route's own).
    Router::new()
        .merge(dashboard)
        .merge(emit)
        .layer(middleware::from_fn_with_state(
            HostRules::from_ref(&state),
            guard::check_host,
        ))
        .layer(middleware::from_fn(guard::require_path))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(state)
}

/// The fallback route: an embedded site file, else leptos' handler (a file on disk, or the page
/// that says there is nothing at this address).
fn site_or_page<IV: leptos::prelude::IntoView + 'static>(
    shell: impl Fn(LeptosOptions) -> IV + Clone + Send + 'static,
) -> impl Fn(
    axum::http::Uri,
    axum::extract::State<AppState>,
    axum::extract::Request,
) -> std::pin::Pin<Box<dyn Future<Output = axum::response::Response> + Send>>
+ Clone
+ Send
+ 'static {
    let from_disk = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    move |uri, state, request| match site::file(uri.path()) {
        Some(file) => {
            let response = site::respond(file, request.method(), request.headers());
            Box::pin(async move { response })
        }
        None => from_disk(uri, state, request),
    }
}
