//! Jobs and emitting: a job as the book tells it, the job list and fields, and the emit request and answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The event that starts a job (its name, command, pids and GPUs).
pub const EVENT_JOB_START: &str = "start";

/// The event that ends a job (`status` `ok` or `failed`): a channel whose last event it is has
/// ended, and is the first to make room when the server holds as many channels as it may.
pub const EVENT_JOB_END: &str = "end";

/// Where a job stands: sending, silent past its heartbeat, or ended well or badly.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Stalled,
    Ok,
    Failed,
}

/// One job: a `jobs/` channel, as its `start`, `metrics`, `end` and notes told it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Job {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<DateTime<Utc>>,
    /// When it last sent anything.
    pub last_seen: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u64>,
    /// The last value of each numeric field its `metrics` sent.
    #[serde(default)]
    pub fields: BTreeMap<String, f64>,
    #[serde(default)]
    pub pids: Vec<u32>,
    /// Of `pids`, those the user who emitted the start does not run (another user's processes,
    /// or gone): listed, but not used to find the job's GPUs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified_pids: Vec<u32>,
    /// The GPUs it uses, by UUID: declared at start, or found running its processes.
    #[serde(default)]
    pub gpus: Vec<String>,
    /// What its `end` said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /api/system/jobs`: running jobs first, then the recent ones, newest first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// `GET /api/system/jobs/fields`: one job's numeric fields over a span, each as `[ms, value]`
/// points, oldest first (averaged into buckets of `bucket_ms` where there were more than asked).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobFields {
    pub channel: String,
    pub from: i64,
    pub to: i64,
    pub bucket_ms: i64,
    pub fields: BTreeMap<String, Vec<[f64; 2]>>,
}

/// `POST /api/internal/ws/emit` body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmitRequest {
    pub channel: String,
    pub event: String,
    pub data: Value,
    /// The channel promises a message at least this often (1–86400 s): the `heartbeat` alert
    /// fires when it stays silent longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EmitResponse {
    pub delivered: usize,
    pub seq: u64,
    /// For a job's `end`: its run report's summary line, for the script's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}
