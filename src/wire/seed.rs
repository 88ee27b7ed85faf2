//! What a page starts from: the store as it travels, and the hello with it.

use super::alerts::Alert;
use super::gpu::GpuMetrics;
use super::metrics::{CpuMetrics, DiskMetrics, MemoryMetrics, NetworkMetrics};
use super::socket::Hello;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One point of a series: milliseconds since the Unix epoch (UTC) and the value.
pub type Point = (i64, f64);

/// A browser store as it travels: what the page's seed carries so the dashboard starts with the
/// server's history (thinned) and current values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct StoreSeed {
    /// How much history the store keeps, in milliseconds.
    pub window_ms: i64,
    /// The server epoch the sequence numbers belong to.
    pub epoch: Option<u64>,
    /// The last seq held per channel: where the socket's replay continues from.
    pub last_seq: BTreeMap<String, u64>,
    pub cpu: Option<CpuMetrics>,
    pub memory: Option<MemoryMetrics>,
    pub disk: Option<DiskMetrics>,
    pub network: Option<NetworkMetrics>,
    pub gpus: BTreeMap<u32, GpuMetrics>,
    /// Every series by name, oldest point first.
    pub series: BTreeMap<String, Vec<Point>>,
    /// Time (ms) of the newest message held.
    pub last_message_ms: Option<i64>,
}

/// What a page starts from: the server's hello (host, uptime, GPU status) and its history as a
/// ready store. The page carries it (and `GET /api/system/seed` serves it), so values show at first
/// paint and the charts draw without a request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PageSeed {
    pub hello: Hello,
    pub history: StoreSeed,
    /// The alerts pending or firing now.
    #[serde(default)]
    pub alerts: Vec<Alert>,
}
