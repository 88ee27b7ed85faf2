//! dcgm-exporter's GPU families, with its names, labels and units.

use super::{BYTES_PER_MIB, counter, family, flag, gauge};
use crate::wire::{CLOCK_EVENT_REASONS, GpuMetrics, GpuProfiling};
use prometheus_client::encoding::DescriptorEncoder;

/// A dcgm-exporter field: its name, help, and how to read it from a GPU (None: not supported).
type GpuField = (&'static str, &'static str, fn(&GpuMetrics) -> Option<f64>);

/// One profiling counter of a GPU, where it has one.
fn profiled(gpu: &GpuMetrics, read: fn(&GpuProfiling) -> Option<f64>) -> Option<f64> {
    gpu.profiling.as_ref().and_then(read)
}

/// A profiling share (percent) as DCGM's ratio.
fn ratio(gpu: &GpuMetrics, read: fn(&GpuProfiling) -> Option<f64>) -> Option<f64> {
    profiled(gpu, read).map(|percent| percent / 100.0)
}

/// dcgm-exporter's names, labels and units (MiB for framebuffer memory, W, MHz, °C, %).
pub(super) fn encode_gpus(
    encoder: &mut DescriptorEncoder,
    gpus: &[GpuMetrics],
    hostname: &str,
) -> std::fmt::Result {
    let readable: Vec<&GpuMetrics> = gpus.iter().filter(|g| g.available).collect();
    let labels = |gpu: &GpuMetrics| {
        vec![
            ("gpu", gpu.index.to_string()),
            ("UUID", gpu.uuid.clone()),
            ("pci_bus_id", gpu.pci_bus_id.clone().unwrap_or_default()),
            ("device", format!("nvidia{}", gpu.index)),
            ("modelName", gpu.name.clone()),
            ("Hostname", hostname.to_owned()),
        ]
    };
    // All gauges, as dcgm-exporter's counters keep their names (a counter here would gain _total).
    let fields: [GpuField; 46] = [
        ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", |g| {
            g.utilization_percent.map(f64::from)
        }),
        (
            "DCGM_FI_DEV_MEM_COPY_UTIL",
            "Memory utilization (in %).",
            |g| g.memory_utilization_percent.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_FB_USED",
            "Framebuffer memory used (in MiB).",
            |g| {
                g.memory_used_bytes
                    .map(|b| (b as f64 / BYTES_PER_MIB).round())
            },
        ),
        (
            "DCGM_FI_DEV_FB_FREE",
            "Framebuffer memory free (in MiB).",
            |g| {
                Some(
                    (g.memory_total_bytes?.saturating_sub(g.memory_used_bytes?) as f64
                        / BYTES_PER_MIB)
                        .round(),
                )
            },
        ),
        ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", |g| {
            g.temperature_celsius.map(f64::from)
        }),
        ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", |g| {
            g.power_watts
        }),
        (
            "DCGM_FI_DEV_POWER_MGMT_LIMIT",
            "Power management limit (in W).",
            |g| g.power_limit_watts,
        ),
        (
            "DCGM_FI_DEV_SM_CLOCK",
            "SM clock frequency (in MHz).",
            |g| g.sm_clock_mhz.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_MEM_CLOCK",
            "Memory clock frequency (in MHz).",
            |g| g.memory_clock_mhz.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
            "Current clock throttle reasons (bitmask of NVML's; 4: the power cap).",
            |g| g.clocks_throttle_reasons.map(|r| r as f64),
        ),
        (
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
            "Current clock event reasons (bitmask of NVML's; 4: the power cap).",
            |g| g.clocks_throttle_reasons.map(|r| r as f64),
        ),
        (
            "DCGM_FI_DEV_PSTATE",
            "Performance state (P-state) 0-15, 0 is the highest.",
            |g| g.performance_state.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_POWER_VIOLATION",
            "Throttling duration due to power constraints (in ns).",
            |g| g.power_violation_ns.map(|ns| ns as f64),
        ),
        (
            "DCGM_FI_DEV_THERMAL_VIOLATION",
            "Throttling duration due to thermal constraints (in ns).",
            |g| g.thermal_violation_ns.map(|ns| ns as f64),
        ),
        (
            "DCGM_FI_DEV_XID_ERRORS",
            "Value of the last XID error encountered.",
            |g| g.xid_errors.last().map(|e| e.code as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
            "Total number of single-bit volatile ECC errors.",
            |g| g.ecc?.corrected_volatile.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
            "Total number of double-bit volatile ECC errors.",
            |g| g.ecc?.uncorrected_volatile.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
            "Total number of single-bit persistent ECC errors.",
            |g| g.ecc?.corrected_aggregate.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
            "Total number of double-bit persistent ECC errors.",
            |g| g.ecc?.uncorrected_aggregate.map(|n| n as f64),
        ),
        (
            "DCGM_FI_DEV_RETIRED_SBE",
            "Total number of retired pages due to single-bit errors.",
            |g| g.memory_repair?.retired_pages_single_bit.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_RETIRED_DBE",
            "Total number of retired pages due to double-bit errors.",
            |g| g.memory_repair?.retired_pages_double_bit.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_RETIRED_PENDING",
            "Whether pages are pending retirement (1) or not (0).",
            |g| g.memory_repair?.retirement_pending.map(flag),
        ),
        (
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
            "Number of remapped rows for correctable errors",
            |g| g.memory_repair?.remapped_rows_correctable.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
            "Number of remapped rows for uncorrectable errors",
            |g| g.memory_repair?.remapped_rows_uncorrectable.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_ROW_REMAP_FAILURE",
            "Whether remapping of rows has failed",
            |g| g.memory_repair?.remap_failed.map(flag),
        ),
        (
            "DCGM_FI_DEV_ROW_REMAP_PENDING",
            "Whether remapping of rows is pending",
            |g| g.memory_repair?.remap_pending.map(flag),
        ),
        (
            "DCGM_FI_PROF_PCIE_RX_BYTES",
            "The rate of data received over the PCIe bus, in bytes per second.",
            |g| {
                (g.pcie.and_then(|p| p.rx_bytes_per_second))
                    .or(profiled(g, |p| p.pcie_rx_bytes_per_second))
            },
        ),
        (
            "DCGM_FI_PROF_PCIE_TX_BYTES",
            "The rate of data transmitted over the PCIe bus, in bytes per second.",
            |g| {
                (g.pcie.and_then(|p| p.tx_bytes_per_second))
                    .or(profiled(g, |p| p.pcie_tx_bytes_per_second))
            },
        ),
        (
            "DCGM_FI_DEV_PCIE_LINK_GEN",
            "PCIe link generation now.",
            |g| g.pcie?.generation.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_MAX_LINK_GEN",
            "Highest PCIe link generation of the device and system.",
            |g| g.pcie?.max_generation.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_LINK_WIDTH",
            "PCIe link width now (lanes).",
            |g| g.pcie?.width.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH",
            "Widest PCIe link of the device and system (lanes).",
            |g| g.pcie?.max_width.map(f64::from),
        ),
        (
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
            "Total number of PCIe retries.",
            |g| g.pcie?.replays.map(|n| n as f64),
        ),
        (
            "DCGM_FI_PROF_NVLINK_RX_BYTES",
            "The rate of data received over NVLink, in bytes per second.",
            |g| {
                (g.nvlink.and_then(|n| n.rx_bytes_per_second))
                    .or(profiled(g, |p| p.nvlink_rx_bytes_per_second))
            },
        ),
        (
            "DCGM_FI_PROF_NVLINK_TX_BYTES",
            "The rate of data transmitted over NVLink, in bytes per second.",
            |g| {
                (g.nvlink.and_then(|n| n.tx_bytes_per_second))
                    .or(profiled(g, |p| p.nvlink_tx_bytes_per_second))
            },
        ),
        (
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "Total energy consumption since the driver loaded (in mJ).",
            |g| g.energy_joules.map(|j| (j * 1000.0).round()),
        ),
        ("DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).", |g| {
            g.encoder_percent.map(f64::from)
        }),
        ("DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).", |g| {
            g.decoder_percent.map(f64::from)
        }),
        // The profiling fields, as ratios 0-1 like DCGM's; read through GPM where the GPU has it.
        (
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
            "Ratio of time the graphics engine is active.",
            |g| ratio(g, |p| p.graphics_active_percent),
        ),
        (
            "DCGM_FI_PROF_SM_ACTIVE",
            "The ratio of cycles an SM has at least 1 warp assigned.",
            |g| ratio(g, |p| p.sm_active_percent),
        ),
        (
            "DCGM_FI_PROF_SM_OCCUPANCY",
            "The ratio of number of warps resident on an SM.",
            |g| ratio(g, |p| p.sm_occupancy_percent),
        ),
        (
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
            "Ratio of cycles the tensor (HMMA) pipe is active.",
            |g| ratio(g, |p| p.tensor_active_percent),
        ),
        (
            "DCGM_FI_PROF_DRAM_ACTIVE",
            "Ratio of cycles the device memory interface is active sending or receiving data.",
            |g| ratio(g, |p| p.dram_active_percent),
        ),
        (
            "DCGM_FI_PROF_PIPE_FP64_ACTIVE",
            "Ratio of cycles the fp64 pipes are active.",
            |g| ratio(g, |p| p.fp64_active_percent),
        ),
        (
            "DCGM_FI_PROF_PIPE_FP32_ACTIVE",
            "Ratio of cycles the fp32 pipes are active.",
            |g| ratio(g, |p| p.fp32_active_percent),
        ),
        (
            "DCGM_FI_PROF_PIPE_FP16_ACTIVE",
            "Ratio of cycles the fp16 pipes are active.",
            |g| ratio(g, |p| p.fp16_active_percent),
        ),
    ];
    for (name, help, read) in fields {
        // A field a GPU does not support is left out, never exported as zero.
        family(
            encoder,
            name,
            help,
            readable
                .iter()
                .filter_map(|g| Some((labels(g), gauge(read(g)?)))),
        )?;
    }
    family(
        encoder,
        "vitals_gpu_clock_event",
        "Whether each clock event (throttle) reason holds now (1) or not (0).",
        readable.iter().flat_map(|g| {
            CLOCK_EVENT_REASONS
                .iter()
                .filter_map(move |(bit, reason, _)| {
                    let reasons = g.clocks_throttle_reasons?;
                    let mut labels = labels(g);
                    labels.push(("reason", (*reason).to_owned()));
                    Some((labels, gauge(flag(reasons & bit != 0))))
                })
        }),
    )?;
    family(
        encoder,
        "vitals_gpu_xid_errors",
        "XID errors the GPU reported since the history began.",
        readable
            .iter()
            .filter_map(|g| Some((labels(g), counter(g.xid_count? as f64)))),
    )?;
    family(
        encoder,
        "vitals_gpu_processes",
        "Processes running on the GPU.",
        readable
            .iter()
            .map(|g| (labels(g), gauge(g.processes.len() as f64))),
    )?;
    // Every GPU, readable or not: what an alert on a lost GPU watches.
    family(
        encoder,
        "vitals_gpu_available",
        "Whether the GPU can be read (1) or is lost or unavailable (0).",
        gpus.iter()
            .map(|g| (labels(g), gauge(if g.available { 1.0 } else { 0.0 }))),
    )
}
