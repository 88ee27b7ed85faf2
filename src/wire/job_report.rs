//! Run reports: what one job cost and suffered over its span (`GET /api/system/jobs/report`), and
//! two jobs side by side (`GET /api/system/jobs/compare`).

use crate::wire::JobStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One job's run, from the history database over its span and its GPUs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobReport {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: JobStatus,
    /// The span reported, in ms since the epoch: its start to its end (or now, while it runs).
    pub from_ms: i64,
    pub to_ms: i64,
    /// The newest saved sample the figures include (a running job's report grows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_ms: Option<i64>,
    pub duration_seconds: f64,
    /// `raw samples`, `1-minute rollups` or `1-hour rollups`: what the GPU figures were read from.
    pub resolution: String,
    /// Who ran it, from the GPU usage booked to it (the "who holds each GPU" owners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RunOwner>,
    pub gpus: Vec<GpuRun>,
    /// Over all its GPUs.
    pub energy_kwh: f64,
    /// `energy_kwh` at the configured `energy_price_per_kwh` (in `currency`, when one is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `energy_kwh` at the configured `carbon_grams_per_kwh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2_grams: Option<f64>,
    /// Seconds of the run its most held-back GPU spent under each clock event reason (`power_cap`,
    /// `sw_thermal`, `hw_slowdown`, …; idleness left out): data-parallel steps wait for it.
    pub throttled_seconds: BTreeMap<String, f64>,
    pub host: HostRun,
    /// Each numeric field its `metrics` sent during the span.
    pub fields: BTreeMap<String, FieldRun>,
    /// The field that counts its steps (the first that only grows, `step` and its kin first), and
    /// its rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_per_second: Option<f64>,
    /// Spans with no saved sample: the server stopped, or was not saving.
    pub gaps: Vec<HistoryGap>,
    /// What the figures lack, in words (no GPU found, a gap, a pruned start, a GPU that changed).
    pub missing: Vec<String>,
    /// "3 h 12 min · 4 GPUs · 11.8 kWh · 92 % SM · 14 min power-capped".
    pub summary: String,
}

/// Who the GPU time of the run was booked to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RunOwner {
    pub user: String,
    /// The unit, container or Slurm job it ran in ("" for a plain process).
    pub owner: String,
}

/// One GPU over the run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct GpuRun {
    pub uuid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its first and last sample within the span (None: none saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ms: Option<i64>,
    /// Seconds its samples cover.
    pub sampled_seconds: f64,
    /// Above the idle-held utilization; below it with memory held; below it with none.
    pub busy_seconds: f64,
    pub idle_held_seconds: f64,
    pub idle_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_mean_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_p95_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_peak_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mean_bytes: Option<f64>,
    /// GPM's tensor-core and memory-bandwidth shares, where the GPU has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_mean_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dram_mean_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_mean_watts: Option<f64>,
    pub energy_kwh: f64,
    pub throttled_seconds: BTreeMap<String, f64>,
    pub xid_errors: u64,
    pub ecc_corrected: u64,
    pub ecc_uncorrected: u64,
    /// Seconds its PCIe link ran on fewer lanes than it can.
    pub pcie_narrow_seconds: f64,
}

/// The host during the run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct HostRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_mean_percent: Option<f64>,
    /// Seconds all CPUs together were at least 90 % busy: a data loader that cannot keep up.
    pub cpu_saturated_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_peak_bytes: Option<f64>,
    /// How much more swap was in use at its peak than at the start (pages pushed out).
    pub swap_grew_bytes: f64,
}

/// One field of the job's `metrics` over the run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FieldRun {
    pub first: f64,
    pub last: f64,
    pub min: f64,
    pub max: f64,
    pub count: usize,
    /// Per second from its first to its last value, for a field that only grows (a counter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<f64>,
}

/// A span in ms with no saved sample.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct HistoryGap {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// `GET /api/system/jobs/compare?a=…&b=…`: two reports, and what sets them apart.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobComparison {
    pub a: JobReport,
    pub b: JobReport,
    /// The channel of the slower run (fewer steps a second, else the longer one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slower: Option<String>,
    /// "run B: 18 % slower steps, 31 % of its time power-capped vs 2 %", one line per finding.
    pub differences: Vec<String>,
}
