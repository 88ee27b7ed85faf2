//! `GET /api/fleet` (JSON) and `GET /fleet` (the page), both taking `?q=`, `?sort=`, `?order=`.

use super::Fleet;
use crate::server::fleet::page;
use crate::server::fleet::select::{MAX_HOSTS_SHOWN, Selection, explain, select};
use crate::server::http::error::HttpError;
use crate::server::http::query::Query;
use crate::server::http::server_page;
use crate::server::runtime::turns::in_turn;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
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

/// `GET /api/fleet`: the selection's first `MAX_HOSTS_SHOWN` hosts, selected and encoded on a
/// blocking thread (a big fleet takes milliseconds that the async workers owe everyone else).
pub async fn api(State(fleet): State<Arc<Fleet>>, Checked(selection): Checked) -> Response {
    let view = fleet.current().await;
    off_the_workers(&fleet, move || {
        let matched = select(&view.hosts, &selection);
        let omitted = matched.len().saturating_sub(MAX_HOSTS_SHOWN);
        let hosts = matched.into_iter().take(MAX_HOSTS_SHOWN).cloned().collect();
        let mut answer = view.with_hosts(hosts, Utc::now());
        answer.omitted_hosts = omitted;
        Json(answer).into_response()
    })
    .await
}

/// `GET /fleet`: the page, rendered on a blocking thread.
pub async fn fleet_page(State(fleet): State<Arc<Fleet>>, Checked(selection): Checked) -> Response {
    let view = fleet.current().await;
    off_the_workers(&fleet, move || {
        server_page::answer(page::render(&view, &selection, Utc::now()))
    })
    .await
}

/// Runs `answer` on a blocking thread, one fleet answer at a time: viewers of a big fleet
/// waiting their turn hold nothing meanwhile.
async fn off_the_workers(
    fleet: &Fleet,
    answer: impl FnOnce() -> Response + Send + 'static,
) -> Response {
    in_turn(&fleet.answers, answer).await.unwrap_or_else(|e| {
        HttpError::Internal(format!("the fleet answer failed: {e}")).into_response()
    })
}
