//! Benchmark: CPU time one monitor sample costs (all host collectors; GPUs as configured).
//!
//! `cargo run --release --features ssr --example sample_cost -- [TICKS] [--nvml PATH]`
//! Samples every 100 ms (the cost of a sample does not depend on the interval) and prints the
//! median, p90 and max thread CPU time per tick over TICKS ticks (default 300), after 5 warm-up ticks.

use std::time::Duration;
use vitals::server::collect::Monitor;
use vitals::server::collect::gpu::{GpuOptions, NvmlSource};

#[path = "thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::thread_cpu_time;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut ticks = 300usize;
    let mut nvml = Some("/nonexistent/libnvidia-ml.so.1".into());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--nvml" => nvml = args.next().map(Into::into),
            "--system-nvml" => nvml = None,
            n => ticks = n.parse().expect("TICKS is a number"),
        }
    }
    let gpu = NvmlSource::new(GpuOptions {
        library_path: nvml,
        ..Default::default()
    });
    let mut monitor = Monitor::new(Box::new(gpu));
    for _ in 0..5 {
        monitor.sample();
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut costs: Vec<f64> = (0..ticks)
        .map(|_| {
            let before = thread_cpu_time();
            std::hint::black_box(monitor.sample());
            let cost = thread_cpu_time() - before;
            std::thread::sleep(Duration::from_millis(100));
            cost.as_secs_f64() * 1e3
        })
        .collect();
    costs.sort_by(f64::total_cmp);
    let at = |q: f64| costs[((costs.len() - 1) as f64 * q).round() as usize];
    println!(
        "sample cost over {ticks} ticks (thread CPU time, ms): median {:.3}  p90 {:.3}  max {:.3}",
        at(0.5),
        at(0.9),
        at(1.0)
    );
}
