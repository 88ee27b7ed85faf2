//! Turning a scan into the table's rows: users by name, times as dates, shares of the machine, and
//! what each process holds on the GPUs.

use crate::server::collect::owners::Owners;
use crate::server::collect::processes::scan::{Measured, clock_ticks_per_second, page_bytes};
use crate::server::collect::procfs;
use crate::wire::{GpuMetrics, ProcessRow};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What the rows are measured against; read once at start.
#[derive(Clone, Debug)]
pub struct Host {
    pub cores: u32,
    pub memory_total_bytes: u64,
    pub page_bytes: u64,
    pub clock_ticks: f64,
    /// When the machine booted: process start times count from it.
    pub booted: DateTime<Utc>,
}

impl Host {
    pub fn read() -> Host {
        // SAFETY: sysconf only reads a constant of the system.
        let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        Host {
            cores: cores.max(1) as u32,
            memory_total_bytes: kib_field(&meminfo, "MemTotal:").unwrap_or(0) * 1024,
            page_bytes: page_bytes(),
            clock_ticks: clock_ticks_per_second(),
            booted: boot_time(&stat).unwrap_or_default(),
        }
    }
}

fn kib_field(meminfo: &str, key: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix(key))?;
    line.split_whitespace().next()?.parse().ok()
}

/// `btime` of `/proc/stat`: the boot time in seconds since the epoch.
fn boot_time(stat: &str) -> Option<DateTime<Utc>> {
    let seconds = stat.lines().find_map(|l| l.strip_prefix("btime "))?;
    DateTime::from_timestamp(seconds.trim().parse().ok()?, 0)
}

/// What one process holds on the GPUs, summed over them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuUse {
    pub gpus: Vec<u32>,
    pub memory_bytes: Option<u64>,
    pub sm_percent: Option<u32>,
}

/// Each GPU process by pid, from the latest GPU readings.
pub fn gpu_use(gpus: &[GpuMetrics]) -> HashMap<u32, GpuUse> {
    let mut by_pid: HashMap<u32, GpuUse> = HashMap::new();
    for gpu in gpus {
        for process in &gpu.processes {
            let held = by_pid.entry(process.pid).or_default();
            held.gpus.push(gpu.index);
            if let Some(bytes) = process.used_memory_bytes {
                held.memory_bytes = Some(held.memory_bytes.unwrap_or(0) + bytes);
            }
            if let Some(utilization) = process.utilization {
                let sm = utilization.sm_percent;
                held.sm_percent = Some(held.sm_percent.map_or(sm, |seen| seen.max(sm)));
            }
        }
    }
    by_pid
}

/// Rounds to one decimal: the table shows no more, and the messages stay short.
fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

pub fn row(
    process: &Measured,
    host: &Host,
    gpu: Option<&GpuUse>,
    show_command_lines: bool,
    owners: &Owners,
) -> ProcessRow {
    let memory_bytes = process.stat.resident_pages * host.page_bytes;
    let started_ms = process.stat.start_ticks as f64 * 1000.0 / host.clock_ticks;
    ProcessRow {
        pid: process.pid,
        parent_pid: process.stat.parent_pid,
        user: procfs::info::user_name(process.uid),
        name: process.stat.name.clone(),
        state: process.stat.state.to_string(),
        cpu_percent: process.cpu_percent.map(tenths),
        machine_cpu_percent: process
            .cpu_percent
            .map(|percent| tenths(percent / f64::from(host.cores))),
        memory_bytes,
        memory_percent: if host.memory_total_bytes > 0 {
            tenths(memory_bytes as f64 * 100.0 / host.memory_total_bytes as f64)
        } else {
            0.0
        },
        read_bytes_per_second: process.read_bytes_per_second.map(f64::round),
        write_bytes_per_second: process.write_bytes_per_second.map(f64::round),
        threads: process.stat.threads,
        started: host.booted + chrono::Duration::milliseconds(started_ms as i64),
        command_line: show_command_lines
            .then(|| procfs::info::command_line(process.pid))
            .flatten(),
        gpus: gpu.map(|g| g.gpus.clone()).unwrap_or_default(),
        gpu_memory_bytes: gpu.and_then(|g| g.memory_bytes),
        gpu_sm_percent: gpu.and_then(|g| g.sm_percent),
        owner: Some(owners.owner_of(process.pid, process.stat.start_ticks, process.uid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::procfs::stat::Stat;
    use crate::wire::{GpuProcess, GpuProcessUtilization};

    fn host() -> Host {
        Host {
            cores: 4,
            memory_total_bytes: 1 << 30,
            page_bytes: 4096,
            clock_ticks: 100.0,
            booted: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn a_row_is_measured_against_the_machine() {
        let process = Measured {
            pid: 7,
            stat: Stat {
                name: "python".into(),
                state: 'R',
                parent_pid: 1,
                cpu_ticks: 0,
                threads: 3,
                start_ticks: 12_345,
                resident_pages: 65_536,
            },
            uid: 4_000_000_001,
            cpu_percent: Some(150.04),
            read_bytes_per_second: Some(10.4),
            write_bytes_per_second: None,
        };
        let row = row(&process, &host(), None, false, &Owners::default());
        assert_eq!(row.cpu_percent, Some(150.0));
        assert_eq!(row.machine_cpu_percent, Some(37.5));
        assert_eq!(row.memory_bytes, 256 << 20);
        assert_eq!(row.memory_percent, 25.0);
        assert_eq!(row.user, "4000000001");
        assert_eq!(row.read_bytes_per_second, Some(10.0));
        assert_eq!(row.io_bytes_per_second(), Some(10.0));
        assert_eq!(
            row.started,
            DateTime::from_timestamp(1_700_000_123, 450_000_000).unwrap()
        );
        assert!(row.gpus.is_empty() && row.gpu_memory_bytes.is_none());
        assert_eq!(row.command_line, None);
        // The process is gone (its pid is past the kernel's limit): its uid alone, with no name.
        assert_eq!(row.owner.unwrap().line, "uid 4000000001");
    }

    #[test]
    fn gpu_use_sums_memory_and_keeps_the_highest_share() {
        let on = |index, pid, bytes, sm: Option<u32>| GpuMetrics {
            index,
            processes: vec![GpuProcess {
                pid,
                used_memory_bytes: bytes,
                utilization: sm.map(|sm_percent| GpuProcessUtilization {
                    sm_percent,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let used = gpu_use(&[on(0, 9, Some(100), Some(30)), on(1, 9, Some(50), Some(70))]);
        assert_eq!(
            used[&9],
            GpuUse {
                gpus: vec![0, 1],
                memory_bytes: Some(150),
                sm_percent: Some(70),
            }
        );
        let unknown = gpu_use(&[on(0, 3, None, None)]);
        assert_eq!(unknown[&3].memory_bytes, None);
    }

    #[test]
    fn the_host_is_read_from_proc() {
        let host = Host::read();
        assert!(host.cores >= 1 && host.memory_total_bytes > 0 && host.page_bytes >= 4096);
        assert!(host.booted > DateTime::from_timestamp(1_000_000_000, 0).unwrap());
        assert!(host.booted < Utc::now());
    }
}
