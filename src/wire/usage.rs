//! GPU usage over a range, per person, owner, job or GPU: `GET /api/system/usage` and the Usage
//! page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the rows of a usage report are.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum UsageGrouping {
    /// People (the login user behind a service account).
    #[default]
    User,
    /// Where they ran: a unit, a container, a pod, a Slurm job.
    Owner,
    /// Emitted jobs.
    Job,
    /// GPUs, by UUID.
    Gpu,
}

impl UsageGrouping {
    pub fn name(self) -> &'static str {
        match self {
            UsageGrouping::User => "user",
            UsageGrouping::Owner => "owner",
            UsageGrouping::Job => "job",
            UsageGrouping::Gpu => "gpu",
        }
    }
}

/// `GET /api/system/usage`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: UsageGrouping,
    /// `minute` or `hour`: the rollup the sums were read from (hours once minutes are gone).
    pub resolution: String,
    /// Biggest holder first.
    pub rows: Vec<UsageRow>,
}

/// One person's (owner's, job's, GPU's) use over the range.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct UsageRow {
    pub name: String,
    /// GPU-hours with memory held (a GPU shared by two is split by the memory each holds).
    pub gpu_hours_held: f64,
    /// GPU-hours of work: their own SM share where the driver reports per-process samples, the
    /// GPU's utilization split by memory share where it does not.
    pub gpu_hours_used: f64,
    /// Used ÷ held, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efficiency_percent: Option<f64>,
    /// Of the used hours, the percentage measured from per-process samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_from_samples_percent: Option<f64>,
    /// GPU-hours held while the GPU was idle-held.
    pub idle_held_hours: f64,
    pub memory_gib_hours: f64,
    pub energy_wh: f64,
    /// Where they ran and which jobs, biggest first (at most three each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_owners: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_jobs: Vec<String>,
    /// The GPUs (UUIDs) they used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
    /// The first and last minute (or hour) they held a GPU in the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_held: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_held: Option<DateTime<Utc>>,
}
