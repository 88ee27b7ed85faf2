//! Benchmark: what the hub's hour of history costs. An hour of samples at 1 s (this machine's
//! host readings and fake GPUs that report every field, as in `gpu_read_cost`; the values follow
//! `--prefill-history`'s slow waves) goes through the sampler's publishing (hub and page history)
//! into a hub with the default one-hour window. Prints
//!   - the thread CPU per tick: median, p99, max and mean (the mean counts the ticks that deflate
//!     a block of older frames), and so the share of a core at 1 s;
//!   - the bytes the channels' rings hold, against the same frames as sent;
//!   - the time to read one GPU's hour back (what `/api/system/history` does), median of 20;
//!   - the CPU of handing freed memory back (what the sampler does every 30 s), median of 20.
//!
//!   cargo run --release --features ssr --example hub_cost -- [GPUS]
//!
//! GPUS defaults to 2. Build the fake NVML library first (see `gpu_read_cost`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vitals::server::collect::Monitor;
use vitals::server::collect::gpu::{GpuOptions, NvmlSource};
use vitals::server::hub::Hub;
use vitals::server::pipeline::page_history::PageHistory;
use vitals::server::pipeline::{prefill, sampler};

#[path = "fake_gpus.rs"]
mod fake_gpus;
#[path = "thread_cpu.rs"]
mod thread_cpu;
use fake_gpus::{FAKE, use_fake_gpus};
use thread_cpu::thread_cpu_time;

const WINDOW: Duration = Duration::from_secs(3600);

fn main() {
    let gpus: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    use_fake_gpus(gpus);
    let mut monitor = Monitor::new(Box::new(NvmlSource::new(GpuOptions {
        library_path: Some(PathBuf::from(FAKE)),
        ..Default::default()
    })));
    monitor.sample();
    std::thread::sleep(Duration::from_millis(200));
    let primed = monitor.sample();
    assert_eq!(primed.gpus.len(), gpus, "the fake NVML library answers");

    let epoch = primed.timestamp.timestamp_millis() as u64;
    let hub = Hub::new(epoch, WINDOW, 16, 64 << 20);
    let page_history = PageHistory::new(epoch, WINDOW);
    let mut costs: Vec<Duration> = prefill::samples(&primed, WINDOW, Duration::from_secs(1))
        .map(|sample| {
            let sample = Arc::new(sample);
            let before = thread_cpu_time();
            sampler::publish(&hub, &page_history, &sample);
            thread_cpu_time() - before
        })
        .collect();
    let mean = costs.iter().sum::<Duration>() / costs.len() as u32;
    costs.sort();
    let at = |p: f64| costs[((costs.len() - 1) as f64 * p).round() as usize];
    println!(
        "publish per tick ({} ticks, {gpus} GPUs): median {:.1?}, p99 {:.1?}, max {:.1?}, mean {mean:.1?} = {:.3} % of a core at 1 s",
        costs.len(),
        at(0.5),
        at(0.99),
        at(1.0),
        mean.as_secs_f64() * 100.0
    );

    let as_sent: usize = hub
        .channel_names()
        .iter()
        .filter_map(|channel| hub.history(channel, 0, None))
        .flatten()
        .map(|frame| frame.len())
        .sum();
    let held = hub.held_bytes();
    println!(
        "rings hold {:.2} MiB for {:.2} MiB of frames as sent ({:.1} %)",
        held as f64 / 1048576.0,
        as_sent as f64 / 1048576.0,
        held as f64 * 100.0 / as_sent as f64
    );

    let mut reads: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(hub.history("system/gpu/0", 0, None));
            started.elapsed()
        })
        .collect();
    reads.sort();
    println!("one GPU's hour read back: median {:.1?}", reads[10]);

    let mut give_backs: Vec<Duration> = (0..20)
        .map(|_| {
            let before = thread_cpu_time();
            vitals::server::runtime::heap::give_back_freed();
            thread_cpu_time() - before
        })
        .collect();
    give_backs.sort();
    println!(
        "handing freed memory back (malloc_trim) with the hour held: median {:.1?}, max {:.1?}",
        give_backs[10], give_backs[19]
    );
}
