//! The checks: every disk, sensor, memory controller, PCIe device, GPU and filesystem of one
//! tick, and what is wrong with each, with one sentence of what to do. Pure: a snapshot in,
//! findings out.

use super::forecast;
use crate::server::collect::Snapshot;
use crate::wire::{AlertSeverity, DiskHealth, GpuMetrics, SLOWDOWN_REASONS, Sensor, SensorKind};

/// A fan reading 0 RPM is a stopped fan only while something on the machine is this warm (many
/// boards stop their fans at idle on purpose).
pub const FAN_STOPPED_WARM_CELSIUS: f64 = 50.0;
/// A filesystem forecast to fill within this many hours is worth a look.
pub const FILL_WITHIN_HOURS: f64 = 72.0;
/// Correctable PCIe errors are routine in small numbers.
const PCIE_CORRECTABLE_NOTABLE: u64 = 100;

/// One thing wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub check: &'static str,
    pub subject: String,
    pub severity: AlertSeverity,
    pub value: String,
    pub action: String,
    pub link: Option<String>,
}

/// The warmest temperature the machine reads now (its sensors and the CPU's).
pub fn warmest(snapshot: &Snapshot) -> f64 {
    snapshot
        .health
        .sensors
        .iter()
        .filter(|s| s.kind == SensorKind::Temperature)
        .map(|s| s.value)
        .chain(snapshot.cpu.temperature_celsius.map(f64::from))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Whether a fan has stopped: 0 RPM while the machine is warm.
pub fn fan_stopped(sensor: &Sensor, warmest: f64) -> bool {
    sensor.kind == SensorKind::Fan && sensor.value == 0.0 && warmest >= FAN_STOPPED_WARM_CELSIUS
}

/// How many things were checked, and what is wrong.
pub fn run(snapshot: &Snapshot) -> (usize, Vec<Finding>) {
    let mut found = Vec::new();
    let health = &snapshot.health;
    let mut checks = 0;
    for disk in &health.disks {
        checks += 1;
        disk_findings(disk, &mut found);
    }
    let warmest = warmest(snapshot);
    for sensor in &health.sensors {
        checks += 1;
        let subject = format!("{} ({})", sensor.label, sensor.chip);
        match sensor.kind {
            SensorKind::Fan if fan_stopped(sensor, warmest) => found.push(Finding {
                check: "fan_stopped",
                subject: subject.clone(),
                severity: AlertSeverity::Warning,
                value: format!("0 RPM while the machine is at {warmest:.0} °C"),
                action: format!(
                    "Check {subject}: it has stopped or come unplugged; replace it or its \
                         cable before what it cools overheats."
                ),
                link: Some("/health#sensors".into()),
            }),
            SensorKind::Temperature => {
                let over = |limit: Option<f64>| limit.is_some_and(|l| l > 0.0 && sensor.value >= l);
                let severity = if over(sensor.crit) {
                    AlertSeverity::Critical
                } else if over(sensor.max) {
                    AlertSeverity::Warning
                } else {
                    continue;
                };
                found.push(Finding {
                    check: "temperature",
                    subject: subject.clone(),
                    severity,
                    value: format!("{:.0} °C, at or past its limit", sensor.value),
                    action: "Check the airflow: clean the filters and dust, make sure every fan \
                             turns, and keep the intake clear."
                        .into(),
                    link: Some("/health#sensors".into()),
                });
            }
            SensorKind::Fan => {}
        }
    }
    for controller in &health.memory_controllers {
        checks += 1;
        let dimm = controller
            .dimms
            .iter()
            .filter(|d| d.corrected > 0 || d.uncorrected > 0)
            .map(|d| d.label.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let which = if dimm.is_empty() {
            format!("memory controller {}", controller.controller)
        } else {
            dimm
        };
        if controller.uncorrected > 0 {
            found.push(Finding {
                check: "memory_uncorrected",
                subject: which.clone(),
                severity: AlertSeverity::Critical,
                value: format!("{} uncorrected memory errors", controller.uncorrected),
                action: format!(
                    "Replace {which}: uncorrected errors crash processes and corrupt data; if \
                     several DIMMs show them, suspect the board or the memory controller."
                ),
                link: Some("/health#memory".into()),
            });
        } else if controller.corrected > 0 {
            found.push(Finding {
                check: "memory_corrected",
                subject: which.clone(),
                severity: AlertSeverity::Warning,
                value: format!("{} corrected memory errors", controller.corrected),
                action: format!(
                    "Watch {which}: corrected errors do no harm yet, but a count that keeps \
                     rising means the DIMM is wearing out; plan to replace it."
                ),
                link: Some("/health#memory".into()),
            });
        }
    }
    for device in &health.pcie {
        checks += 1;
        let subject = format!("{} ({})", device.name, device.address);
        let (severity, value) = if device.fatal > 0 {
            (
                AlertSeverity::Critical,
                format!("{} fatal PCIe errors", device.fatal),
            )
        } else if device.nonfatal > 0 {
            (
                AlertSeverity::Warning,
                format!("{} non-fatal PCIe errors", device.nonfatal),
            )
        } else if device.correctable >= PCIE_CORRECTABLE_NOTABLE {
            (
                AlertSeverity::Warning,
                format!("{} correctable PCIe errors", device.correctable),
            )
        } else {
            continue;
        };
        found.push(Finding {
            check: "pcie_errors",
            subject: subject.clone(),
            severity,
            value,
            action: format!(
                "Reseat {subject} and check its slot, riser and power: PCIe errors are the link; \
                 if they come back on another slot, replace the card."
            ),
            link: Some("/health#pcie".into()),
        });
    }
    let hour_ago = snapshot.timestamp - chrono::TimeDelta::hours(1);
    for gpu in &snapshot.gpus {
        checks += 1;
        gpu_findings(gpu, hour_ago, &mut found);
    }
    for filesystem in &snapshot.disk.filesystems {
        checks += 1;
        if filesystem.total_bytes == 0 {
            continue;
        }
        let used = filesystem.used_bytes as f64 * 100.0 / filesystem.total_bytes as f64;
        let forecast = health
            .fill_forecasts
            .iter()
            .find(|f| f.mount_point == filesystem.mount_point)
            .filter(|f| f.hours_to_full <= FILL_WITHIN_HOURS);
        let link = Some("/#chart-disk".to_owned());
        if used >= 90.0 {
            found.push(Finding {
                check: "filesystem_full",
                subject: filesystem.mount_point.clone(),
                severity: if used >= 97.0 {
                    AlertSeverity::Critical
                } else {
                    AlertSeverity::Warning
                },
                value: format!("{used:.0} % used"),
                action: format!(
                    "Free space on {}: delete or move old checkpoints, logs and caches before \
                     writes start failing.",
                    filesystem.mount_point
                ),
                link,
            });
        } else if let Some(forecast) = forecast {
            found.push(Finding {
                check: "filesystem_forecast",
                subject: filesystem.mount_point.clone(),
                severity: AlertSeverity::Warning,
                value: format!(
                    "full in {} at its growth of the last hours ({used:.0} % used)",
                    forecast::in_words(forecast.hours_to_full)
                ),
                action: format!(
                    "Find what is filling {} (a run writing checkpoints, a log) and make room or \
                     stop it before it is full.",
                    filesystem.mount_point
                ),
                link,
            });
        }
    }
    (checks, found)
}

fn disk_findings(disk: &DiskHealth, found: &mut Vec<Finding>) {
    let name = &disk.device;
    let mut push = |check, severity, value: String, action: String| {
        found.push(Finding {
            check,
            subject: disk_subject(disk),
            severity,
            value,
            action,
            link: Some("/health#disks".into()),
        })
    };
    if disk.passed == Some(false) {
        let counters = disk_counters(disk);
        push(
            "disk_smart",
            AlertSeverity::Critical,
            format!("SMART says FAILED{counters}"),
            format!(
                "Copy what matters off {name} now and replace it: the disk itself reports that \
                 it is failing."
            ),
        );
        return;
    }
    if disk.critical_warning.is_some_and(|w| w != 0) {
        push(
            "disk_critical_warning",
            AlertSeverity::Critical,
            format!(
                "NVMe critical warning {:#04x}",
                disk.critical_warning.unwrap_or(0)
            ),
            format!("Back up {name} and replace it: the drive raised a critical warning."),
        );
    }
    if let Some(used) = disk.percentage_used.filter(|&u| u >= 90) {
        push(
            "disk_wear",
            if used >= 100 {
                AlertSeverity::Critical
            } else {
                AlertSeverity::Warning
            },
            format!("{used} % of its rated writes used"),
            format!("Order a replacement for {name}: worn past its rating it may turn read-only."),
        );
    }
    if let (Some(spare), Some(threshold)) = (disk.available_spare, disk.available_spare_threshold)
        && spare <= threshold
    {
        push(
            "disk_spare",
            AlertSeverity::Critical,
            format!("{spare} % spare left (threshold {threshold} %)"),
            format!("Back up {name} and replace it: it has run out of spare blocks."),
        );
    }
    let sectors = disk.pending_sectors.unwrap_or(0)
        + disk.reallocated_sectors.unwrap_or(0)
        + disk.offline_uncorrectable.unwrap_or(0)
        + disk.media_errors.unwrap_or(0);
    if sectors > 0 {
        push(
            "disk_sectors",
            AlertSeverity::Warning,
            disk_counters(disk).trim_start_matches(" · ").to_owned(),
            format!(
                "Back up {name} and run a long self-test (smartctl -t long /dev/{name}); counts \
                 that keep growing mean it is failing."
            ),
        );
    }
    if disk.crc_errors.is_some_and(|c| c > 0) {
        push(
            "disk_cable",
            AlertSeverity::Warning,
            format!("{} interface CRC errors", disk.crc_errors.unwrap_or(0)),
            format!(
                "Reseat or replace the cable of {name}: CRC errors are the link, not the disk."
            ),
        );
    }
}

fn disk_subject(disk: &DiskHealth) -> String {
    match &disk.model {
        Some(model) => format!("{} ({model})", disk.device),
        None => disk.device.clone(),
    }
}

/// " · 1975 reallocated, 8 pending sectors": the counters that are not zero.
fn disk_counters(disk: &DiskHealth) -> String {
    let parts: Vec<String> = [
        (disk.reallocated_sectors, "reallocated"),
        (disk.pending_sectors, "pending"),
        (disk.offline_uncorrectable, "offline uncorrectable"),
        (disk.media_errors, "media errors"),
    ]
    .iter()
    .filter_map(|(count, what)| count.filter(|&c| c > 0).map(|c| format!("{c} {what}")))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" · {}", parts.join(", "))
    }
}

fn gpu_findings(
    gpu: &GpuMetrics,
    hour_ago: chrono::DateTime<chrono::Utc>,
    found: &mut Vec<Finding>,
) {
    let subject = format!("GPU {}", gpu.index);
    let link = Some(format!("/#chart-gpu-{}", gpu.index));
    let mut push = |check, severity, value: String, action: &str| {
        found.push(Finding {
            check,
            subject: subject.clone(),
            severity,
            value,
            action: action.to_owned(),
            link: link.clone(),
        })
    };
    if !gpu.available {
        push(
            "gpu_lost",
            AlertSeverity::Critical,
            gpu.error.clone().unwrap_or_else(|| "cannot be read".into()),
            "Stop its jobs and reboot; if it stays lost, reseat the card or ask for a \
             replacement.",
        );
        return;
    }
    if let Some(xid) = gpu.xid_errors.iter().rev().find(|x| x.at > hour_ago) {
        push(
            "gpu_xid",
            AlertSeverity::Critical,
            format!(
                "XID {}: {} at {}",
                xid.code,
                xid.meaning,
                xid.at.format("%H:%M UTC")
            ),
            xid_action(xid.code),
        );
    }
    if let Some(ecc) = gpu.ecc
        && ecc.uncorrected_volatile.is_some_and(|n| n > 0)
    {
        push(
            "gpu_ecc",
            AlertSeverity::Critical,
            format!(
                "{} uncorrected ECC errors since the driver loaded",
                ecc.uncorrected_volatile.unwrap_or(0)
            ),
            "Drain its jobs and reset the GPU (nvidia-smi -r, or reboot) so the bad memory is \
             retired; if errors return, ask for a replacement.",
        );
    }
    if let Some(repair) = gpu.memory_repair {
        if repair.remap_failed == Some(true) {
            push(
                "gpu_remap",
                AlertSeverity::Critical,
                "row remapping failed".into(),
                "Take the GPU out of service and ask for a replacement: it has no spare rows left.",
            );
        } else if repair.remap_pending == Some(true) || repair.retirement_pending == Some(true) {
            push(
                "gpu_remap",
                AlertSeverity::Warning,
                "memory repair waits for a reset".into(),
                "Reset the GPU when its jobs end (nvidia-smi -r, or reboot) so the pending \
                 repair takes effect.",
            );
        }
    }
    if gpu
        .clocks_throttle_reasons
        .is_some_and(|r| r & SLOWDOWN_REASONS != 0)
    {
        push(
            "gpu_slowdown",
            AlertSeverity::Warning,
            "clocks held down by heat or a hardware signal".into(),
            "Check the GPU's cooling and power: clean its fans and heatsink, and check the \
             power cables and the supply.",
        );
    }
    if let Some(pcie) = gpu.pcie
        && let (Some(width), Some(max)) = (pcie.width, pcie.max_width)
        && width < max
    {
        push(
            "gpu_pcie_narrow",
            AlertSeverity::Warning,
            format!("PCIe link at x{width} of x{max}"),
            "Reseat the GPU and check its slot and riser: a narrow link starves its transfers.",
        );
    }
}

/// What to do after an XID, by what the code means.
fn xid_action(code: u64) -> &'static str {
    match code {
        79 => {
            "The GPU fell off the bus. Stop its jobs and reboot; if it happens again, reseat \
             the card or ask for a replacement."
        }
        48 | 63 | 64 | 94 | 95 | 140 => {
            "A memory error: drain the GPU's jobs and reset it (nvidia-smi -r, or reboot); if \
             it repeats, ask for a replacement."
        }
        13 | 31 | 43 | 45 | 69 => {
            "Usually the program's fault (a bad kernel or memory access): check the job that \
             ran; if it happens with different programs, test the GPU."
        }
        74 => {
            "Check the NVLink bridges and cables; reset the GPUs; if it repeats, call for service."
        }
        119 | 120 => {
            "The GPU's firmware stopped answering: reboot, and update the driver if it repeats."
        }
        _ => {
            "Look the code up in NVIDIA's XID catalog; if it repeats, drain the GPU and reset \
             it."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        DimmErrors, Filesystem, FillForecast, MemoryController, PcieErrors, XidError,
    };

    fn failing_disk() -> DiskHealth {
        DiskHealth {
            device: "sda".into(),
            model: Some("WDC WD140EDFZ".into()),
            passed: Some(false),
            reallocated_sectors: Some(1975),
            pending_sectors: Some(8),
            ..Default::default()
        }
    }

    #[test]
    fn a_failing_disk_a_stopped_fan_and_an_xid_read_with_what_to_do() {
        let now = chrono::Utc::now();
        let mut snapshot = Snapshot {
            timestamp: now,
            ..Default::default()
        };
        snapshot.health.disks = vec![failing_disk()];
        snapshot.health.sensors = vec![
            Sensor {
                chip: "nct6775".into(),
                sensor: "fan2".into(),
                label: "CPU fan".into(),
                kind: SensorKind::Fan,
                value: 0.0,
                ..Default::default()
            },
            Sensor {
                chip: "k10temp".into(),
                sensor: "temp1".into(),
                label: "Tctl".into(),
                value: 71.0,
                max: Some(95.0),
                ..Default::default()
            },
        ];
        snapshot.gpus = vec![GpuMetrics {
            index: 0,
            available: true,
            xid_errors: vec![XidError {
                code: 79,
                at: now,
                meaning: "GPU has fallen off the bus".into(),
            }],
            ..Default::default()
        }];
        let (checks, found) = run(&snapshot);
        assert_eq!(checks, 4);
        let checks: Vec<&str> = found.iter().map(|f| f.check).collect();
        assert_eq!(checks, ["disk_smart", "fan_stopped", "gpu_xid"]);
        assert_eq!(
            found[0].value,
            "SMART says FAILED · 1975 reallocated, 8 pending"
        );
        assert_eq!(found[0].subject, "sda (WDC WD140EDFZ)");
        assert!(found[0].action.starts_with("Copy what matters off sda now"));
        assert_eq!(found[1].subject, "CPU fan (nct6775)");
        assert_eq!(found[1].value, "0 RPM while the machine is at 71 °C");
        assert!(
            found[2]
                .action
                .starts_with("The GPU fell off the bus. Stop its jobs and reboot")
        );
        assert_eq!(found[2].link.as_deref(), Some("/#chart-gpu-0"));
    }

    #[test]
    fn a_cool_idle_fan_memory_pcie_and_filesystems() {
        let mut snapshot = Snapshot::default();
        snapshot.health.sensors = vec![Sensor {
            kind: SensorKind::Fan,
            value: 0.0,
            label: "SYS fan".into(),
            ..Default::default()
        }];
        snapshot.health.memory_controllers = vec![
            MemoryController {
                controller: "0".into(),
                corrected: 12,
                dimms: vec![DimmErrors {
                    label: "DIMM_A1".into(),
                    corrected: 12,
                    ..Default::default()
                }],
                ..Default::default()
            },
            MemoryController {
                controller: "1".into(),
                uncorrected: 1,
                ..Default::default()
            },
        ];
        snapshot.health.pcie = vec![
            PcieErrors {
                address: "0000:3b:00.0".into(),
                name: "NVIDIA GPU".into(),
                fatal: 1,
                ..Default::default()
            },
            PcieErrors {
                correctable: 3,
                ..Default::default()
            },
        ];
        snapshot.disk.filesystems = vec![
            Filesystem {
                mount_point: "/data".into(),
                total_bytes: 100,
                used_bytes: 50,
                available_bytes: 50,
                ..Default::default()
            },
            Filesystem {
                mount_point: "/".into(),
                total_bytes: 100,
                used_bytes: 95,
                available_bytes: 5,
                ..Default::default()
            },
        ];
        snapshot.health.fill_forecasts = vec![FillForecast {
            mount_point: "/data".into(),
            hours_to_full: 70.0,
        }];
        let (checks, found) = run(&snapshot);
        assert_eq!(checks, 7);
        let found: Vec<(&str, &str, AlertSeverity)> = found
            .iter()
            .map(|f| (f.check, f.subject.as_str(), f.severity))
            .collect();
        assert_eq!(
            found,
            [
                ("memory_corrected", "DIMM_A1", AlertSeverity::Warning),
                (
                    "memory_uncorrected",
                    "memory controller 1",
                    AlertSeverity::Critical
                ),
                (
                    "pcie_errors",
                    "NVIDIA GPU (0000:3b:00.0)",
                    AlertSeverity::Critical
                ),
                ("filesystem_forecast", "/data", AlertSeverity::Warning),
                ("filesystem_full", "/", AlertSeverity::Warning),
            ],
            "a fan stopped at a cool idle is not a fault; 3 correctable PCIe errors are routine"
        );
    }
}
