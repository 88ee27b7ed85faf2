//! One GPU over a run: its series named once, and each saved row added up into busy, idle and
//! idle-held time, SM use and its 95th percentile, memory, GPM shares, energy from power, the
//! seconds under each clock event reason, errors counted and a narrowed PCIe link.

use crate::server::history::scan::Spread;
use crate::server::usage::idle_held::IdleHeldSettings;
use crate::wire::series::{clock_event_series, gpu_metric, gpu_series};
use crate::wire::{CLOCK_EVENT_REASONS, GpuRun};
use std::collections::BTreeMap;

/// The GPU's series, in the order a row's values come in (see [`GpuTally::add`]).
const METRICS: [&str; 9] = [
    gpu_metric::UTILIZATION,
    gpu_metric::MEMORY_USED,
    gpu_metric::POWER,
    gpu_metric::TENSOR_ACTIVE,
    gpu_metric::DRAM_ACTIVE,
    gpu_metric::PCIE_NARROW,
    gpu_metric::XID_ERRORS,
    gpu_metric::ECC_CORRECTED,
    gpu_metric::ECC_UNCORRECTED,
];

/// The clock event reasons a run is held back by: all but idleness, which is no fault.
pub fn held_back_reasons() -> impl Iterator<Item = &'static str> {
    CLOCK_EVENT_REASONS
        .iter()
        .map(|(_, reason, _)| *reason)
        .filter(|reason| *reason != "idle")
}

/// The names of one GPU's series a report reads, in the order [`GpuTally::add`] takes them.
pub fn series_of(uuid: &str) -> Vec<String> {
    let metrics = METRICS.iter().map(|metric| gpu_series(uuid, metric));
    let reasons = held_back_reasons().map(|reason| clock_event_series(uuid, reason));
    metrics.chain(reasons).collect()
}

/// How many series [`series_of`] names.
pub fn series_count() -> usize {
    METRICS.len() + held_back_reasons().count()
}

/// A mean weighted by the seconds each value stood for.
#[derive(Clone, Copy, Debug, Default)]
struct Mean {
    sum: f64,
    seconds: f64,
}

impl Mean {
    fn add(&mut self, value: f64, seconds: f64) {
        self.sum += value * seconds;
        self.seconds += seconds;
    }

    fn get(self) -> Option<f64> {
        (self.seconds > 0.0).then(|| self.sum / self.seconds)
    }
}

/// A cumulative counter's increases (a reset to a lower count is not one).
#[derive(Clone, Copy, Debug, Default)]
struct Increases {
    last: Option<f64>,
    total: f64,
}

impl Increases {
    fn add(&mut self, value: f64) {
        if let Some(last) = self.last
            && value > last
        {
            self.total += value - last;
        }
        self.last = Some(value);
    }
}

/// What a GPU's rows add up to so far.
#[derive(Debug, Default)]
pub struct GpuTally {
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    sampled: f64,
    busy: f64,
    idle_held: f64,
    idle: f64,
    sm: Mean,
    /// Each row's SM use with its seconds, for the 95th percentile.
    sm_values: Vec<(f64, f64)>,
    memory: Mean,
    memory_peak: Option<f64>,
    tensor: Mean,
    dram: Mean,
    power: Mean,
    energy_joules: f64,
    throttled: Vec<f64>,
    narrow: f64,
    xid: Increases,
    ecc_corrected: Increases,
    ecc_uncorrected: Increases,
}

impl GpuTally {
    /// Adds a row: `values` are this GPU's, as [`series_of`] names them.
    pub fn add(
        &mut self,
        t: i64,
        seconds: f64,
        values: &[Option<Spread>],
        idle: &IdleHeldSettings,
    ) {
        let [util, memory, power, tensor, dram, narrow, xid, ecc_c, ecc_u] =
            std::array::from_fn(|i| values.get(i).copied().flatten());
        if util.is_none() && memory.is_none() {
            return;
        }
        self.first_ms.get_or_insert(t);
        self.last_ms = Some(t);
        self.sampled += seconds;
        if let Some(util) = util {
            self.sm.add(util.avg, seconds);
            self.sm_values.push((util.avg, seconds));
        }
        let held = memory.is_some_and(|m| m.avg >= idle.min_memory_bytes as f64);
        match util {
            Some(u) if u.avg > f64::from(idle.max_utilization_percent) => self.busy += seconds,
            _ if held => self.idle_held += seconds,
            _ => self.idle += seconds,
        }
        if let Some(memory) = memory {
            self.memory.add(memory.avg, seconds);
            self.memory_peak = Some(self.memory_peak.map_or(memory.max, |p| p.max(memory.max)));
        }
        if let Some(power) = power {
            self.power.add(power.avg, seconds);
            self.energy_joules += power.avg * seconds;
        }
        if let Some(tensor) = tensor {
            self.tensor.add(tensor.avg, seconds);
        }
        if let Some(dram) = dram {
            self.dram.add(dram.avg, seconds);
        }
        if let Some(narrow) = narrow {
            self.narrow += narrow.avg * seconds;
        }
        for (counter, value) in [
            (&mut self.xid, xid),
            (&mut self.ecc_corrected, ecc_c),
            (&mut self.ecc_uncorrected, ecc_u),
        ] {
            if let Some(value) = value {
                counter.add(value.max);
            }
        }
        let reasons = values.get(METRICS.len()..).unwrap_or_default();
        self.throttled.resize(reasons.len(), 0.0);
        for (seconds_held, reason) in self.throttled.iter_mut().zip(reasons) {
            // A rollup's mean of a 1-or-0 series is the share of its time the reason held.
            if let Some(reason) = reason {
                *seconds_held += reason.avg * seconds;
            }
        }
    }

    /// The GPU's figures over the run.
    pub fn finish(mut self, uuid: &str, index: Option<u32>, name: Option<String>) -> GpuRun {
        let throttled_seconds: BTreeMap<String, f64> = held_back_reasons()
            .zip(&self.throttled)
            .filter(|(_, seconds)| **seconds > 0.0)
            .map(|(reason, seconds)| (reason.to_owned(), *seconds))
            .collect();
        GpuRun {
            uuid: uuid.to_owned(),
            index,
            name,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
            sampled_seconds: self.sampled,
            busy_seconds: self.busy,
            idle_held_seconds: self.idle_held,
            idle_seconds: self.idle,
            sm_mean_percent: self.sm.get(),
            sm_p95_percent: percentile(&mut self.sm_values, 0.95),
            memory_peak_bytes: self.memory_peak,
            memory_mean_bytes: self.memory.get(),
            tensor_mean_percent: self.tensor.get(),
            dram_mean_percent: self.dram.get(),
            power_mean_watts: self.power.get(),
            energy_kwh: self.energy_joules / 3.6e6,
            throttled_seconds,
            xid_errors: self.xid.total.round() as u64,
            ecc_corrected: self.ecc_corrected.total.round() as u64,
            ecc_uncorrected: self.ecc_uncorrected.total.round() as u64,
            pcie_narrow_seconds: self.narrow,
        }
    }
}

/// The value below which `share` of the weighted time lies.
fn percentile(values: &mut [(f64, f64)], share: f64) -> Option<f64> {
    let total: f64 = values.iter().map(|(_, w)| w).sum();
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut below = 0.0;
    for (value, weight) in values.iter() {
        below += weight;
        if below >= share * total {
            return Some(*value);
        }
    }
    values.last().map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: f64) -> Option<Spread> {
        Some(Spread {
            min: v,
            avg: v,
            max: v,
        })
    }

    #[test]
    fn rows_add_up_to_time_energy_throttling_and_errors() {
        let idle = IdleHeldSettings::default();
        let mut tally = GpuTally::default();
        let reasons: Vec<&str> = held_back_reasons().collect();
        let power_cap = reasons.iter().position(|r| *r == "power_cap").unwrap();
        for second in 0..100 {
            let mut values = vec![None; series_count()];
            let busy = second < 80;
            values[0] = one(if busy { 90.0 } else { 0.0 });
            values[1] = one(if second < 90 { 4e9 } else { 0.0 });
            values[2] = one(if busy { 300.0 } else { 60.0 });
            values[6] = one(if second < 50 { 2.0 } else { 3.0 });
            values[METRICS.len() + power_cap] = one(if second < 20 { 1.0 } else { 0.0 });
            tally.add(second * 1000, 1.0, &values, &idle);
        }
        let run = tally.finish("GPU-a", Some(0), None);
        assert_eq!(
            (run.busy_seconds, run.idle_held_seconds, run.idle_seconds),
            (80.0, 10.0, 10.0)
        );
        assert_eq!(run.energy_kwh * 3.6e6, 80.0 * 300.0 + 20.0 * 60.0);
        assert_eq!(run.sm_mean_percent, Some(72.0));
        assert_eq!(run.sm_p95_percent, Some(90.0));
        assert_eq!(
            run.throttled_seconds,
            BTreeMap::from([("power_cap".into(), 20.0)])
        );
        assert_eq!(run.xid_errors, 1, "the count's increase, not its value");
        assert_eq!(run.memory_peak_bytes, Some(4e9));
        assert_eq!((run.first_ms, run.last_ms), (Some(0), Some(99_000)));
        assert_eq!(run.tensor_mean_percent, None, "no GPM: no share");
    }
}
