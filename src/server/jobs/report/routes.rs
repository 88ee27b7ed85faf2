//! `GET /api/system/jobs/report?channel=…` and `GET /api/system/jobs/compare?a=…&b=…` (JSON), the
//! printable `GET /jobs/report?channel=…`, the Jobs card's panel `GET /jobs/report/panel?channel=…`
//! and the comparison page `GET /jobs/compare?a=…&b=…`. Reports are worked out on a blocking thread
//! in turn with the other history reads; an ended run's is kept once its history is all saved.

use crate::server::history::writer::BATCH_EVERY;
use crate::server::http::error::HttpError;
use crate::server::http::query::Query;
use crate::server::http::server_page;
use crate::server::jobs::Jobs;
use crate::server::jobs::convention::JOBS_PREFIX;
use crate::server::jobs::fields::metrics_between;
use crate::server::jobs::report::compare_page::{self, RunLines};
use crate::server::jobs::report::{RunInputs, compare, page, report, span_of};
use crate::server::runtime::turns::in_turn;
use crate::wire::{Job, JobComparison, JobReport, JobStatus};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct ReportQuery {
    channel: Option<String>,
}

#[derive(Deserialize)]
pub struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
}

/// The job of a channel asked for, as the book lists it now (with the GPUs found running it).
pub fn job_of(jobs: &Jobs, channel: Option<&str>, asked: &str) -> Result<Job, HttpError> {
    let channel = channel
        .filter(|c| c.starts_with(JOBS_PREFIX))
        .ok_or_else(|| {
            HttpError::BadRequest(format!(
                "ask for a job's channel: {asked}=jobs/train-1 (GET /api/system/jobs lists them)"
            ))
        })?;
    let gpus = (jobs.gpus_now)();
    jobs.book
        .list(Utc::now(), &gpus)
        .jobs
        .into_iter()
        .find(|job| job.channel == channel)
        .ok_or_else(|| {
            HttpError::NotFound(format!(
                "no job '{channel}': GET /api/system/jobs lists the jobs this server knows"
            ))
        })
}

/// The run's report: kept if it has ended and was worked out whole, else read now.
pub async fn report_of(jobs: &Jobs, job: Job) -> Result<Arc<JobReport>, HttpError> {
    let ended_ms = job
        .ended
        .filter(|_| matches!(job.status, JobStatus::Ok | JobStatus::Failed))
        .map(|t| t.timestamp_millis());
    if let Some(ended) = ended_ms
        && let Some(kept) = jobs.reports.get(&job.channel, ended)
    {
        return Ok(kept);
    }
    let Some(db) = jobs.durable.db.clone() else {
        return Err(HttpError::ServiceUnavailable(match &jobs.durable.problem {
            Some(problem) => format!("no run report: the history is not being saved ({problem})"),
            None => "a run report is read from the history database, and this server keeps none (--no-persist)".into(),
        }));
    };
    let settings = jobs.report_settings.clone();
    let for_work = jobs.clone();
    let work = move || {
        let now_ms = Utc::now().timestamp_millis();
        let (from, to) = span_of(&job, &[], now_ms);
        let sent = metrics_between(&for_work, &job.channel, from, to)?;
        let gpus_now = (for_work.gpus_now)();
        let inputs = RunInputs {
            job: &job,
            gpus_now: &gpus_now,
            sent: &sent,
            now_ms,
        };
        report(&db, &inputs, &settings)
            .map_err(|e| HttpError::Internal(format!("the run report could not be read: {e}")))
    };
    let built = Arc::new(
        in_turn(&jobs.history_reads, work)
            .await
            .map_err(|e| HttpError::Internal(format!("the run report failed: {e}")))??,
    );
    // Kept once everything up to its end has had time to be written.
    let settled = BATCH_EVERY.as_millis() as i64 + 3 * jobs.report_settings.interval_ms;
    if let Some(ended) = ended_ms
        && Utc::now().timestamp_millis() - ended > settled
    {
        jobs.reports.keep(ended, built.clone());
    }
    Ok(built)
}

/// `GET /api/system/jobs/report?channel=jobs/…`.
pub async fn api(
    State(jobs): State<Jobs>,
    Query(query): Query<ReportQuery>,
) -> Result<axum::Json<JobReport>, HttpError> {
    let job = job_of(&jobs, query.channel.as_deref(), "channel")?;
    Ok(axum::Json(report_of(&jobs, job).await?.as_ref().clone()))
}

async fn comparison(
    jobs: &Jobs,
    query: &CompareQuery,
) -> Result<(JobComparison, [RunLines; 2]), HttpError> {
    let a = job_of(jobs, query.a.as_deref(), "a")?;
    let b = job_of(jobs, query.b.as_deref(), "b")?;
    let (ra, rb) = (report_of(jobs, a).await?, report_of(jobs, b).await?);
    let lines = compare_page::lines_of(jobs, &ra, &rb).await?;
    Ok((compare::compare((*ra).clone(), (*rb).clone()), lines))
}

/// `GET /api/system/jobs/compare?a=jobs/…&b=jobs/…`.
pub async fn api_compare(
    State(jobs): State<Jobs>,
    Query(query): Query<CompareQuery>,
) -> Result<axum::Json<JobComparison>, HttpError> {
    Ok(axum::Json(comparison(&jobs, &query).await?.0))
}

/// `GET /jobs/report?channel=jobs/…`: the printable page.
pub async fn report_page(State(jobs): State<Jobs>, Query(query): Query<ReportQuery>) -> Response {
    let answer = match job_of(&jobs, query.channel.as_deref(), "channel") {
        Ok(job) => report_of(&jobs, job).await,
        Err(error) => Err(error),
    };
    let failed = answer.as_ref().err().map(HttpError::status);
    let mut response = server_page::answer(page::render(&answer.map_err(|e| e.to_string())));
    if let Some(status) = failed {
        *response.status_mut() = status;
    }
    response
}

/// `GET /jobs/report/panel?channel=jobs/…`: the Jobs card's report panel, as HTML to put in place.
pub async fn panel(State(jobs): State<Jobs>, Query(query): Query<ReportQuery>) -> Response {
    let answer = match job_of(&jobs, query.channel.as_deref(), "channel") {
        Ok(job) => report_of(&jobs, job).await,
        Err(error) => Err(error),
    };
    let others: Vec<(String, String)> = jobs
        .book
        .list(Utc::now(), &[])
        .jobs
        .into_iter()
        .map(|job| {
            let name = job.name.clone().unwrap_or_else(|| job.channel.clone());
            (job.channel, name)
        })
        .collect();
    let html = page::panel(&answer.map_err(|e| e.to_string()), &others);
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// `GET /jobs/compare?a=jobs/…&b=jobs/…`: two runs on one time axis from their starts.
pub async fn compare_page(State(jobs): State<Jobs>, Query(query): Query<CompareQuery>) -> Response {
    let answer = comparison(&jobs, &query).await;
    let failed = answer.as_ref().err().map(HttpError::status);
    let mut response =
        server_page::answer(compare_page::render(&answer.map_err(|e| e.to_string())));
    if let Some(status) = failed {
        *response.status_mut() = status;
    }
    response
}
