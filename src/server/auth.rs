//! Access control when an access token is configured: every route (pages, server functions, REST,
//! `/metrics`, the WebSocket) needs `Authorization: Bearer <token>` or a session cookie, which a
//! browser gets by signing in once (a form, or `/?token=…` that redirects to the clean URL).
//! The emit endpoint is left to its own token, so neither token opens the other's door.

use super::emit::bearer_matches;
use super::state::AppState;
use crate::wire::ApiError;
use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "vitals_session";
const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_SESSIONS: usize = 4096;
/// Wrong tokens one address may try per window before it has to wait.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const SIGN_IN_PATH: &str = "/sign-in";
const MAX_SIGN_IN_BYTES: usize = 4096;

/// Sessions handed to browsers, and failed attempts per address.
#[derive(Default)]
pub struct Guard {
    sessions: Mutex<HashMap<String, Instant>>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Guard {
    fn new_session(&self) -> String {
        let id = super::token::random_token();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        sessions.retain(|_, expires| *expires > now);
        if sessions.len() >= MAX_SESSIONS {
            // Drop the session closest to expiry, so the table stays bounded.
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), now + SESSION_LIFETIME);
        id
    }

    fn session_valid(&self, id: &str) -> bool {
        // Session ids are 256 random bits: a map lookup leaks nothing a guess could use.
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(id)
            .is_some_and(|expires| *expires > Instant::now())
    }

    fn blocked(&self, ip: IpAddr) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(&ip).is_some_and(|(count, since)| {
            *count >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW
        })
    }

    fn record_failure(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        let entry = failures.entry(ip).or_insert((0, Instant::now()));
        entry.0 += 1;
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "token").then(|| percent_decode(value))
    })
}

/// Decodes `%XX` and `+` of a query or form value.
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL without its `token` parameter, for the redirect after signing in by link.
fn without_token(path: &str, query: Option<&str>) -> String {
    let rest: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token="))
        .collect();
    if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

fn session_cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = SESSION_LIFETIME.as_secs();
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// Served over TLS: by a TLS-terminating proxy in front (which says so), since Vitals itself speaks HTTP.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn signed_in(location: &str, id: &str, secure: bool) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(id, secure));
    response
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

const SIGN_IN_PAGE: &str = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Vitals: sign in</title>
<style>body{font:15px system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0}form{display:grid;gap:8px;min-width:min(90vw,340px)}input,button{font:inherit;padding:6px}</style></head>
<body><form method="post" action="/sign-in"><h1>Vitals</h1><label for="token">This dashboard needs its access token.</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus><button type="submit">Sign in</button></form></body></html>"#;

fn unauthorized(headers: &HeaderMap, message: &str) -> Response {
    let mut response = if wants_html(headers) {
        let mut page = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            SIGN_IN_PAGE,
        )
            .into_response();
        page.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
        );
        page
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(ApiError {
                error: message.to_owned(),
            }),
        )
            .into_response()
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="vitals""#),
    );
    response
}

const NEED_TOKEN: &str = "this Vitals server needs its access token: send 'Authorization: Bearer <token>', or open /?token=<token> once in a browser";

/// The middleware in front of every route.
pub async fn require_token(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = app.config.access_token.as_deref() else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    if path == "/api/internal/ws/emit" {
        return next.run(request).await;
    }
    let ip = peer.ip();
    if app.guard.blocked(ip) {
        return super::guard::error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong tokens from this address: wait a minute and try again",
        );
    }
    let headers = request.headers().clone();
    if path == SIGN_IN_PATH && request.method() == Method::POST {
        let body = axum::body::to_bytes(request.into_body(), MAX_SIGN_IN_BYTES)
            .await
            .unwrap_or_default();
        let given = String::from_utf8_lossy(&body)
            .split('&')
            .find_map(|pair| pair.strip_prefix("token=").map(percent_decode))
            .unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return signed_in("/", &app.guard.new_session(), over_tls(&headers));
        }
        app.guard.record_failure(ip);
        return unauthorized(&headers, "wrong access token");
    }
    if bearer_matches(&headers, token)
        || cookie_value(&headers, SESSION_COOKIE).is_some_and(|id| app.guard.session_valid(id))
    {
        return next.run(request).await;
    }
    if let Some(given) = query_token(request.uri().query()) {
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) && request.method() == Method::GET {
            let clean = without_token(&path, request.uri().query());
            return signed_in(&clean, &app.guard.new_session(), over_tls(&headers));
        }
        app.guard.record_failure(ip);
        return unauthorized(&headers, "wrong access token");
    }
    if headers.contains_key(header::AUTHORIZATION)
        || cookie_value(&headers, SESSION_COOKIE).is_some()
    {
        app.guard.record_failure(ip);
        return unauthorized(
            &headers,
            "wrong access token or expired session; sign in again",
        );
    }
    unauthorized(&headers, NEED_TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_values_are_decoded() {
        assert_eq!(
            query_token(Some("a=1&token=ab%2Bc+d")),
            Some("ab+c d".to_owned())
        );
        assert_eq!(query_token(Some("a=1")), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn the_redirect_drops_only_the_token() {
        assert_eq!(without_token("/", Some("token=x")), "/");
        assert_eq!(without_token("/", Some("a=1&token=x&b=2")), "/?a=1&b=2");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; vitals_session=abc; x=y"),
        );
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("abc"));
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let cookie = session_cookie("id", false);
        let text = cookie.to_str().unwrap();
        assert!(
            text.contains("HttpOnly")
                && text.contains("SameSite=Strict")
                && !text.contains("Secure")
        );
        assert!(
            session_cookie("id", true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn failures_block_an_address_for_a_while() {
        let guard = Guard::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!guard.blocked(ip));
            guard.record_failure(ip);
        }
        assert!(guard.blocked(ip));
        assert!(!guard.blocked("192.0.2.10".parse().unwrap()));
    }

    #[test]
    fn sessions_are_remembered() {
        let guard = Guard::default();
        let id = guard.new_session();
        assert!(guard.session_valid(&id));
        assert!(!guard.session_valid("nope"));
    }
}
