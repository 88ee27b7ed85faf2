//! Benchmark: the browser store with a full 1-hour window at a 1 s interval and 8 GPUs — its heap
//! size and the cost of one message (JSON text → parsed → applied, as the page does it).
//!
//! `cargo run --release --example store_cost`
//! Runs natively; the browser runs the same Rust compiled to WebAssembly, typically 1.5–2× slower.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use vitals::shared::store::MetricsStore;
use vitals::wire::*;

/// Counts live heap bytes, so the store's footprint is measured, not estimated.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const GPUS: u32 = 8;
const SECONDS: i64 = 3600;

fn frames_for(second: i64, seq: u64) -> Vec<String> {
    let timestamp = chrono::DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap();
    let cores = 32;
    let mut out = Vec::new();
    let mut push = |channel: String, data: serde_json::Value| {
        let message = ServerMessage::Message(Envelope {
            channel,
            event: EVENT_METRICS.into(),
            data,
            timestamp,
            seq,
        });
        out.push(serde_json::to_string(&message).unwrap());
    };
    let wave = (second % 100) as f32;
    push(
        CHANNEL_CPU.into(),
        serde_json::to_value(CpuMetrics {
            usage_percent: wave,
            per_core_percent: vec![wave; cores],
            per_core_mhz: vec![3000; cores],
            temperature_celsius: Some(55.0),
            model: "Benchmark CPU".into(),
            core_count: cores,
            ..Default::default()
        })
        .unwrap(),
    );
    push(
        CHANNEL_MEMORY.into(),
        serde_json::to_value(MemoryMetrics {
            ram_percent: 40.0,
            ..Default::default()
        })
        .unwrap(),
    );
    push(
        CHANNEL_DISK.into(),
        serde_json::to_value(DiskMetrics {
            read_bytes_per_sec: 1e6,
            ..Default::default()
        })
        .unwrap(),
    );
    push(
        CHANNEL_NETWORK.into(),
        serde_json::to_value(NetworkMetrics {
            rx_bytes_per_sec: 1e5,
            ..Default::default()
        })
        .unwrap(),
    );
    for index in 0..GPUS {
        let gpu = GpuMetrics {
            index,
            uuid: format!("GPU-{index}"),
            name: "Benchmark GPU".into(),
            available: true,
            utilization_percent: Some(50),
            memory_utilization_percent: Some(20),
            memory_used_bytes: Some(10 << 30),
            memory_total_bytes: Some(80 << 30),
            temperature_celsius: Some(60),
            power_watts: Some(300.0),
            power_limit_watts: Some(700.0),
            ..Default::default()
        };
        push(gpu_channel(index), serde_json::to_value(gpu).unwrap());
    }
    out
}

fn apply(store: &mut MetricsStore, frame: &str) {
    if let Ok(ServerMessage::Message(envelope)) = serde_json::from_str::<ServerMessage>(frame) {
        store.apply(&envelope);
    }
}

fn main() {
    let before = LIVE.load(Ordering::Relaxed);
    let mut store = MetricsStore::new(3_600_000);
    for second in 0..SECONDS {
        for frame in frames_for(second, second as u64 + 1) {
            apply(&mut store, &frame);
        }
    }
    let heap = LIVE.load(Ordering::Relaxed) - before;
    // Per-message cost once the window is full (every append also trims one point).
    let frames: Vec<Vec<String>> = (SECONDS..SECONDS + 300)
        .map(|s| frames_for(s, s as u64 + 1))
        .collect();
    let mut costs = Vec::new();
    for tick in &frames {
        for frame in tick {
            let started = Instant::now();
            apply(&mut store, frame);
            costs.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    costs.sort_by(f64::total_cmp);
    let at = |q: f64| costs[((costs.len() - 1) as f64 * q).round() as usize];
    println!(
        "store with 1 h at 1 s, {GPUS} GPUs: {} points, heap {:.2} MB",
        store.point_count(),
        heap as f64 / 1e6
    );
    println!(
        "per message (parse + apply, native): median {:.1} µs  p99 {:.1} µs  ({} messages)",
        at(0.5),
        at(0.99),
        costs.len()
    );
}
