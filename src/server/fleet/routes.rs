//! `GET /api/fleet` (JSON) and `GET /fleet` (the page), both taking `?q=`, `?sort=`, `?order=`.

use super::page;
use super::select::{Selection, explain, select};
use crate::server::error::HttpError;
use crate::server::state::AppState;
use crate::wire::FleetView;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

fn selection(query: Result<Query<Selection>, QueryRejection>) -> Result<Selection, HttpError> {
    let Query(selection) = query.map_err(|e| HttpError::BadRequest(explain(&e.body_text())))?;
    selection
        .check()
        .map_err(|e| HttpError::BadRequest(explain(&e)))?;
    Ok(selection)
}

/// The query checked, and the hosts as last read; or the answer to a bad query.
async fn read(
    app: &AppState,
    query: Result<Query<Selection>, QueryRejection>,
) -> Result<(Selection, std::sync::Arc<FleetView>), Response> {
    let selection = selection(query).map_err(IntoResponse::into_response)?;
    Ok((selection, app.fleet.current().await))
}

pub async fn api(
    State(app): State<AppState>,
    query: Result<Query<Selection>, QueryRejection>,
) -> Response {
    let (selection, view) = match read(&app, query).await {
        Ok(read) => read,
        Err(bad) => return bad,
    };
    let answer = FleetView {
        hosts: select(&view.hosts, &selection)
            .into_iter()
            .cloned()
            .collect(),
        ..FleetView::clone(&view)
    };
    Json(answer).into_response()
}

pub async fn fleet_page(
    State(app): State<AppState>,
    query: Result<Query<Selection>, QueryRejection>,
) -> Response {
    let (selection, view) = match read(&app, query).await {
        Ok(read) => read,
        Err(bad) => return bad,
    };
    let mut response = Html(page::render(&view, &selection, chrono::Utc::now())).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(page::CSP),
    );
    response
}
