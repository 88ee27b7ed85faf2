//! Request guards: the Host allowlist (against DNS rebinding), the WebSocket Origin check, and the
//! security headers every response carries.

use crate::server::http::error::HttpError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Host names every server answers to; more come from `--allow-host`.
const LOOPBACK_HOSTS: [&str; 4] = ["localhost", "127.0.0.1", "[::1]", "::1"];

/// The host part of a `Host` header or an origin's authority, without the port, lowercased.
pub fn host_without_port(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if authority.starts_with('[') {
        // [::1]:3000 → [::1]
        return authority
            .split_inclusive(']')
            .next()
            .unwrap_or_default()
            .to_owned();
    }
    authority.split(':').next().unwrap_or_default().to_owned()
}

/// Whether a request's `Host` is one this server answers to.
pub fn host_allowed(host: &str, extra: &[String], bound_ip: Option<&str>) -> bool {
    let name = host_without_port(host);
    LOOPBACK_HOSTS.contains(&name.as_str())
        || extra
            .iter()
            .any(|allowed| host_without_port(allowed) == name)
        || bound_ip.is_some_and(|ip| ip == name)
}

/// Whether a WebSocket upgrade's `Origin` may open a socket: same host and port as the request,
/// or listed with `--allow-origin`. Clients that send no Origin (scripts, not browsers) may.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host.trim()))
}

/// The names this server answers to besides loopback ones: `--allow-host`, and the specific
/// address it is bound to (a loopback one besides 127.0.0.1 too).
#[derive(Clone, Debug, Default)]
pub struct HostRules {
    pub allowed: std::sync::Arc<[String]>,
    pub bound_ip: Option<String>,
}

/// Refuses what no route of ours can answer before any handler sees it: `CONNECT` (this is no
/// proxy) and a target without a path (authority form), which the page handler cannot route.
pub async fn require_path(request: Request, next: Next) -> Response {
    if request.method() == axum::http::Method::CONNECT {
        let mut response =
            HttpError::MethodNotAllowed("CONNECT: this is a dashboard, not a proxy".into())
                .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return response;
    }
    if request.uri().path_and_query().is_none() {
        return HttpError::BadRequest("the request target has no path: ask for /".into())
            .into_response();
    }
    next.run(request).await
}

/// Refuses requests whose `Host` is not ours, before any route sees them.
pub async fn check_host(State(rules): State<HostRules>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !host_allowed(host, &rules.allowed, rules.bound_ip.as_deref()) {
        let shown = host_without_port(host);
        return HttpError::Forbidden(format!(
            "host '{shown}' is not allowed; if you reach this server by that name, start it with --allow-host {shown}"
        ))
        .into_response();
    }
    next.run(request).await
}

/// Adds the headers that make every response safe by default. Pages set their own
/// Content-Security-Policy (with the hydration script's nonce); everything else gets a strict one.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    set_default(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    set_default(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(headers, header::X_FRAME_OPTIONS, "DENY");
    set_default(headers, header::REFERRER_POLICY, "no-referrer");
    response
}

fn set_default(headers: &mut HeaderMap, name: header::HeaderName, value: &'static str) {
    headers
        .entry(name)
        .or_insert(HeaderValue::from_static(value));
}

/// The page's policy: our own origin only, the WASM module, and the one inline bootstrap script.
/// Under `cargo leptos watch` (`reload_port`), the page may also open its live-reload socket on
/// that port; a release build never does.
pub fn page_csp(nonce: &str, reload_port: Option<u32>) -> String {
    let reload = reload_port
        .map(|port| format!(" ws://*:{port} wss://*:{port}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_watched_build_lets_the_page_reach_its_reload_socket() {
        let release = page_csp("n0nce", None);
        assert!(release.contains("connect-src 'self';"), "{release}");
        assert!(release.contains("'nonce-n0nce'"));
        let watched = page_csp("n0nce", Some(3001));
        assert!(
            watched.contains("connect-src 'self' ws://*:3001 wss://*:3001;"),
            "{watched}"
        );
    }

    #[test]
    fn hosts_are_matched_without_ports() {
        assert_eq!(host_without_port("LocalHost:3000"), "localhost");
        assert_eq!(host_without_port("[::1]:3000"), "[::1]");
        assert!(host_allowed("127.0.0.1:3000", &[], None));
        assert!(host_allowed("[::1]:80", &[], None));
        assert!(!host_allowed("evil.example:3000", &[], None));
        assert!(host_allowed("box.lan:3000", &["box.lan".into()], None));
        assert!(host_allowed("10.1.2.3:3000", &[], Some("10.1.2.3")));
        assert!(!host_allowed("", &[], None));
    }

    #[test]
    fn origins_must_match_the_host_or_the_allowlist() {
        assert!(origin_allowed(None, Some("127.0.0.1:3000"), &[]));
        assert!(origin_allowed(
            Some("http://127.0.0.1:3000"),
            Some("127.0.0.1:3000"),
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            Some("127.0.0.1:3000"),
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:4000"),
            Some("127.0.0.1:3000"),
            &[]
        ));
        assert!(!origin_allowed(Some("null"), Some("127.0.0.1:3000"), &[]));
        assert!(origin_allowed(
            Some("https://dash.example"),
            Some("box:3000"),
            &["https://dash.example/".into()]
        ));
    }
}
