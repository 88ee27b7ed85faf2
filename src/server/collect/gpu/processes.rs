//! A GPU's processes: NVML's compute and graphics lists merged by pid, each with its share of the
//! GPU (NVML's utilization samples) and what the host says of it (name, user, CPU, memory).

use crate::server::collect::owners::Owners;
use crate::server::collect::processes::scan::{clock_ticks_per_second, page_bytes};
use crate::server::collect::procfs;
use crate::server::collect::procfs::stat::read_stat;
use crate::wire::{GpuProcess, GpuProcessKind, GpuProcessUtilization};
use chrono::{DateTime, Utc};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::struct_wrappers::device::{ProcessInfo, ProcessUtilizationSample};
use std::collections::HashMap;
use std::time::Instant;

/// One entry per pid: a process in both lists is a compute process, with whichever memory is known.
pub fn merge(compute: Vec<ProcessInfo>, graphics: Vec<ProcessInfo>) -> Vec<GpuProcess> {
    let mut merged: Vec<GpuProcess> = Vec::new();
    let tagged = compute
        .into_iter()
        .map(|p| (p, GpuProcessKind::Compute))
        .chain(graphics.into_iter().map(|p| (p, GpuProcessKind::Graphics)));
    for (info, kind) in tagged {
        let used = match info.used_gpu_memory {
            UsedGpuMemory::Used(bytes) => Some(bytes),
            UsedGpuMemory::Unavailable => None,
        };
        match merged.iter_mut().find(|p| p.pid == info.pid) {
            Some(seen) => seen.used_memory_bytes = seen.used_memory_bytes.or(used),
            None => merged.push(GpuProcess {
                pid: info.pid,
                name: String::new(),
                user: None,
                used_memory_bytes: used,
                kind,
                command_line: None,
                utilization: None,
                cpu_percent: None,
                resident_bytes: None,
                owner: None,
            }),
        }
    }
    merged
}

/// The CPU timestamp (µs) NVML's process samples are asked from: the last few seconds, so a
/// process that stopped using the GPU stops showing a share.
pub fn recent_samples_since(now: DateTime<Utc>) -> u64 {
    const WINDOW_MICROS: i64 = 5_000_000;
    (now.timestamp_micros() - WINDOW_MICROS).max(0) as u64
}

/// Gives each process its newest utilization sample.
pub fn attach_utilization(processes: &mut [GpuProcess], samples: &[ProcessUtilizationSample]) {
    for process in processes {
        process.utilization = samples
            .iter()
            .filter(|sample| sample.pid == process.pid)
            .max_by_key(|sample| sample.timestamp)
            .map(|sample| GpuProcessUtilization {
                sm_percent: sample.sm_util,
                memory_percent: sample.mem_util,
                encoder_percent: sample.enc_util,
                decoder_percent: sample.dec_util,
            });
    }
}

/// What the host says of one GPU's processes, with each one's CPU time at the last tick so the
/// next has a rate. Only GPU processes are read: a handful of files a tick.
#[derive(Debug, Default)]
pub struct HostView {
    /// Per pid: its start time (a reused pid is another process) and CPU ticks, and when read.
    last: HashMap<u32, (u64, u64, Instant)>,
}

impl HostView {
    /// Fills in name, user and owner, resident memory, CPU % (from the second tick on) and, when
    /// asked, the command line.
    pub fn describe(
        &mut self,
        processes: &mut [GpuProcess],
        show_command_lines: bool,
        owners: &Owners,
    ) {
        let now = Instant::now();
        let mut seen = HashMap::with_capacity(processes.len());
        for process in processes.iter_mut() {
            let pid = process.pid;
            let uid = procfs::info::process_uid(pid);
            process.user = uid.map(procfs::info::user_name);
            if show_command_lines {
                process.command_line = procfs::info::command_line(pid);
            }
            let Some(stat) = read_stat(pid) else {
                process.name = procfs::info::process_name(pid).unwrap_or_default();
                continue;
            };
            process.resident_bytes = Some(stat.resident_pages * page_bytes());
            process.cpu_percent = self.last.get(&pid).and_then(|&(started, ticks, at)| {
                let seconds = now.duration_since(at).as_secs_f64();
                (started == stat.start_ticks && seconds > 0.0).then(|| {
                    let used = stat.cpu_ticks.saturating_sub(ticks) as f64;
                    (used / clock_ticks_per_second() / seconds * 100.0) as f32
                })
            });
            process.owner = uid.map(|uid| owners.owner_of(pid, stat.start_ticks, uid));
            seen.insert(pid, (stat.start_ticks, stat.cpu_ticks, now));
            process.name = stat.name;
        }
        self.last = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32, used: UsedGpuMemory) -> ProcessInfo {
        ProcessInfo {
            pid,
            used_gpu_memory: used,
            gpu_instance_id: None,
            compute_instance_id: None,
        }
    }

    #[test]
    fn processes_merge_by_pid_and_compute_wins() {
        let compute = vec![
            info(10, UsedGpuMemory::Used(100)),
            info(11, UsedGpuMemory::Unavailable),
        ];
        let graphics = vec![
            info(11, UsedGpuMemory::Used(7)),
            info(12, UsedGpuMemory::Used(5)),
        ];
        let merged = merge(compute, graphics);
        let summary: Vec<_> = merged
            .iter()
            .map(|p| (p.pid, p.kind, p.used_memory_bytes))
            .collect();
        assert_eq!(
            summary,
            [
                (10, GpuProcessKind::Compute, Some(100)),
                (11, GpuProcessKind::Compute, Some(7)),
                (12, GpuProcessKind::Graphics, Some(5)),
            ]
        );
    }

    #[test]
    fn processes_are_described_from_proc_with_a_cpu_rate_from_the_second_tick() {
        let pid = std::process::id();
        let mut processes = merge(vec![info(pid, UsedGpuMemory::Used(1))], vec![]);
        let mut host = HostView::default();
        let owners = Owners::default();
        host.describe(&mut processes, false, &owners);
        let first = &processes[0];
        assert!(!first.name.is_empty() && first.user.is_some());
        assert!(first.owner.as_ref().is_some_and(|o| !o.line.is_empty()));
        assert!(first.resident_bytes.is_some_and(|b| b > 0));
        assert_eq!(first.cpu_percent, None, "no rate before a second reading");
        assert_eq!(first.command_line, None, "command lines are opt-in");
        let spin = Instant::now();
        while spin.elapsed().as_millis() < 30 {
            std::hint::black_box(spin.elapsed());
        }
        host.describe(&mut processes, true, &owners);
        assert!(processes[0].cpu_percent.is_some_and(|c| c >= 0.0));
        assert!(processes[0].command_line.is_some());
    }
}
