//! CPU collector: overall and per-core usage, frequency, load average, temperature and mode seconds.

use crate::wire::{CpuMetrics, LoadAverage};
use sysinfo::{Components, CpuRefreshKind, RefreshKind, System};

/// One core's cumulative seconds in each mode since boot (node_exporter's `node_cpu_seconds_total`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CpuModeSeconds {
    /// Logical core index.
    pub cpu: usize,
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
}

pub struct CpuCollector {
    system: System,
    /// The one sensor that reads the CPU package, found once at start (scanning hwmon is slow).
    temperature_sensor: Option<(Components, usize)>,
    model: String,
    /// USER_HZ: the unit of /proc/stat's counters; 100 on every Linux ABI Vitals runs on.
    ticks_per_second: f64,
}

impl CpuCollector {
    pub fn new() -> Self {
        let system = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_cpu_usage().with_frequency()),
        );
        let model = system
            .cpus()
            .first()
            .map(|cpu| cpu.brand().trim().to_owned())
            .unwrap_or_default();
        CpuCollector {
            system,
            temperature_sensor: cpu_sensor(),
            model,
            ticks_per_second: 100.0,
        }
    }

    pub fn sample(&mut self) -> CpuMetrics {
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage().with_frequency());
        let cpus = self.system.cpus();
        let load = System::load_average();
        // Refresh the chosen sensor only: one file read instead of all of hwmon.
        let temperature_celsius = self
            .temperature_sensor
            .as_mut()
            .and_then(|(sensors, chosen)| {
                let sensor = sensors.list_mut().get_mut(*chosen)?;
                sensor.refresh();
                sensor.temperature().filter(|t| t.is_finite())
            });
        CpuMetrics {
            usage_percent: clamp_percent(self.system.global_cpu_usage()),
            per_core_percent: cpus
                .iter()
                .map(|cpu| clamp_percent(cpu.cpu_usage()))
                .collect(),
            per_core_mhz: cpus
                .iter()
                .map(|cpu| cpu.frequency())
                .filter(|&mhz| mhz > 0)
                .collect(),
            load_average: LoadAverage {
                one: load.one,
                five: load.five,
                fifteen: load.fifteen,
            },
            temperature_celsius,
            model: self.model.clone(),
            core_count: cpus.len(),
        }
    }

    /// Seconds per mode and core from /proc/stat, read now (empty if it cannot be read).
    pub fn seconds_by_mode(&self) -> Vec<CpuModeSeconds> {
        std::fs::read_to_string("/proc/stat")
            .map(|text| parse_proc_stat(&text, self.ticks_per_second))
            .unwrap_or_default()
    }
}

impl Default for CpuCollector {
    fn default() -> Self {
        Self::new()
    }
}

fn clamp_percent(value: f32) -> f32 {
    if value.is_finite() {
        value.clamp(0.0, 100.0)
    } else {
        0.0
    }
}

/// The hwmon sensors and the index of the one that best stands for the CPU package, if any.
fn cpu_sensor() -> Option<(Components, usize)> {
    let components = Components::new_with_refreshed_list();
    let labels: Vec<String> = components
        .list()
        .iter()
        .map(|c| c.label().to_owned())
        .collect();
    let chosen = pick_cpu_sensor(&labels)?;
    Some((components, chosen))
}

/// The index of the label that names the CPU package temperature, by how specific it is.
pub fn pick_cpu_sensor(labels: &[String]) -> Option<usize> {
    const PREFERENCES: [&str; 7] = [
        "package id 0",
        "tctl",
        "tdie",
        "coretemp",
        "k10temp",
        "cpu_thermal",
        "cpu",
    ];
    PREFERENCES.iter().find_map(|wanted| {
        labels
            .iter()
            .position(|label| label.to_ascii_lowercase().contains(wanted))
    })
}

/// Cumulative seconds per mode and core from /proc/stat (lines `cpuN user nice system idle iowait irq
/// softirq steal …`, in USER_HZ ticks).
pub fn parse_proc_stat(text: &str, ticks_per_second: f64) -> Vec<CpuModeSeconds> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let cpu: usize = fields.next()?.strip_prefix("cpu")?.parse().ok()?;
            let ticks: Vec<f64> = fields
                .take(8)
                .map(|f| f.parse::<f64>().unwrap_or(0.0))
                .collect();
            let at = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / ticks_per_second;
            Some(CpuModeSeconds {
                cpu,
                user: at(0),
                nice: at(1),
                system: at(2),
                idle: at(3),
                iowait: at(4),
                irq: at(5),
                softirq: at(6),
                steal: at(7),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_per_core_lines_and_skips_the_total() {
        let text = "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 200 1 300 4000 5 6 7 8 0 0\ncpu1 100 0 100 100 0 0 0 0 0 0\nintr 1 2\n";
        let modes = parse_proc_stat(text, 100.0);
        assert_eq!(modes.len(), 2);
        assert_eq!(modes[0].cpu, 0);
        assert_eq!(modes[0].user, 2.0);
        assert_eq!(modes[0].system, 3.0);
        assert_eq!(modes[0].idle, 40.0);
        assert_eq!(modes[0].steal, 0.08);
        assert_eq!(modes[1].cpu, 1);
    }

    #[test]
    fn picks_the_package_sensor_over_others() {
        let labels: Vec<String> = ["acpitz temp1", "coretemp Core 0", "coretemp Package id 0"]
            .map(String::from)
            .to_vec();
        assert_eq!(pick_cpu_sensor(&labels), Some(2));
        let amd: Vec<String> = ["nvme Composite", "k10temp Tctl"]
            .map(String::from)
            .to_vec();
        assert_eq!(pick_cpu_sensor(&amd), Some(1));
        let none: Vec<String> = ["nvme Composite"].map(String::from).to_vec();
        assert_eq!(pick_cpu_sensor(&none), None);
    }
}
