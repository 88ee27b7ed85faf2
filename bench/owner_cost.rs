//! What finding owners costs a tick: every process on the machine (topped up with sleeping
//! children to the count asked, 500 by default) looked up once to fill the cache, then as a tick
//! does, again and again. Prints the first (reading) pass and the cached pass per tick.
//!
//! `cargo run --release --features ssr --example owner_cost -- [PROCESSES] [TICKS]`

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vitals::server::collect::owners::{OwnerSettings, Owners};
use vitals::server::collect::procfs::stat::read_stat;

struct Sleepers(Vec<Child>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let wanted: usize = args
        .next()
        .map_or(500, |n| n.parse().expect("PROCESSES is a number"));
    let ticks: usize = args
        .next()
        .map_or(1000, |n| n.parse().expect("TICKS is a number"));
    let mut sleepers = Sleepers(Vec::new());
    while pids().len() < wanted {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        sleepers.0.push(child);
    }
    // As the collectors have them: pid, start time (from the stat they read anyway) and uid.
    let processes: Vec<(u32, u64, u32)> = pids()
        .into_iter()
        .take(wanted)
        .filter_map(|pid| Some((pid, read_stat(pid)?.start_ticks, 0)))
        .collect();
    let owners = Owners::new(&OwnerSettings {
        container_sockets: Vec::new(),
    });
    let began = Instant::now();
    for &(pid, start, uid) in &processes {
        std::hint::black_box(owners.owner_of(pid, start, uid));
    }
    let first = began.elapsed();
    let mut costs: Vec<Duration> = (0..ticks)
        .map(|_| {
            let began = Instant::now();
            for &(pid, start, uid) in &processes {
                std::hint::black_box(owners.owner_of(pid, start, uid));
            }
            began.elapsed()
        })
        .collect();
    costs.sort();
    println!(
        "owners of {} processes: first pass (reading cgroup and loginuid) {:.3} ms; cached, per tick: median {:.3} ms, p99 {:.3} ms",
        processes.len(),
        first.as_secs_f64() * 1e3,
        costs[costs.len() / 2].as_secs_f64() * 1e3,
        costs[costs.len() * 99 / 100].as_secs_f64() * 1e3,
    );
    drop(sleepers);
}
