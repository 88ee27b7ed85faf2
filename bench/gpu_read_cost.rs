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

#[path = "thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::thread_cpu_time;

const FAKE: &str = "target/fake-nvml/release/libfake_nvml.so";

fn fake_script(gpus: usize) -> String {
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    let gpu = format!(
        "gpu util=90 memutil=30 mem_used=1000000000 mem_total=80000000000 temp=60 power_mw=300000 \
         limit_mw=700000 sm_clock=1980 mem_clock=2619 throttle=4 pstate=0 viol_power_ns=+100000000 \
         viol_thermal_ns=0 ecc=1 ecc_cv=0 ecc_uv=0 ecc_ca=0 ecc_ua=0 remap=0:0:0:0 pcie_gen=5 \
         pcie_max_gen=5 pcie_width=16 pcie_max_width=16 pcie_replays=0 pcie_rx_bytes=+1000000000 \
         pcie_tx_bytes=+1000000000 nvlinks=18 nvlink_rx_kib=+1000000 nvlink_tx_kib=+1000000 enc=0 \
         dec=0 energy_mj=+300000 mig=0 procs={me}:1000000:compute,{parent}:2000000:compute \
         putil={me}:50:10:0:0,{parent}:40:5:0:0\n"
    );
    gpu.repeat(gpus)
}

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
        let script = std::env::temp_dir().join(format!("gpu-read-cost-{}", std::process::id()));
        std::fs::write(&script, fake_script(fake_gpus)).expect("the script can be written");
        // SAFETY: set before any thread that reads the environment starts.
        unsafe { std::env::set_var("FAKE_NVML_SCRIPT", &script) };
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
