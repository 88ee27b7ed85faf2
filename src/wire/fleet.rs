//! The fleet page's hosts, as `GET /api/fleet` answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /api/fleet`: every host the configured Prometheus knows, as of its last refresh.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetView {
    /// False when no `--fleet-prometheus` is set: then nothing else is filled.
    pub configured: bool,
    /// The Prometheus read (its address, without credentials).
    pub prometheus: String,
    pub refresh_seconds: f64,
    /// When the hosts below were read; None before the first refresh succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// Seconds since `updated`, at the time of the answer (set in answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<f64>,
    /// The last refresh failed: the hosts are the last ones read, `error` says why.
    pub stale: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the last successful refresh (all queries) took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_ms: Option<f64>,
    /// The sparklines' first point and step: point `i` is at `history_start + i * history_step`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_start: Option<DateTime<Utc>>,
    pub history_step_seconds: f64,
    pub hosts: Vec<FleetHost>,
    /// Hosts that matched the selection but were left out of this answer (it carries at most
    /// a thousand): narrow the filter to see them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_hosts: usize,
    /// Who used the fleet's GPUs over the last week, biggest holder first: each Vitals'
    /// per-person counters (`vitals_gpu_user_*_total`) summed over the hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<FleetUser>,
}

/// One person's GPU use over the fleet in the last week.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetUser {
    pub user: String,
    pub gpu_hours_held: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_hours_used: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_held_hours: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh: Option<f64>,
    /// The hosts they used GPUs on.
    pub hosts: u32,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl FleetView {
    /// Seconds from `updated` to `now`.
    pub fn age_at(&self, now: DateTime<Utc>) -> Option<f64> {
        self.updated
            .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
    }

    /// The same read with other hosts (a selection of them) and its age at `now`, without
    /// copying the hosts it had.
    pub fn with_hosts(&self, hosts: Vec<FleetHost>, now: DateTime<Utc>) -> FleetView {
        FleetView {
            configured: self.configured,
            prometheus: self.prometheus.clone(),
            refresh_seconds: self.refresh_seconds,
            updated: self.updated,
            age_seconds: self.age_at(now),
            stale: self.stale,
            error: self.error.clone(),
            refresh_ms: self.refresh_ms,
            history_start: self.history_start,
            history_step_seconds: self.history_step_seconds,
            hosts,
            omitted_hosts: 0,
            users: self.users.clone(),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Every target of the host failed its last scrape.
    Down,
    /// Some targets are up, some down.
    Partial,
    #[default]
    Up,
}

/// One host: the targets sharing a host name (the `host` target label, else the `instance`
/// label without its port), with what node_exporter- and dcgm-exporter-named series say of it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetHost {
    pub name: String,
    pub state: HostState,
    /// When the host entered its state, if that was within the sparklines' hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Its scrape targets (`job` and `instance`) and whether their last scrape worked.
    pub targets: Vec<FleetTarget>,
    /// The targets' other labels (e.g. `env=prod`), what the filter searches besides the name.
    pub labels: BTreeMap<String, String>,
    /// The host's own Vitals dashboard: a target's `vitals_url` label (http or https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_read_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_write_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_receive_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_transmit_bytes_per_second: Option<f64>,
    pub gpus: Vec<FleetGpu>,
    pub alerts: Vec<FleetAlert>,
    /// CPU % over the last hour, one point per `history_step_seconds` (None: no data then).
    pub cpu_history: Vec<Option<f32>>,
    /// The mean GPU utilization % over the same points; empty for a host without GPUs.
    pub gpu_history: Vec<Option<f32>>,
}

impl FleetHost {
    /// The mean utilization of its GPUs, None without any.
    pub fn mean_gpu_utilization(&self) -> Option<f64> {
        let utils: Vec<f64> = self
            .gpus
            .iter()
            .filter_map(|g| g.utilization_percent)
            .collect();
        (!utils.is_empty()).then(|| utils.iter().sum::<f64>() / utils.len() as f64)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FleetTarget {
    pub job: String,
    pub instance: String,
    pub up: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct FleetGpu {
    /// dcgm-exporter's `gpu` label: the index on its host.
    pub index: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_mib: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_watts: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_watts: Option<f64>,
}

/// A firing alert: Prometheus' own (`ALERTS`) or a Vitals rule's (`vitals_alert_firing`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FleetAlert {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    /// What it is about (a Vitals alert's summary, a Prometheus alert's labels).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub about: String,
}
