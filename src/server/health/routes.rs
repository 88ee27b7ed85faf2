//! `GET /api/system/health` (JSON), `GET /health` (the page) and `GET /health/card` (the card's
//! HTML, which the dashboard puts in place): all three read the report of the latest tick.

use crate::server::health::{Health, page};
use crate::server::http::server_page;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

pub async fn api(State(health): State<Arc<Health>>) -> Response {
    Json(health.report()).into_response()
}

pub async fn health_page(State(health): State<Arc<Health>>) -> Response {
    server_page::answer(page::render(&health.report(), chrono::Utc::now()))
}

pub async fn card(State(health): State<Arc<Health>>) -> Response {
    let mut response = Html(page::card(&health.report(), chrono::Utc::now())).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
