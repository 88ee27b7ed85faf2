//! The HTML documents the server renders around the app: the dashboard's, which carries the
//! page's seed and its script policy, and a small "not found" page for every other path.
//! Server only: the browser hydrates the dashboard inside the document it was given.

use crate::app::{App, seed};
use crate::server::web::state::AppState;
use leptos::prelude::*;
use leptos_meta::MetaTags;

/// The document for this request. The dashboard lives at `/` only; any other path that is not a
/// file gets the small page, not the dashboard and its seed.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    set_page_security_policy(&options);
    if !is_dashboard_request() {
        return not_found().into_any();
    }
    let seed_json = provide_page_seed();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                {shared_head()}
                // ECharts, served from our own origin: charming drives it as the global `echarts`.
                <script src="/vendor/echarts.min.js"></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
                {seed_json.map(|json| view! {
                    <script type="application/json" id=seed::SEED_ELEMENT_ID inner_html=json></script>
                })}
            </head>
            <body>
                <App />
            </body>
        </html>
    }
    .into_any()
}

/// What the head of every document the server renders starts with.
fn shared_head() -> impl IntoView {
    view! {
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/pkg/vitals.css" />
    }
}

fn is_dashboard_request() -> bool {
    use_context::<axum::http::request::Parts>().is_none_or(|parts| parts.uri.path() == "/")
}

/// No app, no data: a missing asset or a mistyped path costs next to nothing.
fn not_found() -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                {shared_head()}
                <title>"Not found · Vitals"</title>
            </head>
            <body>
                <main class="not-found" data-testid="not-found">
                    <h1>"Not found"</h1>
                    <p>"There is nothing at this address. " <a href="/">"Open the dashboard"</a></p>
                </main>
            </body>
        </html>
    }
}

/// Computes this request's seed once: the dashboard renders from it (context) and the page carries
/// it to the browser (the returned JSON).
fn provide_page_seed() -> Option<String> {
    let app = use_context::<AppState>()?;
    let page_seed = crate::server::web::api::page_seed(&app);
    let json = seed::embeddable_json(&page_seed);
    provide_context(page_seed);
    json
}

/// Pages get a Content-Security-Policy naming the nonce of their one inline bootstrap script
/// (and, under `cargo leptos watch`, the live-reload socket's port, as `AutoReload` picks it).
fn set_page_security_policy(options: &LeptosOptions) {
    use axum::http::{HeaderValue, header};
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let reload_port = std::env::var_os("LEPTOS_WATCH")
        .is_some()
        .then(|| options.reload_external_port.unwrap_or(options.reload_port));
    let policy = crate::server::http::guard::page_csp(&nonce, reload_port);
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
