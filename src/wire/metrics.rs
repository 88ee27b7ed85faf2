//! Host metrics: CPU, memory, disks, network, and the latest sample of each channel.

use super::gpu::GpuStatus;
use super::socket::Envelope;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct CpuMetrics {
    /// Busy share of all cores over the last interval, 0–100.
    pub usage_percent: f32,
    /// Busy share of each logical core, 0–100, in core order.
    pub per_core_percent: Vec<f32>,
    /// Current frequency of each logical core in MHz (empty where the kernel does not say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_core_mhz: Vec<u64>,
    pub load_average: LoadAverage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_celsius: Option<f32>,
    pub model: String,
    pub core_count: usize,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct MemoryMetrics {
    pub ram_total_bytes: u64,
    pub ram_used_bytes: u64,
    pub ram_available_bytes: u64,
    pub ram_percent: f32,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub swap_percent: f32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DiskDevice {
    /// Kernel name of the whole block device, e.g. `nvme0n1` or `sda`.
    pub name: String,
    pub read_bytes_per_sec: f64,
    pub write_bytes_per_sec: f64,
    pub read_bytes_total: u64,
    pub written_bytes_total: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Filesystem {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DiskMetrics {
    /// Sum over physical devices only: partitions, device-mapper and loop devices are not counted twice.
    pub read_bytes_per_sec: f64,
    pub write_bytes_per_sec: f64,
    pub devices: Vec<DiskDevice>,
    pub filesystems: Vec<Filesystem>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct NetworkInterface {
    pub name: String,
    pub loopback: bool,
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes_total: u64,
    pub tx_bytes_total: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct NetworkMetrics {
    /// Sum over all interfaces but loopback.
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub interfaces: Vec<NetworkInterface>,
}

/// `GET /api/system/metrics`: the latest sample of every channel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CurrentMetrics {
    pub epoch: u64,
    pub interval_seconds: f64,
    /// The latest envelope of every channel that has one.
    pub channels: Vec<Envelope>,
    pub gpu_status: GpuStatus,
}
