//! The host over a run: how busy its CPUs were and for how long they were saturated (a data
//! loader that cannot feed the GPUs), and whether it had to push memory out to swap.

use crate::server::history::scan::Spread;
use crate::wire::HostRun;
use crate::wire::series::{CPU_USAGE, SWAP_USED_BYTES};

/// All CPUs together at least this busy are saturated.
pub const SATURATED_PERCENT: f64 = 90.0;

/// The host's series, in the order [`HostTally::add`] takes them.
pub fn series() -> [String; 2] {
    [CPU_USAGE.to_owned(), SWAP_USED_BYTES.to_owned()]
}

#[derive(Debug, Default)]
pub struct HostTally {
    cpu_sum: f64,
    cpu_seconds: f64,
    saturated: f64,
    swap_first: Option<f64>,
    swap_peak: Option<f64>,
}

impl HostTally {
    pub fn add(&mut self, seconds: f64, values: &[Option<Spread>]) {
        if let Some(cpu) = values.first().copied().flatten() {
            self.cpu_sum += cpu.avg * seconds;
            self.cpu_seconds += seconds;
            if cpu.avg >= SATURATED_PERCENT {
                self.saturated += seconds;
            }
        }
        if let Some(swap) = values.get(1).copied().flatten() {
            self.swap_first.get_or_insert(swap.min);
            self.swap_peak = Some(self.swap_peak.map_or(swap.max, |p| p.max(swap.max)));
        }
    }

    pub fn finish(self) -> HostRun {
        HostRun {
            cpu_mean_percent: (self.cpu_seconds > 0.0).then(|| self.cpu_sum / self.cpu_seconds),
            cpu_saturated_seconds: self.saturated,
            swap_peak_bytes: self.swap_peak,
            swap_grew_bytes: match (self.swap_first, self.swap_peak) {
                (Some(first), Some(peak)) => (peak - first).max(0.0),
                _ => 0.0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_and_swap_growth_are_counted() {
        let row = |cpu: f64, swap: f64| {
            [cpu, swap].map(|v| {
                Some(Spread {
                    min: v,
                    avg: v,
                    max: v,
                })
            })
        };
        let mut tally = HostTally::default();
        tally.add(2.0, &row(95.0, 1e9));
        tally.add(2.0, &row(45.0, 3e9));
        tally.add(1.0, &row(50.0, 2e9));
        let host = tally.finish();
        assert_eq!(host.cpu_saturated_seconds, 2.0);
        assert_eq!(host.cpu_mean_percent, Some(66.0));
        assert_eq!(
            (host.swap_peak_bytes, host.swap_grew_bytes),
            (Some(3e9), 2e9)
        );
    }
}
