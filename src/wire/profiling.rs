//! A GPU's profiling counters (DCGM's `PROF` fields, read here through NVML's GPM without DCGM):
//! how busy its engines, SMs, tensor cores, memory bandwidth and floating-point pipes were over the
//! last tick, and the one line the card shows for them ("tensor cores 63 % active · memory
//! bandwidth 41 % — compute-bound").

use serde::{Deserialize, Serialize};

/// Over the last tick, each as a percentage of the time (0–100; DCGM's ratios are these / 100).
/// A counter the GPU does not give is absent, never zero. Only `line` and the tensor share (the
/// chart's lane) are read back from JSON: the page needs no more, and reading the rest would cost
/// the dashboard's WASM its budget; readers of the API have every field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct GpuProfiling {
    /// What the card shows: the counters in words, or why there are none.
    pub line: String,
    /// Time any tensor core was busy (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_active_percent: Option<f64>,
    /// Time the graphics or compute engine was busy (DCGM_FI_PROF_GR_ENGINE_ACTIVE).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub graphics_active_percent: Option<f64>,
    /// Time an SM had at least one warp, averaged over the SMs (DCGM_FI_PROF_SM_ACTIVE).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub sm_active_percent: Option<f64>,
    /// Resident warps against the SMs' maximum (DCGM_FI_PROF_SM_OCCUPANCY).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub sm_occupancy_percent: Option<f64>,
    /// Memory bandwidth used against its peak (DCGM_FI_PROF_DRAM_ACTIVE).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub dram_active_percent: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub fp64_active_percent: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub fp32_active_percent: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub fp16_active_percent: Option<f64>,
    /// PCIe and NVLink traffic over the tick, in bytes a second.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub pcie_tx_bytes_per_second: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub pcie_rx_bytes_per_second: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub nvlink_tx_bytes_per_second: Option<f64>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub nvlink_rx_bytes_per_second: Option<f64>,
}

/// Below this share of the time the GPU's engine counts as doing nothing.
const IDLE_BELOW_PERCENT: f64 = 5.0;
/// From this share of peak bandwidth the memory is what limits the work.
const BANDWIDTH_BOUND_PERCENT: f64 = 60.0;

impl GpuProfiling {
    /// A GPU without profiling counters: the card says why, once; no counter is set.
    pub fn unavailable(why: &str) -> Self {
        GpuProfiling {
            line: format!("not available: {why}"),
            ..Default::default()
        }
    }

    /// Sets `line` from the counters.
    pub fn described(mut self) -> Self {
        self.line = self.words();
        self
    }

    /// The counters in a researcher's words: the busiest compute pipe and the memory bandwidth,
    /// then what bounds the work.
    fn words(&self) -> String {
        let share = |name: &str, value: Option<f64>| {
            value.map(|v| format!("{name} {} % active", v.round() as i64))
        };
        let pipes = [
            ("FP64", self.fp64_active_percent),
            ("FP32", self.fp32_active_percent),
            ("FP16", self.fp16_active_percent),
        ];
        // The busiest floating-point pipe, when it does anything at all.
        let busiest = pipes
            .iter()
            .filter_map(|&(name, value)| Some((name, value?)))
            .filter(|(_, value)| *value >= 1.0)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let mut parts: Vec<String> = Vec::new();
        // Tensor cores lead whenever the GPU has them: what a training run is judged by.
        if let Some(tensor) = share("tensor cores", self.tensor_active_percent) {
            parts.push(tensor);
        }
        if let Some((name, value)) = busiest {
            parts.extend(share(name, Some(value)));
        }
        if let Some(dram) = self.dram_active_percent {
            parts.push(format!("memory bandwidth {} %", dram.round() as i64));
        }
        if parts.is_empty() {
            parts.extend(share("SMs", self.sm_active_percent));
        }
        if parts.is_empty() {
            return "no counter answered".into();
        }
        let verdict = self.bound();
        match verdict {
            Some(verdict) => format!("{} — {verdict}", parts.join(" · ")),
            None => parts.join(" · "),
        }
    }

    /// What limits the work: nothing running, memory bandwidth, or the compute pipes; None when
    /// the counters cannot tell.
    fn bound(&self) -> Option<&'static str> {
        let engine = self.graphics_active_percent.or(self.sm_active_percent)?;
        if engine < IDLE_BELOW_PERCENT {
            return Some("idle");
        }
        let pipes = [
            self.tensor_active_percent,
            self.fp64_active_percent,
            self.fp32_active_percent,
            self.fp16_active_percent,
        ];
        if self.dram_active_percent.is_none() && pipes.iter().all(Option::is_none) {
            return None;
        }
        let dram = self.dram_active_percent.unwrap_or(0.0);
        let compute = pipes.into_iter().flatten().fold(0.0, f64::max);
        if dram >= BANDWIDTH_BOUND_PERCENT && dram > compute {
            Some("memory-bound")
        } else if compute >= dram {
            Some("compute-bound")
        } else {
            // Busy, but neither the pipes nor the bandwidth near their peak: waiting on launches,
            // synchronisation or the host.
            Some("latency-bound")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(tensor: f64, dram: f64, engine: f64) -> GpuProfiling {
        GpuProfiling {
            tensor_active_percent: Some(tensor),
            dram_active_percent: Some(dram),
            graphics_active_percent: Some(engine),
            fp32_active_percent: Some(10.0),
            ..Default::default()
        }
        .described()
    }

    #[test]
    fn the_card_says_which_resource_bounds_the_work() {
        assert_eq!(
            counters(63.2, 41.0, 98.0).line,
            "tensor cores 63 % active · FP32 10 % active · memory bandwidth 41 % — compute-bound"
        );
        assert!(counters(5.0, 85.0, 90.0).line.ends_with("— memory-bound"));
        assert!(counters(0.0, 0.0, 1.0).line.ends_with("— idle"));
        assert!(counters(8.0, 20.0, 90.0).line.ends_with("— latency-bound"));
    }

    #[test]
    fn absent_counters_are_left_out_and_never_read_as_zero() {
        let only_sm = GpuProfiling {
            sm_active_percent: Some(42.0),
            ..Default::default()
        }
        .described();
        assert_eq!(only_sm.line, "SMs 42 % active");
        assert_eq!(
            GpuProfiling::default().described().line,
            "no counter answered"
        );
        let none = GpuProfiling::unavailable("this GPU has no GPM counters");
        assert_eq!(none.line, "not available: this GPU has no GPM counters");
        assert_eq!(none.tensor_active_percent, None);
    }

    #[test]
    fn only_the_line_and_the_tensor_share_are_read_back() {
        let json = serde_json::to_string(&counters(50.0, 30.0, 90.0)).unwrap();
        assert!(json.contains("\"dram_active_percent\":30.0"), "{json}");
        let back: GpuProfiling = serde_json::from_str(&json).unwrap();
        assert_eq!(back.tensor_active_percent, Some(50.0));
        assert_eq!(back.dram_active_percent, None);
        assert!(back.line.starts_with("tensor cores 50 % active"));
    }
}
