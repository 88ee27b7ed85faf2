//! One GPU's reading: what nvidia-smi's first screen shows, its processes, and the depth beyond.

use crate::server::collect::gpu::GpuCost;
use crate::server::collect::gpu::depth::{self, LinkRates};
use crate::server::collect::gpu::processes::{self, HostView};
use crate::server::collect::gpu::profiling::Gpm;
use crate::server::collect::gpu::queries::Queries;
use crate::server::collect::owners::Owners;
use crate::wire::GpuMetrics;
use chrono::Utc;
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::error::NvmlError;
use std::sync::Arc;

/// How long a slow read of the processes' utilization samples stands in.
const PROCESS_SAMPLES_KEPT: std::time::Duration = std::time::Duration::from_secs(4);

/// How long the PCI address, asked once, stands in (it changes only with the card).
const PCI_INFO_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the collector keeps per GPU between ticks.
#[derive(Debug, Default)]
pub struct GpuState {
    queries: Queries,
    links: LinkRates,
    host: HostView,
}

impl GpuState {
    pub fn new(index: u32, cost: Arc<GpuCost>) -> Self {
        GpuState {
            queries: Queries::for_gpu(index, cost),
            ..Default::default()
        }
    }
}

pub fn read_device(
    nvml: &Nvml,
    index: u32,
    state: &mut GpuState,
    show_command_lines: bool,
    owners: &Owners,
    gpm: &mut Gpm,
) -> Result<GpuMetrics, NvmlError> {
    let device = nvml.device_by_index(index)?;
    let queries = &mut state.queries;
    let utilization = queries.read("utilization", || device.utilization_rates())?;
    let memory = queries.read("memory", || device.memory_info())?;
    let compute = queries
        .read("compute processes", || device.running_compute_processes())?
        .unwrap_or_default();
    let graphics = queries
        .read("graphics processes", || device.running_graphics_processes())?
        .unwrap_or_default();
    let mut processes = processes::merge(compute, graphics);
    if !processes.is_empty() {
        let since = processes::recent_samples_since(Utc::now());
        // Slow on some drivers (milliseconds with a busy GPU); its samples span seconds anyway.
        let samples = queries
            .read_slowly("process utilization", PROCESS_SAMPLES_KEPT, || {
                // NOT_FOUND: no process used the GPU in the window.
                match device.process_utilization_stats(since) {
                    Err(NvmlError::NotFound) => Ok(Vec::new()),
                    other => other,
                }
            })?
            .unwrap_or_default();
        processes::attach_utilization(&mut processes, &samples);
    }
    state
        .host
        .describe(&mut processes, show_command_lines, owners);
    let mut gpu = GpuMetrics {
        index,
        uuid: queries.read("uuid", || device.uuid())?.unwrap_or_default(),
        name: queries.read("name", || device.name())?.unwrap_or_default(),
        // dcgm-exporter's `pci_bus_id` label; it never changes while the GPU is there.
        pci_bus_id: queries
            .read_slowly("PCI info", PCI_INFO_KEPT, || device.pci_info())?
            .map(|pci| pci.bus_id),
        available: true,
        error: None,
        utilization_percent: utilization.as_ref().map(|u| u.gpu),
        memory_utilization_percent: utilization.map(|u| u.memory),
        memory_used_bytes: memory.as_ref().map(|m| m.used),
        memory_total_bytes: memory.map(|m| m.total),
        temperature_celsius: queries
            .read("temperature", || device.temperature(TemperatureSensor::Gpu))?,
        power_watts: queries
            .read("power", || device.power_usage())?
            .map(milliwatts_to_watts),
        power_limit_watts: queries
            .read("power limit", || device.enforced_power_limit())?
            .map(milliwatts_to_watts),
        fan_percent: queries.read("fan speed", || device.fan_speed(0))?,
        sm_clock_mhz: queries.read("SM clock", || device.clock_info(Clock::SM))?,
        memory_clock_mhz: queries.read("memory clock", || device.clock_info(Clock::Memory))?,
        clocks_throttle_reasons: queries
            .read("clock event reasons", || device.current_throttle_reasons())?
            .map(|r| r.bits()),
        processes,
        ..Default::default()
    };
    depth::read(
        nvml,
        &device,
        &mut state.queries,
        &mut state.links,
        &mut gpu,
    )?;
    gpu.profiling = gpm.read(nvml, &device, index)?;
    Ok(gpu)
}

pub fn milliwatts_to_watts(milliwatts: u32) -> f64 {
    f64::from(milliwatts) / 1000.0
}
