//! `GET /api/fleet` (JSON) and `GET /fleet` (the page), both taking `?q=`, `?sort=`, `?order=`.

use super::Fleet;
use crate::server::fleet::page;
use crate::server::fleet::select::{Selection, explain, select};
use crate::server::http::error::HttpError;
use crate::server::http::query::Query;
use crate::wire::FleetView;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use std::sync::Arc;

/// The query string, checked: a bad one is answered 400 with the forms that work.
pub struct Checked(Selection);

impl<S: Send + Sync> FromRequestParts<S> for Checked {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(selection) = Query::<Selection>::from_request_parts(parts, state)
            .await
            .map_err(|e| HttpError::BadRequest(explain(&e.to_string())))?;
        selection
            .check()
            .map_err(|e| HttpError::BadRequest(explain(&e)))?;
        Ok(Checked(selection))
    }
}

pub async fn api(State(fleet): State<Arc<Fleet>>, Checked(selection): Checked) -> Json<FleetView> {
    let view = fleet.current().await;
    let hosts = select(&view.hosts, &selection)
        .into_iter()
        .cloned()
        .collect();
    Json(view.with_hosts(hosts, Utc::now()))
}

pub async fn fleet_page(State(fleet): State<Arc<Fleet>>, Checked(selection): Checked) -> Response {
    let view = fleet.current().await;
    let mut response = Html(page::render(&view, &selection, Utc::now())).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(page::CSP),
    );
    response
}
