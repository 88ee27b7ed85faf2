//! Signing out of token mode: `POST /sign-out` ends the sessions the browser's cookies name,
//! clears the cookie and goes back to the start (which asks for the token again); `GET
//! /sign-out` is a page with the button. Changing the access token signs everyone out.

use crate::server::web::auth::{SESSION_COOKIE, cookie_values, over_tls, session_cookie};
use crate::server::web::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const SIGN_OUT_PATH: &str = "/sign-out";

const SIGN_OUT_PAGE: &str = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Vitals: sign out</title></head>
<body><form method="post" action="/sign-out"><h1>Vitals</h1><p>Sign this browser out of the dashboard.</p><button type="submit">Sign out</button></form></body></html>"#;

/// `GET /sign-out`: the page with the button.
pub async fn page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        SIGN_OUT_PAGE,
    )
        .into_response()
}

/// `POST /sign-out`: ends the sessions and clears the cookie.
pub async fn sign_out(State(app): State<AppState>, headers: HeaderMap) -> Response {
    for id in cookie_values(&headers, SESSION_COOKIE) {
        app.sessions.close(id);
    }
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", over_tls(&headers)));
    response
}
