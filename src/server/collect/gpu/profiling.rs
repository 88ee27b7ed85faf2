//! GPU profiling without DCGM: the counters DCGM calls `PROF` (engine, SM, tensor, DRAM and
//! floating-point pipe activity, PCIe and NVLink bytes), read through NVML's GPM API. GPM works
//! from two samples taken apart in time; each tick takes one and compares it with the last tick's,
//! so the values cover exactly one sample interval and no thread ever sleeps for them.
//!
//! nvml-wrapper's `GpmSample` borrows the `Nvml` it came from, which the collector cannot keep
//! across ticks beside that `Nvml`; the two samples a GPU alternates between are therefore held
//! here as raw handles, and freed (before NVML is shut down) by whoever holds them: the session.

use crate::server::collect::gpu::queries::gpu_is_gone;
use crate::wire::GpuProfiling;
use nvml_wrapper::error::{NvmlError, nvml_sym, nvml_try};
use nvml_wrapper::{Device, Nvml};
use nvml_wrapper_sys::bindings::*;
use std::collections::HashMap;

const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// Where one GPM metric goes: a share of the time (percent), or a rate NVML gives in MiB/s.
type Store = fn(&mut GpuProfiling, f64);

/// The GPM metrics read each tick.
const METRICS: [(nvmlGpmMetricId_t, Store); 12] = [
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_GRAPHICS_UTIL, |p, v| {
        p.graphics_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_SM_UTIL, |p, v| {
        p.sm_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_SM_OCCUPANCY, |p, v| {
        p.sm_occupancy_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_ANY_TENSOR_UTIL, |p, v| {
        p.tensor_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_DRAM_BW_UTIL, |p, v| {
        p.dram_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_FP64_UTIL, |p, v| {
        p.fp64_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_FP32_UTIL, |p, v| {
        p.fp32_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_FP16_UTIL, |p, v| {
        p.fp16_active_percent = Some(v)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_PCIE_TX_PER_SEC, |p, v| {
        p.pcie_tx_bytes_per_second = Some(v * BYTES_PER_MIB)
    }),
    (nvmlGpmMetricId_t_NVML_GPM_METRIC_PCIE_RX_PER_SEC, |p, v| {
        p.pcie_rx_bytes_per_second = Some(v * BYTES_PER_MIB)
    }),
    (
        nvmlGpmMetricId_t_NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC,
        |p, v| p.nvlink_tx_bytes_per_second = Some(v * BYTES_PER_MIB),
    ),
    (
        nvmlGpmMetricId_t_NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC,
        |p, v| p.nvlink_rx_bytes_per_second = Some(v * BYTES_PER_MIB),
    ),
];

/// What the card says of a GPU without GPM.
const NO_GPM_ON_GPU: &str = "this GPU has no GPM counters (Hopper and newer have them)";
const NO_GPM_IN_DRIVER: &str = "this NVIDIA driver has no GPM API (drivers from 520 on have it)";

/// Every GPU's GPM state in one NVML session.
#[derive(Default)]
pub struct Gpm {
    gpus: HashMap<u32, GpmState>,
}

enum GpmState {
    /// Read one sample so far (or none, after a failed one): nothing to compare with yet.
    Sampling(Samples),
    /// Not on this GPU or driver: said once on the card, never asked again this session.
    Unavailable(String),
}

/// The two sample buffers a GPU alternates between, and whether `previous` holds a reading.
struct Samples {
    previous: nvmlGpmSample_t,
    current: nvmlGpmSample_t,
    previous_taken: bool,
    free: unsafe extern "C" fn(nvmlGpmSample_t) -> nvmlReturn_t,
}

// SAFETY: a sample is plain memory NVML owns; it is used by one thread at a time (the sampler's,
// behind `&mut`), as nvml-wrapper's own `GpmSample` is (it is `Send` too).
unsafe impl Send for Samples {}

impl Drop for Samples {
    fn drop(&mut self) {
        // SAFETY: both handles came from nvmlGpmSampleAlloc of the library `free` belongs to,
        // which the session keeps loaded until its GPM state is gone (see `Session`).
        unsafe {
            (self.free)(self.previous);
            (self.free)(self.current);
        }
    }
}

impl Gpm {
    /// This tick's profiling counters of a GPU: None on the first tick (nothing to compare with)
    /// and after a failed sample; an `unavailable` one where the GPU or driver has no GPM. An
    /// error only when the GPU itself is gone, as for its other readings.
    pub fn read(
        &mut self,
        nvml: &Nvml,
        device: &Device,
        index: u32,
    ) -> Result<Option<GpuProfiling>, NvmlError> {
        let state = match self.gpus.entry(index) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => entry.insert(start(nvml, device)?),
        };
        let samples = match state {
            GpmState::Unavailable(why) => return Ok(Some(GpuProfiling::unavailable(why))),
            GpmState::Sampling(samples) => samples,
        };
        match samples.take(nvml, device) {
            Ok(profiling) => Ok(profiling.map(GpuProfiling::described)),
            Err(error) if gpu_is_gone(&error) => Err(error),
            // Asked of a GPU that cannot give it after all (MIG on some drivers).
            Err(NvmlError::NotSupported) => {
                *state = GpmState::Unavailable(NO_GPM_ON_GPU.into());
                Ok(Some(GpuProfiling::unavailable(NO_GPM_ON_GPU)))
            }
            Err(error) => {
                tracing::debug!("GPU {index}: a GPM sample failed: {error}");
                Ok(None)
            }
        }
    }
}

/// Asks whether the GPU has GPM, and allocates its two samples if it does.
fn start(nvml: &Nvml, device: &Device) -> Result<GpmState, NvmlError> {
    let unavailable = |why: &str| Ok(GpmState::Unavailable(why.to_owned()));
    match device.gpm_support() {
        Ok(true) => {}
        Ok(false) | Err(NvmlError::NotSupported) => return unavailable(NO_GPM_ON_GPU),
        Err(NvmlError::FailedToLoadSymbol(_)) => return unavailable(NO_GPM_IN_DRIVER),
        Err(error) if gpu_is_gone(&error) => return Err(error),
        Err(error) => return unavailable(&format!("the driver said: {error}")),
    }
    match Samples::alloc(nvml) {
        Ok(samples) => Ok(GpmState::Sampling(samples)),
        Err(NvmlError::FailedToLoadSymbol(_)) => unavailable(NO_GPM_IN_DRIVER),
        Err(error) => unavailable(&format!("the driver could not make a GPM sample: {error}")),
    }
}

impl Samples {
    fn alloc(nvml: &Nvml) -> Result<Self, NvmlError> {
        let lib = nvml.lib();
        let alloc = nvml_sym(lib.nvmlGpmSampleAlloc.as_ref())?;
        let free = *nvml_sym(lib.nvmlGpmSampleFree.as_ref())?;
        let mut previous: nvmlGpmSample_t = std::ptr::null_mut();
        let mut current: nvmlGpmSample_t = std::ptr::null_mut();
        // SAFETY: each call writes one handle through a valid pointer; a handle is freed once,
        // by `Samples::drop` or right here when the second allocation fails.
        unsafe {
            nvml_try(alloc(&mut previous))?;
            if let Err(error) = nvml_try(alloc(&mut current)) {
                free(previous);
                return Err(error);
            }
        }
        Ok(Samples {
            previous,
            current,
            previous_taken: false,
            free,
        })
    }

    /// Takes this tick's sample and compares it with the last one; the counters over the tick.
    fn take(&mut self, nvml: &Nvml, device: &Device) -> Result<Option<GpuProfiling>, NvmlError> {
        let lib = nvml.lib();
        let sample_get = nvml_sym(lib.nvmlGpmSampleGet.as_ref())?;
        // SAFETY: the device handle is live for this call, and `current` is this session's.
        let taken = unsafe { nvml_try(sample_get(device.handle(), self.current)) };
        if let Err(error) = taken {
            self.previous_taken = false;
            return Err(error);
        }
        let profiling = if self.previous_taken {
            Some(self.compare(nvml)?)
        } else {
            None
        };
        std::mem::swap(&mut self.previous, &mut self.current);
        self.previous_taken = true;
        Ok(profiling)
    }

    fn compare(&self, nvml: &Nvml) -> Result<GpuProfiling, NvmlError> {
        let metrics_get = nvml_sym(nvml.lib().nvmlGpmMetricsGet.as_ref())?;
        // SAFETY: a zeroed request is valid C data (null pointers, zero counts); NVML fills the
        // metrics asked for and leaves the strings it points at in its own memory.
        let mut request: nvmlGpmMetricsGet_t = unsafe { std::mem::zeroed() };
        request.version = NVML_GPM_METRICS_GET_VERSION;
        request.numMetrics = METRICS.len() as u32;
        request.sample1 = self.previous;
        request.sample2 = self.current;
        for (slot, (id, _)) in request.metrics.iter_mut().zip(METRICS) {
            slot.metricId = id;
        }
        // SAFETY: `request` is a valid, versioned request over two samples of this session.
        unsafe { nvml_try(metrics_get(&mut request))? };
        let mut profiling = GpuProfiling::default();
        for (metric, (_, store)) in request.metrics.iter().zip(METRICS) {
            // A metric this GPU does not give is left out, never read as zero.
            if metric.nvmlReturn == nvmlReturn_enum_NVML_SUCCESS && metric.value.is_finite() {
                store(&mut profiling, metric.value);
            }
        }
        Ok(profiling)
    }
}
