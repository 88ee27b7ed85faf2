//! Benchmark: CPU time one process-table scan costs, with the machine holding a given number of
//! processes (sleeping children are started to make up the count).
//!
//! `cargo run --release --features ssr --example process_scan -- [PROCESSES] [SCANS] [GAP_MS] [--reopen]`
//! Defaults: 500 processes, 200 scans, 50 ms apart (scans back to back find the kernel's caches
//! warm and cost about a third less than at the server's 2 s period). A scan is what the server does each period:
//! read every process in /proc with its rates, pick the top 25 of each measure, make their rows
//! and encode the list. Prints the median, p90 and max thread CPU time per scan.

use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vitals::server::collect::processes::{rows, scan, top};

#[path = "thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::thread_cpu_time;

fn process_count() -> usize {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .count()
        })
        .unwrap_or(0)
}

/// Kills the sleeping children when the benchmark ends, however it ends.
struct Sleepers(Vec<Child>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--reopen");
    let wanted: usize = args
        .next()
        .map_or(500, |n| n.parse().expect("PROCESSES is a number"));
    let scans: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("SCANS is a number"));
    let gap = Duration::from_millis(
        args.next()
            .map_or(50, |n| n.parse().expect("GAP_MS is a number")),
    );
    let mut sleepers = Sleepers(Vec::new());
    while process_count() < wanted {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .expect("start a sleeping child");
        sleepers.0.push(child);
    }
    // As the server does: the open-files limit raised, and stat files kept open within it
    // (`--reopen` opens every file on every scan instead).
    let limit = vitals::server::http::listen::raise_open_files_limit();
    let keep = if std::env::args().any(|a| a == "--reopen") {
        0
    } else {
        scan::files_to_keep(limit)
    };
    let host = rows::Host::read();
    let owners = vitals::server::collect::owners::Owners::default();
    let mut scanner = scan::Scanner::keeping(keep);
    scanner.scan();
    let mut costs = Vec::with_capacity(scans);
    let mut listed = (0, 0);
    for _ in 0..scans {
        std::thread::sleep(gap);
        let began = thread_cpu_time();
        let pass = scanner.scan();
        let picked = top::select(&pass, 25, |_| false);
        let table: Vec<_> = picked
            .iter()
            .map(|&i| rows::row(&pass[i], &host, None, false, &owners))
            .collect();
        let encoded = serde_json::to_string(&table).expect("rows encode");
        costs.push(thread_cpu_time() - began);
        listed = (pass.len(), encoded.len());
    }
    costs.sort();
    println!(
        "processes {} (of them {} sleeping children), {} stat files kept, {} scans: median {:.3} ms, p90 {:.3} ms, max {:.3} ms; rows {} bytes",
        listed.0,
        sleepers.0.len(),
        keep.min(listed.0),
        scans,
        percentile(&costs, 50.0).as_secs_f64() * 1e3,
        percentile(&costs, 90.0).as_secs_f64() * 1e3,
        costs.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        listed.1,
    );
}
