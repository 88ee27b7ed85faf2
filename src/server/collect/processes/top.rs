//! Which processes a scan reports: the busiest few by each measure, not all of them.

use crate::server::collect::processes::scan::Measured;
use std::cmp::Ordering;

/// Indices into `processes` of the top `n` by CPU, by resident memory and by storage I/O, merged,
/// plus every process `always` picks (those on a GPU): busiest CPU first, then most memory.
pub fn select(processes: &[Measured], n: usize, always: impl Fn(u32) -> bool) -> Vec<usize> {
    let by = |key: fn(&Measured) -> f64| {
        let mut order: Vec<usize> = (0..processes.len()).collect();
        order.sort_by(|&a, &b| descending(key(&processes[a]), key(&processes[b])));
        order.truncate(n);
        order
    };
    let mut chosen = vec![false; processes.len()];
    for index in by(cpu).into_iter().chain(by(memory)).chain(by(io)) {
        chosen[index] = true;
    }
    let mut picked: Vec<usize> = (0..processes.len())
        .filter(|&i| chosen[i] || always(processes[i].pid))
        .collect();
    picked.sort_by(|&a, &b| {
        descending(cpu(&processes[a]), cpu(&processes[b]))
            .then(descending(memory(&processes[a]), memory(&processes[b])))
    });
    picked
}

fn descending(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

/// A process's first scan has no rate yet: it sorts below every measured one.
fn cpu(process: &Measured) -> f64 {
    process.cpu_percent.unwrap_or(-1.0)
}

fn memory(process: &Measured) -> f64 {
    process.stat.resident_pages as f64
}

fn io(process: &Measured) -> f64 {
    match (
        process.read_bytes_per_second,
        process.write_bytes_per_second,
    ) {
        (None, None) => -1.0,
        (read, write) => read.unwrap_or(0.0) + write.unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::collect::procfs::stat::Stat;

    fn process(pid: u32, cpu: Option<f64>, pages: u64, io: Option<f64>) -> Measured {
        Measured {
            pid,
            stat: Stat {
                name: format!("p{pid}"),
                state: 'S',
                parent_pid: 1,
                cpu_ticks: 0,
                threads: 1,
                start_ticks: 1,
                resident_pages: pages,
            },
            uid: 0,
            cpu_percent: cpu,
            read_bytes_per_second: io,
            write_bytes_per_second: None,
        }
    }

    fn pids(processes: &[Measured], picked: &[usize]) -> Vec<u32> {
        picked.iter().map(|&i| processes[i].pid).collect()
    }

    #[test]
    fn the_top_of_each_measure_is_merged_once_busiest_first() {
        let processes = vec![
            process(1, Some(90.0), 10, Some(0.0)),
            process(2, Some(1.0), 9000, Some(0.0)),
            process(3, Some(0.5), 10, Some(5e6)),
            process(4, Some(0.1), 20, Some(10.0)),
            // First seen: no rates, but it may still be among the largest.
            process(5, None, 8000, None),
        ];
        let picked = select(&processes, 1, |_| false);
        assert_eq!(pids(&processes, &picked), [1, 2, 3]);
        let picked = select(&processes, 2, |_| false);
        assert_eq!(pids(&processes, &picked), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn processes_on_a_gpu_are_always_listed() {
        let processes = vec![
            process(1, Some(50.0), 100, None),
            process(2, Some(0.0), 1, None),
        ];
        let picked = select(&processes, 1, |pid| pid == 2);
        assert_eq!(pids(&processes, &picked), [1, 2]);
    }

    #[test]
    fn nothing_to_choose_from_is_nothing_chosen() {
        assert!(select(&[], 25, |_| true).is_empty());
    }
}
