//! Access control when an access token is configured: every route (pages, server functions, REST,
//! `/metrics`, the WebSocket) needs `Authorization: Bearer <token>` or a session cookie, which a
//! browser gets by signing in once (a form, or `/?token=…` that redirects to the clean URL).
//! The emit endpoint is left to its own token, so neither token opens the other's door.

pub mod failures;
pub mod sessions;
pub mod sign_out;

use crate::server::http::body::read_limited;
use crate::server::http::error::HttpError;
use crate::server::http::token;
use crate::server::web::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "vitals_session";
const SIGN_IN_PATH: &str = "/sign-in";
const MAX_SIGN_IN_BYTES: usize = 4096;
/// Sign-in forms read at once; more get 503 until one is done (each has `BODY_READ_TIMEOUT`).
pub const MAX_SIGN_INS_READ_AT_ONCE: usize = 16;

/// Every value of cookie `name`: a browser may send two of one name (another path's, or one a
/// page set), and any of them may be the right one.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(key, _)| *key == name)
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

/// The URL without its `token` parameter, for the redirect after signing in by link: always a path
/// on this server (`//evil.example/` would be another host to a browser, so leading slashes and
/// backslashes collapse to one).
fn without_token(path: &str, query: Option<&str>) -> String {
    let local = format!("/{}", path.trim_start_matches(['/', '\\']));
    let rest: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token="))
        .collect();
    if rest.is_empty() {
        local
    } else {
        format!("{local}?{}", rest.join("&"))
    }
}

/// The cookie that carries session `id`; an empty one that ends now clears it.
fn session_cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = if id.is_empty() {
        0
    } else {
        crate::server::web::auth::sessions::SESSION_LIFETIME.as_secs()
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// Served over TLS: by a TLS-terminating proxy in front (which says so), since Vitals itself
/// speaks HTTP. Behind a chain of proxies the first one the browser reached is named first
/// (`https, http`).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
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
    if !wants_html(headers) {
        return HttpError::Unauthorized(message.to_owned()).into_response();
    }
    let mut page = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        SIGN_IN_PAGE,
    )
        .into_response();
    let headers = page.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="vitals""#),
    );
    page
}

const NEED_TOKEN: &str = "this Vitals server needs its access token: send 'Authorization: Bearer <token>', or open /?token=<token> once in a browser";

/// A wrong token: counted against its client, which is refused unread once it had too many.
fn wrong_token(app: &AppState, client: IpAddr, headers: &HeaderMap) -> Response {
    if app.failures.blocked(client) {
        return HttpError::TooManyRequests(
            "too many wrong tokens from this address: wait a minute and try again".into(),
        )
        .into_response();
    }
    app.failures.record(client);
    unauthorized(headers, "wrong access token")
}

/// The address a request comes from: the peer's, or, when the peer is a configured trusted proxy,
/// the nearest address in `X-Forwarded-For` that is not one of the trusted proxies. The header is
/// never read from anyone else, so a client cannot pick the address it is counted under.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .map(|hop| hop.parse::<IpAddr>().map(canonical))
        .find(|hop| !matches!(hop, Ok(ip) if trusted.contains(ip)))
        .and_then(Result::ok)
        .unwrap_or(peer)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The middleware in front of every route. A request with the right credentials is always served,
/// whatever came before from its address; only wrong tokens count as failures, and only they are
/// refused once an address has had too many.
pub async fn require_token(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(access_token) = app.config.access_token.as_deref() else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    let headers = request.headers();
    let has_session = cookie_values(headers, SESSION_COOKIE).next().is_some();
    if token::bearer_matches(headers, access_token)
        || cookie_values(headers, SESSION_COOKIE).any(|id| app.sessions.is_valid(id))
    {
        return next.run(request).await;
    }
    let headers = headers.clone();
    let client = client_address(peer.ip(), &headers, &app.config.trusted_proxies);
    let secure = over_tls(&headers);

    if path == SIGN_IN_PATH && request.method() == Method::POST {
        // A form body is read before anyone is known: only a few at a time, so clients that
        // trickle theirs cannot keep many connections busy (busy ones are never closed for room).
        let Ok(_reading) = app.sign_in_reads.clone().try_acquire_owned() else {
            return HttpError::ServiceUnavailable(
                "too many sign-ins in progress: try again in a few seconds".into(),
            )
            .into_response();
        };
        let body = match read_limited(&headers, request.into_body(), MAX_SIGN_IN_BYTES).await {
            Ok(body) => body,
            Err(error) => return error.into_response(),
        };
        let given = String::from_utf8_lossy(&body)
            .split('&')
            .find_map(|pair| pair.strip_prefix("token=").map(percent_decode))
            .unwrap_or_default();
        if token::matches(&given, access_token) {
            return signed_in("/", &app.sessions.open(), secure);
        }
        return wrong_token(&app, client, &headers);
    }
    if let Some(given) = query_token(request.uri().query()) {
        if token::matches(&given, access_token) {
            let method = request.method();
            if method == Method::GET || method == Method::HEAD {
                let clean = without_token(&path, request.uri().query());
                return signed_in(&clean, &app.sessions.open(), secure);
            }
            // Right, but a link only signs in a page load: say how instead of counting it.
            return HttpError::BadRequest(format!(
                "a token in the query string only signs in a browser (GET); send this {method} with 'Authorization: Bearer <token>'"
            ))
            .into_response();
        }
        return wrong_token(&app, client, &headers);
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return wrong_token(&app, client, &headers);
    }
    if has_session {
        // An old tab after a restart, or an expired session: not a guess at the token.
        return unauthorized(
            &headers,
            "your session has expired or the server restarted: sign in again",
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
    fn the_redirect_drops_only_the_token_and_stays_on_this_server() {
        assert_eq!(without_token("/", Some("token=x")), "/");
        assert_eq!(without_token("/", Some("a=1&token=x&b=2")), "/?a=1&b=2");
        assert_eq!(
            without_token("//evil.example/", Some("token=x")),
            "/evil.example/"
        );
        assert_eq!(without_token("/\\evil.example", None), "/evil.example");
        assert_eq!(without_token("///x", None), "/x");
    }

    #[test]
    fn the_forwarded_address_is_read_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.7, 198.51.100.2"),
        );
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_address(proxy, &headers, &[]), proxy, "not trusted");
        assert_eq!(
            client_address(proxy, &headers, &[proxy]),
            "198.51.100.2".parse::<IpAddr>().unwrap(),
            "the hop the proxy saw, not what the client claimed before it"
        );
        let chain: [IpAddr; 2] = [proxy, "198.51.100.2".parse().unwrap()];
        assert_eq!(
            client_address(proxy, &headers, &chain),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(proxy, &HeaderMap::new(), &[proxy]),
            proxy,
            "no header: the proxy itself"
        );
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            client_address(mapped, &headers, &[proxy]),
            "198.51.100.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; vitals_session=abc; x=y"),
        );
        assert_eq!(
            cookie_values(&headers, SESSION_COOKIE).collect::<Vec<_>>(),
            ["abc"]
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("vitals_session=bogus; vitals_session=def"),
        );
        assert_eq!(
            cookie_values(&headers, SESSION_COOKIE).collect::<Vec<_>>(),
            ["abc", "bogus", "def"]
        );
    }

    #[test]
    fn the_first_proxy_of_a_chain_says_whether_the_browser_is_on_tls() {
        let proto = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-proto", HeaderValue::from_static(value));
            over_tls(&headers)
        };
        assert!(proto("https") && proto("HTTPS") && proto("https, http") && proto(" https ,http"));
        assert!(!proto("http") && !proto("http, https"));
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
}
