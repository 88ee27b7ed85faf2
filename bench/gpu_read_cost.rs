//! Benchmark: what one tick's GPU reading costs, per GPU and per NVML query.
//!
//! `cargo run --release --features ssr --example gpu_read_cost -- [TICKS] [GPUS] [LIBRARY]`
//! Defaults: 200 ticks, 50 ms apart, of 4 fake GPUs that report every field with two processes
//! each, through the fake NVML (build it first: `cargo build --release --manifest-path
//! tests/fake_nvml/Cargo.toml --target-dir target/fake-nvml`). `LIBRARY` = `system` reads the
//! machine's own GPUs through its NVML instead (GPUS is then ignored). Prints the median and p90
//! thread CPU and wall time per tick and per GPU, and the ten slowest queries.
//!
//! The fake reads its script file on every call, so its figures are an upper bound for the
//! collector's own work: a real driver answers most queries from memory.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use vitals::server::collect::GpuSource;
use vitals::server::collect::gpu::{GpuOptions, NvmlSource};

#[path = "fake_gpus.rs"]
mod fake_gpus;
#[path = "thread_cpu.rs"]
mod thread_cpu;
use fake_gpus::{FAKE, use_fake_gpus};
use thread_cpu::thread_cpu_time;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ticks: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let fake_gpus: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let library = args.get(2).map(String::as_str).unwrap_or(FAKE);
    let library_path = (library != "system").then(|| PathBuf::from(library));
    if library_path.is_some() {
        use_fake_gpus(fake_gpus);
    }
    let mut source = NvmlSource::new(GpuOptions {
        library_path,
        ..Default::default()
    });
    let (status, gpus) = source.sample();
    let count = gpus.len().max(1);
    println!("{status:?}");
    let (mut cpu, mut wall) = (Vec::with_capacity(ticks), Vec::with_capacity(ticks));
    for _ in 0..ticks {
        std::thread::sleep(Duration::from_millis(50));
        let (started_cpu, started) = (thread_cpu_time(), Instant::now());
        std::hint::black_box(source.sample());
        cpu.push(thread_cpu_time() - started_cpu);
        wall.push(started.elapsed());
    }
    cpu.sort();
    wall.sort();
    for (what, times) in [("thread CPU", &cpu), ("wall", &wall)] {
        let (median, p90) = (percentile(times, 0.5), percentile(times, 0.9));
        println!(
            "{what} per tick: median {median:.2?}, p90 {p90:.2?}; per GPU: median {:.2?} ({count} GPUs)",
            median / count as u32
        );
    }
    let mut queries: Vec<(u64, &str)> = source
        .cost()
        .query_nanos()
        .into_iter()
        .map(|(name, nanos)| (nanos, name))
        .collect();
    queries.sort_by(|a, b| b.cmp(a));
    let per_tick = |nanos: u64| Duration::from_nanos(nanos / (ticks as u64 + 1) / count as u64);
    let slowest: Vec<String> = queries
        .iter()
        .take(10)
        .map(|&(nanos, name)| format!("{name} {:.1?}", per_tick(nanos)))
        .collect();
    println!(
        "slowest queries, wall per GPU per tick: {}",
        slowest.join(", ")
    );
}
