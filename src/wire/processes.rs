//! The process table as it travels.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The process table: the busiest processes, scanned only while someone subscribes to it.
pub const CHANNEL_PROCESSES: &str = "system/processes";

/// One process scan: the top processes by CPU, by memory and by storage I/O, merged, with every
/// process that holds a GPU.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ProcessList {
    pub timestamp: DateTime<Utc>,
    /// Seconds between scans.
    pub period_seconds: f64,
    /// Processes on the machine; `processes` holds the busiest of them.
    pub total: u32,
    /// Logical cores: a process's `cpu_percent` can reach 100 × this.
    pub cores: u32,
    pub memory_total_bytes: u64,
    pub processes: Vec<ProcessRow>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ProcessRow {
    pub pid: u32,
    pub parent_pid: u32,
    pub user: String,
    pub name: String,
    /// proc(5)'s one-letter state: R running, S sleeping, D waiting on disk, Z zombie, T stopped, I idle.
    pub state: String,
    /// Percent of one core since the previous scan (absent on a process's first scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// The same as a share of the whole machine (all cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_cpu_percent: Option<f64>,
    /// Resident memory.
    pub memory_bytes: u64,
    pub memory_percent: f64,
    /// Storage reads and writes (absent for other users' processes when not running as root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bytes_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bytes_per_second: Option<f64>,
    pub threads: u32,
    pub started: DateTime<Utc>,
    /// Only with `--show-command-lines`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// The GPUs (indices) it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_bytes: Option<u64>,
    /// Its highest SM share on any of its GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_sm_percent: Option<u32>,
    /// Who it belongs to: person, unit or container, job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<crate::wire::ProcessOwner>,
}

impl ProcessRow {
    /// Storage reads and writes together, when known.
    pub fn io_bytes_per_second(&self) -> Option<f64> {
        match (self.read_bytes_per_second, self.write_bytes_per_second) {
            (None, None) => None,
            (read, write) => Some(read.unwrap_or(0.0) + write.unwrap_or(0.0)),
        }
    }
}
