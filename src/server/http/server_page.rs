//! Pages drawn whole on the server, with no WASM (the fleet, the usage): their document around a
//! body, and the answer that carries them under a policy that lets nothing run.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use leptos::prelude::*;

/// The pages' policy: our stylesheet and icon, nothing that runs.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page: its title, the body's class, a reload every `reload_seconds` when set, and its body.
pub fn document(
    title: &'static str,
    body_class: &'static str,
    reload_seconds: Option<String>,
    body: impl FnOnce() -> AnyView,
) -> String {
    let html = Owner::new().with(|| {
        view! {
            <html lang="en">
                <head>
                    <meta charset="utf-8" />
                    <meta name="viewport" content="width=device-width, initial-scale=1" />
                    {reload_seconds.map(|seconds| view! { <meta http-equiv="refresh" content=seconds /> })}
                    <title>{title}</title>
                    <link rel="stylesheet" href="/pkg/vitals.css" />
                    <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                </head>
                <body class=body_class>{body()}</body>
            </html>
        }
        .to_html()
    });
    format!("<!DOCTYPE html>{html}")
}

/// The page as an answer, under [`CSP`].
pub fn answer(html: String) -> Response {
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}
