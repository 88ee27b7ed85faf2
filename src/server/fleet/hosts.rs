//! Puts the answers of one refresh together: one `FleetHost` per host name, whatever mix of
//! Vitals, node_exporter and dcgm-exporter targets told of it.

use crate::server::fleet::prom::{Labels, Sample, Series};
use crate::server::fleet::queries::{DASHBOARD_LABEL, GpuMetric, HOST, HostMetric};
use crate::wire::{FleetAlert, FleetGpu, FleetHost, FleetTarget, HostState};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Everything one refresh read.
#[derive(Debug, Default)]
pub struct Answers {
    pub up: Vec<Sample>,
    pub host_metrics: Vec<(HostMetric, Vec<Sample>)>,
    pub gpu_metrics: Vec<(GpuMetric, Vec<Sample>)>,
    pub alerts: Vec<Sample>,
    /// The sparklines' points: unix seconds of the first, the step, and how many.
    pub history: History,
    pub cpu_history: Vec<Series>,
    pub gpu_history: Vec<Series>,
    pub up_history: Vec<Series>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct History {
    pub start: f64,
    pub step: f64,
    pub points: usize,
}

/// Labels that say where a series came from rather than what the host is.
const NOT_HOST_LABELS: [&str; 6] = ["__name__", "job", "instance", HOST, DASHBOARD_LABEL, "host"];

fn host_of(labels: &Labels) -> Option<&str> {
    labels
        .get(HOST)
        .map(String::as_str)
        .filter(|h| !h.is_empty())
}

pub fn assemble(answers: &Answers) -> Vec<FleetHost> {
    let mut hosts: BTreeMap<String, FleetHost> = BTreeMap::new();
    let points = answers.history.points;
    for sample in &answers.up {
        let Some(name) = host_of(&sample.labels) else {
            continue;
        };
        let entry = host_named(&mut hosts, name, points);
        let label = |key: &str| sample.labels.get(key).cloned().unwrap_or_default();
        entry.targets.push(FleetTarget {
            job: label("job"),
            instance: label("instance"),
            up: sample.value == 1.0,
        });
        for (key, value) in &sample.labels {
            if !NOT_HOST_LABELS.contains(&key.as_str()) {
                entry.labels.insert(key.clone(), value.clone());
            }
        }
        if let Some(url) = sample.labels.get(DASHBOARD_LABEL).filter(|u| is_web_url(u)) {
            entry.dashboard.get_or_insert_with(|| url.clone());
        }
    }
    for (metric, samples) in &answers.host_metrics {
        for sample in samples {
            let Some(name) = host_of(&sample.labels) else {
                continue;
            };
            let entry = host_named(&mut hosts, name, points);
            let slot = match metric {
                HostMetric::Cpu => &mut entry.cpu_percent,
                HostMetric::Memory => &mut entry.memory_percent,
                HostMetric::Load => &mut entry.load1,
                HostMetric::DiskRead => &mut entry.disk_read_bytes_per_second,
                HostMetric::DiskWrite => &mut entry.disk_write_bytes_per_second,
                HostMetric::NetworkReceive => &mut entry.network_receive_bytes_per_second,
                HostMetric::NetworkTransmit => &mut entry.network_transmit_bytes_per_second,
            };
            *slot = Some(sample.value);
        }
    }
    let mut gpus: BTreeMap<(String, String), FleetGpu> = BTreeMap::new();
    for (metric, samples) in &answers.gpu_metrics {
        for sample in samples {
            let Some(name) = host_of(&sample.labels) else {
                continue;
            };
            let index = sample.labels.get("gpu").cloned().unwrap_or_default();
            let gpu = gpus
                .entry((name.to_owned(), index.clone()))
                .or_insert_with(|| FleetGpu {
                    index,
                    ..Default::default()
                });
            if let Some(model) = sample.labels.get("modelName") {
                gpu.model.clone_from(model);
            }
            let slot = match metric {
                GpuMetric::Utilization => &mut gpu.utilization_percent,
                GpuMetric::MemoryUsed => &mut gpu.memory_used_mib,
                // Held as free until all are read: total = used + free.
                GpuMetric::MemoryFree => &mut gpu.memory_total_mib,
                GpuMetric::Temperature => &mut gpu.temperature_celsius,
                GpuMetric::Power => &mut gpu.power_watts,
                GpuMetric::PowerLimit => &mut gpu.power_limit_watts,
            };
            *slot = Some(sample.value);
        }
    }
    for ((name, _), mut gpu) in gpus {
        gpu.memory_total_mib = match (gpu.memory_used_mib, gpu.memory_total_mib) {
            (Some(used), Some(free)) => Some(used + free),
            _ => None,
        };
        host_named(&mut hosts, &name, points).gpus.push(gpu);
    }
    for sample in &answers.alerts {
        let Some(entry) = host_of(&sample.labels).and_then(|name| hosts.get_mut(name)) else {
            continue;
        };
        entry.alerts.push(alert_of(&sample.labels));
    }
    for (series, pick) in [
        (&answers.cpu_history, Sparkline::Cpu),
        (&answers.gpu_history, Sparkline::Gpu),
    ] {
        for line in series {
            let Some(entry) = host_of(&line.labels).and_then(|name| hosts.get_mut(name)) else {
                continue;
            };
            let points = spread(line, answers.history);
            match pick {
                Sparkline::Cpu => entry.cpu_history = points,
                Sparkline::Gpu => entry.gpu_history = points,
            }
        }
    }
    let up_lines: BTreeMap<&str, &Series> = answers
        .up_history
        .iter()
        .filter_map(|line| Some((host_of(&line.labels)?, line)))
        .collect();
    for entry in hosts.values_mut() {
        entry.gpus.sort_by(|a, b| gpu_order(&a.index, &b.index));
        entry
            .targets
            .sort_by(|a, b| (&a.job, &a.instance).cmp(&(&b.job, &b.instance)));
        entry.state = state_of(&entry.targets);
        entry.since = up_lines
            .get(entry.name.as_str())
            .and_then(|line| since(line, entry.state != HostState::Down));
        if entry.gpus.is_empty() {
            entry.gpu_history.clear();
        }
    }
    hosts.into_values().collect()
}

enum Sparkline {
    Cpu,
    Gpu,
}

fn host_named<'a>(
    hosts: &'a mut BTreeMap<String, FleetHost>,
    name: &str,
    points: usize,
) -> &'a mut FleetHost {
    hosts
        .entry(name.to_owned())
        .or_insert_with(|| empty_host(name, points))
}

fn empty_host(name: &str, points: usize) -> FleetHost {
    FleetHost {
        name: name.to_owned(),
        cpu_history: vec![None; points],
        gpu_history: vec![None; points],
        ..Default::default()
    }
}

/// A host whose series arrive through another target (`honor_labels`) has no `up` of its own:
/// it is up while Prometheus has fresh series of it.
fn state_of(targets: &[FleetTarget]) -> HostState {
    let up = targets.iter().filter(|t| t.up).count();
    match up {
        _ if targets.is_empty() || up == targets.len() => HostState::Up,
        0 => HostState::Down,
        _ => HostState::Partial,
    }
}

/// When the host's up-ness (any target up) last changed to what it is now; None when it has
/// been so for the whole range. A change after the range's last point dates from that point.
fn since(line: &Series, up_now: bool) -> Option<DateTime<Utc>> {
    let is_now = |value: f64| (value == 1.0) == up_now;
    let last_other = line.points.iter().rposition(|&(_, v)| !is_now(v))?;
    let (at, _) = line
        .points
        .get(last_other + 1)
        .unwrap_or(&line.points[last_other]);
    DateTime::from_timestamp_millis((at * 1000.0) as i64)
}

/// A range answer's points laid on the sparkline's grid (gaps stay None).
fn spread(line: &Series, grid: History) -> Vec<Option<f32>> {
    let mut points = vec![None; grid.points];
    if grid.step <= 0.0 {
        return points;
    }
    for &(at, value) in &line.points {
        let slot = ((at - grid.start) / grid.step).round();
        if slot >= 0.0 && (slot as usize) < grid.points {
            points[slot as usize] = Some(value as f32);
        }
    }
    points
}

fn alert_of(labels: &Labels) -> FleetAlert {
    let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
    // A Vitals alert says what it is about; a Prometheus alert has only its labels.
    let about = match labels.get("summary") {
        Some(summary) => summary.clone(),
        None => labels
            .iter()
            .filter(|(key, _)| {
                !NOT_HOST_LABELS.contains(&key.as_str())
                    && !["alertname", "alertstate", "severity", "rule"].contains(&key.as_str())
            })
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    FleetAlert {
        name: labels
            .get("alertname")
            .or_else(|| labels.get("rule"))
            .cloned()
            .unwrap_or_default(),
        severity: label("severity"),
        about,
    }
}

/// GPU indexes in number order ("2" before "10").
fn gpu_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

/// Only http and https links are drawn: a label is anyone's text.
fn is_web_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels(pairs),
            value,
        }
    }

    fn grid() -> History {
        History {
            start: 1000.0,
            step: 60.0,
            points: 4,
        }
    }

    #[test]
    fn targets_of_one_host_make_one_row_with_its_gpus_labels_and_link() {
        let answers = Answers {
            up: vec![
                sample(
                    &[
                        (HOST, "gpu-a"),
                        ("job", "vitals"),
                        ("instance", "gpu-a:3000"),
                        (DASHBOARD_LABEL, "http://gpu-a:3000/"),
                        ("env", "prod"),
                    ],
                    1.0,
                ),
                sample(
                    &[(HOST, "gpu-a"), ("job", "dcgm"), ("instance", "gpu-a:9400")],
                    0.0,
                ),
                sample(
                    &[
                        (HOST, "evil"),
                        ("job", "node"),
                        ("instance", "evil:9100"),
                        (DASHBOARD_LABEL, "javascript:alert(1)"),
                    ],
                    1.0,
                ),
            ],
            host_metrics: vec![(HostMetric::Cpu, vec![sample(&[(HOST, "gpu-a")], 12.5)])],
            gpu_metrics: vec![
                (
                    GpuMetric::MemoryUsed,
                    vec![
                        sample(
                            &[(HOST, "gpu-a"), ("gpu", "10"), ("modelName", "H100")],
                            1024.0,
                        ),
                        sample(
                            &[(HOST, "gpu-a"), ("gpu", "2"), ("modelName", "H100")],
                            512.0,
                        ),
                    ],
                ),
                (
                    GpuMetric::MemoryFree,
                    vec![sample(&[(HOST, "gpu-a"), ("gpu", "10")], 3072.0)],
                ),
            ],
            alerts: vec![
                sample(
                    &[
                        (HOST, "gpu-a"),
                        ("alertname", "GpuHot"),
                        ("severity", "critical"),
                        ("gpu", "2"),
                    ],
                    1.0,
                ),
                sample(
                    &[
                        (HOST, "gpu-a"),
                        ("rule", "gpu_temperature"),
                        ("summary", "GPU 2 is hot"),
                    ],
                    1.0,
                ),
            ],
            history: grid(),
            ..Default::default()
        };
        let hosts = assemble(&answers);
        assert_eq!(hosts.len(), 2);
        let a = &hosts[1];
        assert_eq!(a.name, "gpu-a");
        assert_eq!(a.state, HostState::Partial, "dcgm-exporter is down");
        assert_eq!(a.targets.len(), 2);
        assert_eq!(a.labels.get("env").map(String::as_str), Some("prod"));
        assert!(!a.labels.contains_key(DASHBOARD_LABEL) && !a.labels.contains_key("job"));
        assert_eq!(a.dashboard.as_deref(), Some("http://gpu-a:3000/"));
        assert_eq!(a.cpu_percent, Some(12.5));
        let indexes: Vec<&str> = a.gpus.iter().map(|g| g.index.as_str()).collect();
        assert_eq!(indexes, ["2", "10"], "GPUs in number order");
        assert_eq!(a.gpus[1].memory_total_mib, Some(4096.0), "used + free");
        assert_eq!(a.gpus[0].memory_total_mib, None, "no free, no total");
        assert_eq!(a.alerts[0].name, "GpuHot");
        assert_eq!(a.alerts[0].about, "gpu=2");
        assert_eq!(a.alerts[1].name, "gpu_temperature");
        assert_eq!(a.alerts[1].about, "GPU 2 is hot");
        assert_eq!(hosts[0].dashboard, None, "only http(s) links");
    }

    #[test]
    fn a_host_without_its_own_up_is_up_and_all_down_is_down() {
        assert_eq!(state_of(&[]), HostState::Up);
        let target = |up| FleetTarget {
            job: "node".into(),
            instance: "a:9100".into(),
            up,
        };
        assert_eq!(state_of(&[target(false), target(false)]), HostState::Down);
        assert_eq!(state_of(&[target(true)]), HostState::Up);
    }

    #[test]
    fn since_is_the_first_point_of_the_current_state() {
        let line = Series {
            labels: Labels::new(),
            points: vec![(1000.0, 1.0), (1060.0, 1.0), (1120.0, 0.0), (1180.0, 0.0)],
        };
        let since = since(&line, false).unwrap();
        assert_eq!(since.timestamp(), 1120);
        assert_eq!(
            super::since(&line, true).unwrap().timestamp(),
            1180,
            "up again after the last point: since then"
        );
        let steady = Series {
            labels: Labels::new(),
            points: vec![(1000.0, 1.0), (1060.0, 1.0)],
        };
        assert_eq!(
            super::since(&steady, true),
            None,
            "the same for the whole range"
        );
    }

    #[test]
    fn sparkline_points_land_on_the_grid_with_gaps() {
        let line = Series {
            labels: Labels::new(),
            points: vec![(1000.0, 5.0), (1121.0, 7.0), (5000.0, 9.0)],
        };
        assert_eq!(
            spread(&line, grid()),
            vec![Some(5.0), None, Some(7.0), None]
        );
    }
}
