//! What a GPU says beyond nvidia-smi's first screen: its performance state and the time its clocks
//! were held down, memory errors and repairs, PCIe and NVLink, encoder and decoder, energy, and
//! MIG instances. Every query goes through [`Queries`], so what a card lacks is asked once, and
//! slowly changing values that are slow to read are read every [`SLOWLY`].

use crate::server::collect::gpu::queries::{Queries, needs_reinit};
use crate::wire::{GpuEcc, GpuMemoryRepair, GpuMetrics, GpuNvlink, GpuPcie, MigInstance};
use nvml_wrapper::enum_wrappers::device::{
    EccCounter, MemoryError, PcieUtilCounter, PerformancePolicy, RetirementCause,
};
use nvml_wrapper::error::{NvmlError, nvml_try};
use nvml_wrapper::{Device, Nvml};
use nvml_wrapper_sys::bindings::field_id::{
    NVML_FI_DEV_NVLINK_LINK_COUNT, NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX,
    NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, NVML_FI_DEV_PCIE_COUNT_RX_BYTES,
    NVML_FI_DEV_PCIE_COUNT_TX_BYTES,
};
use nvml_wrapper_sys::bindings::nvmlFieldValue_t;
use std::time::Duration;

/// The PCIe byte counters, each way.
const PCIE_COUNTERS: [(u32, u32); 2] = [
    (NVML_FI_DEV_PCIE_COUNT_RX_BYTES, 0),
    (NVML_FI_DEV_PCIE_COUNT_TX_BYTES, 0),
];

/// NVLink data each way in KiB, over all links (scope `u32::MAX` sums them).
const NVLINK_COUNTERS: [(u32, u32); 2] = [
    (NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX, u32::MAX),
    (NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, u32::MAX),
];

/// How old a slow query's answer may grow for a slowly changing value (a counter, a mode).
const SLOWLY: Duration = Duration::from_secs(30);

/// How often link counters that are slow to read are read: their rate covers the time between.
const RATE_PERIOD: Duration = Duration::from_secs(5);

/// One counter's value and the driver's time of it (µs since 1970).
type Reading = Option<(u64, i64)>;

/// The rates a GPU's cumulative link counters turn into, kept between ticks.
#[derive(Debug, Default)]
pub struct LinkRates {
    pcie_rx: CounterRate,
    pcie_tx: CounterRate,
    nvlink_rx: CounterRate,
    nvlink_tx: CounterRate,
}

/// A cumulative counter as a rate per second between its last two readings.
#[derive(Debug, Default)]
struct CounterRate {
    last: Option<(u64, i64)>,
    rate: Option<f64>,
}

impl CounterRate {
    /// The rate since the last reading, times `unit` (bytes per count). None on the first reading
    /// and after the counter went back (a driver reload); the last rate again when the driver has
    /// not refreshed the counter since.
    fn update(&mut self, reading: Reading, unit: f64) -> Option<f64> {
        let Some((value, at)) = reading else {
            *self = CounterRate::default();
            return None;
        };
        // A driver that does not stamp its counters: the time they were read here.
        let at = if at > 0 {
            at
        } else {
            chrono::Utc::now().timestamp_micros()
        };
        match self.last {
            Some((_, last_at)) if at == last_at => return self.rate,
            Some((last, last_at)) if value >= last && at > last_at => {
                let seconds = (at - last_at) as f64 / 1e6;
                self.rate = Some((value - last) as f64 * unit / seconds);
            }
            _ => self.rate = None,
        }
        self.last = Some((value, at));
        self.rate
    }
}

/// Reads everything this module covers into `gpu`; only an error that makes the whole GPU
/// unreadable comes back.
pub fn read(
    nvml: &Nvml,
    device: &Device,
    queries: &mut Queries,
    rates: &mut LinkRates,
    gpu: &mut GpuMetrics,
) -> Result<(), NvmlError> {
    gpu.performance_state = queries
        .read_extra("performance state", || device.performance_state())?
        .map(|state| state.as_c())
        .filter(|&state| state <= 15);
    let mut violation = |name, policy| {
        queries.read_slowly(name, SLOWLY, || {
            device.violation_status(policy).map(|v| v.violation_time)
        })
    };
    gpu.power_violation_ns = violation("power violation time", PerformancePolicy::Power)?;
    gpu.thermal_violation_ns = violation("thermal violation time", PerformancePolicy::Thermal)?;
    gpu.ecc = ecc(device, queries)?;
    gpu.memory_repair = memory_repair(nvml, device, queries)?;
    // A slow driver's counters are read every few seconds: the rate between reads is exact.
    let pcie_counters = queries
        .read_slowly("PCIe counters", RATE_PERIOD, || {
            counters(nvml, device, PCIE_COUNTERS)
        })?
        .unwrap_or_default();
    gpu.pcie = pcie(device, queries, &pcie_counters, rates)?;
    gpu.nvlink = nvlink(nvml, device, queries, rates)?;
    gpu.encoder_percent = queries
        .read_extra("encoder utilization", || device.encoder_utilization())?
        .map(|u| u.utilization);
    gpu.decoder_percent = queries
        .read_extra("decoder utilization", || device.decoder_utilization())?
        .map(|u| u.utilization);
    gpu.energy_joules = queries
        .read_slowly("energy", SLOWLY, || device.total_energy_consumption())?
        .map(|millijoules| millijoules as f64 / 1000.0);
    mig(device, queries, gpu)
}

fn ecc(device: &Device, queries: &mut Queries) -> Result<Option<GpuEcc>, NvmlError> {
    let Some(mode) = queries.read_slowly("ECC mode", SLOWLY, || device.is_ecc_enabled())? else {
        return Ok(None);
    };
    let mut ecc = GpuEcc {
        enabled: mode.currently_enabled,
        pending_enabled: (mode.pending_enabled != mode.currently_enabled)
            .then_some(mode.pending_enabled),
        ..Default::default()
    };
    if ecc.enabled {
        let mut count = |name, error, counter| {
            queries.read_slowly(name, SLOWLY, || device.total_ecc_errors(error, counter))
        };
        use {EccCounter::*, MemoryError::*};
        ecc.corrected_volatile = count("corrected ECC errors", Corrected, Volatile)?;
        ecc.uncorrected_volatile = count("uncorrected ECC errors", Uncorrected, Volatile)?;
        ecc.corrected_aggregate = count("lifetime corrected ECC errors", Corrected, Aggregate)?;
        ecc.uncorrected_aggregate =
            count("lifetime uncorrected ECC errors", Uncorrected, Aggregate)?;
    }
    Ok(Some(ecc))
}

/// Remapped rows where the card remaps (A100 and newer), else retired pages.
fn memory_repair(
    nvml: &Nvml,
    device: &Device,
    queries: &mut Queries,
) -> Result<Option<GpuMemoryRepair>, NvmlError> {
    let mut repair = GpuMemoryRepair::default();
    if let Some([correctable, uncorrectable, pending, failed]) =
        queries.read_slowly("remapped rows", SLOWLY, || remapped_rows(nvml, device))?
    {
        repair.remapped_rows_correctable = Some(correctable);
        repair.remapped_rows_uncorrectable = Some(uncorrectable);
        repair.remap_pending = Some(pending != 0);
        repair.remap_failed = Some(failed != 0);
    } else {
        let mut pages = |name, cause| {
            queries.read_slowly(name, SLOWLY, || {
                device.retired_pages(cause).map(|p| p.len() as u32)
            })
        };
        repair.retired_pages_single_bit = pages(
            "pages retired for single-bit errors",
            RetirementCause::MultipleSingleBitEccErrors,
        )?;
        repair.retired_pages_double_bit = pages(
            "pages retired for double-bit errors",
            RetirementCause::DoubleBitEccError,
        )?;
        repair.retirement_pending =
            queries.read_slowly("pages pending retirement", SLOWLY, || {
                device.are_pages_pending_retired()
            })?;
    }
    Ok((repair != GpuMemoryRepair::default()).then_some(repair))
}

fn pcie(
    device: &Device,
    queries: &mut Queries,
    counters: &[Reading; 2],
    rates: &mut LinkRates,
) -> Result<Option<GpuPcie>, NvmlError> {
    let mut pcie = GpuPcie {
        generation: queries.read_extra("PCIe generation", || device.current_pcie_link_gen())?,
        max_generation: queries
            .read_slowly("PCIe max generation", SLOWLY, || device.max_pcie_link_gen())?,
        width: queries.read_extra("PCIe width", || device.current_pcie_link_width())?,
        max_width: queries
            .read_slowly("PCIe max width", SLOWLY, || device.max_pcie_link_width())?,
        replays: queries
            .read_slowly("PCIe replays", SLOWLY, || device.pcie_replay_counter())?
            .map(u64::from),
        ..Default::default()
    };
    if counters[0].is_some() && counters[1].is_some() {
        pcie.rx_bytes_per_second = rates.pcie_rx.update(counters[0], 1.0);
        pcie.tx_bytes_per_second = rates.pcie_tx.update(counters[1], 1.0);
    } else {
        // Drivers before the byte counters: NVML's own throughput, which samples for 20 ms, so
        // it is asked no more often than the counters would be.
        rates.pcie_rx.update(None, 1.0);
        rates.pcie_tx.update(None, 1.0);
        let mut throughput = |name, counter| {
            queries
                .read_slowly(name, RATE_PERIOD, || device.pcie_throughput(counter))
                .map(|kilobytes| kilobytes.map(|kb| f64::from(kb) * 1024.0))
        };
        pcie.rx_bytes_per_second = throughput("PCIe receive rate", PcieUtilCounter::Receive)?;
        pcie.tx_bytes_per_second = throughput("PCIe transmit rate", PcieUtilCounter::Send)?;
    }
    Ok((pcie != GpuPcie::default()).then_some(pcie))
}

/// The links a GPU has (asked slowly: it does not change), then their traffic.
fn nvlink(
    nvml: &Nvml,
    device: &Device,
    queries: &mut Queries,
    rates: &mut LinkRates,
) -> Result<Option<GpuNvlink>, NvmlError> {
    let links = queries
        .read_slowly("NVLink count", SLOWLY, || {
            counters(nvml, device, [(NVML_FI_DEV_NVLINK_LINK_COUNT, 0)])
        })?
        .and_then(|[count]| count)
        .map(|(count, _)| count as u32)
        .filter(|&n| n > 0);
    let Some(links) = links else {
        return Ok(None);
    };
    let [rx, tx] = queries
        .read_slowly("NVLink counters", RATE_PERIOD, || {
            counters(nvml, device, NVLINK_COUNTERS)
        })?
        .unwrap_or_default();
    Ok(Some(GpuNvlink {
        links,
        rx_bytes_per_second: rates.nvlink_rx.update(rx, 1024.0),
        tx_bytes_per_second: rates.nvlink_tx.update(tx, 1024.0),
    }))
}

fn mig(device: &Device, queries: &mut Queries, gpu: &mut GpuMetrics) -> Result<(), NvmlError> {
    let Some(mode) = queries.read_slowly("MIG mode", SLOWLY, || device.mig_mode())? else {
        return Ok(());
    };
    gpu.mig_enabled = Some(mode.current == 1);
    if mode.current != 1 {
        return Ok(());
    }
    gpu.mig_instances = queries
        .read_slowly("MIG instances", SLOWLY, || mig_instances(device))?
        .unwrap_or_default();
    Ok(())
}

fn mig_instances(device: &Device) -> Result<Vec<MigInstance>, NvmlError> {
    let mut instances = Vec::new();
    for slot in 0..device.mig_device_count()? {
        let instance = match device.mig_device_by_index(slot) {
            Ok(instance) => instance,
            Err(error) if needs_reinit(&error) => return Err(error),
            // An empty slot answers NOT_FOUND.
            Err(_) => continue,
        };
        let memory = instance.memory_info().ok();
        instances.push(MigInstance {
            index: slot,
            uuid: instance.uuid().unwrap_or_default(),
            name: instance.name().unwrap_or_default(),
            memory_used_bytes: memory.as_ref().map(|m| m.used),
            memory_total_bytes: memory.map(|m| m.total),
        });
    }
    Ok(instances)
}

fn symbol<T>(loaded: &Result<T, impl std::fmt::Display>) -> Result<&T, NvmlError> {
    loaded
        .as_ref()
        .map_err(|error| NvmlError::FailedToLoadSymbol(error.to_string()))
}

/// Field values by (id, scope) in one call. nvml-wrapper's own leave the scope at 0 (one
/// NVLink); this can ask for all links.
fn counters<const N: usize>(
    nvml: &Nvml,
    device: &Device,
    fields: [(u32, u32); N],
) -> Result<[Reading; N], NvmlError> {
    let call = symbol(&nvml.lib().nvmlDeviceGetFieldValues)?;
    let mut values = fields.map(|(id, scope)| {
        // SAFETY: a field value is plain numbers; all zero is a valid one.
        let mut value: nvmlFieldValue_t = unsafe { std::mem::zeroed() };
        value.fieldId = id;
        value.scopeId = scope;
        value
    });
    // SAFETY: the count is the array's length, and the handle is of a device NVML gave us.
    nvml_try(unsafe { call(device.handle(), values.len() as i32, values.as_mut_ptr()) })?;
    Ok(values.map(|value| {
        let number = (value.nvmlReturn == 0)
            .then(|| field_number(&value))
            .flatten()?;
        Some((number, value.timestamp))
    }))
}

/// A field value's number, read as the type the driver says it wrote.
fn field_number(value: &nvmlFieldValue_t) -> Option<u64> {
    // SAFETY: each arm reads the union member `valueType` names.
    unsafe {
        match value.valueType {
            0 => Some(value.value.dVal as u64),
            1 => Some(value.value.uiVal.into()),
            2 => Some(value.value.ulVal),
            3 => Some(value.value.ullVal),
            4 => u64::try_from(value.value.sllVal).ok(),
            5 => u64::try_from(value.value.siVal).ok(),
            _ => None,
        }
    }
}

fn remapped_rows(nvml: &Nvml, device: &Device) -> Result<[u32; 4], NvmlError> {
    let call = symbol(&nvml.lib().nvmlDeviceGetRemappedRows)?;
    let (mut correctable, mut uncorrectable, mut pending, mut failed) = (0, 0, 0, 0);
    // SAFETY: four valid out-pointers and a device handle NVML gave us.
    nvml_try(unsafe {
        call(
            device.handle(),
            &mut correctable,
            &mut uncorrectable,
            &mut pending,
            &mut failed,
        )
    })?;
    Ok([correctable, uncorrectable, pending, failed])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_become_rates_between_readings() {
        // Driver times in µs, from an arbitrary start.
        let at = |micros: i64| 1_700_000_000_000_000 + micros;
        let mut rate = CounterRate::default();
        assert_eq!(
            rate.update(Some((1_000, at(0))), 1.0),
            None,
            "one reading is no rate"
        );
        assert_eq!(
            rate.update(Some((3_000, at(2_000_000))), 1.0),
            Some(1_000.0)
        );
        assert_eq!(
            rate.update(Some((3_000, at(2_000_000))), 1.0),
            Some(1_000.0),
            "a counter not refreshed since keeps its rate"
        );
        assert_eq!(
            rate.update(Some((3_512, at(2_500_000))), 1024.0),
            Some(1_048_576.0)
        );
        assert_eq!(rate.update(Some((10, at(3_000_000))), 1.0), None, "a reset");
        assert_eq!(rate.update(Some((20, at(4_000_000))), 1.0), Some(10.0));
        assert_eq!(rate.update(None, 1.0), None);
        assert_eq!(
            rate.update(Some((30, at(5_000_000))), 1.0),
            None,
            "a gap starts over"
        );
        // A driver that stamps nothing: the time of reading here stands in.
        let mut unstamped = CounterRate::default();
        unstamped.update(Some((0, 0)), 1.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(
            unstamped
                .update(Some((1_000, 0)), 1.0)
                .is_some_and(|r| r > 0.0)
        );
    }
}
