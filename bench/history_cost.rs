//! What the history database costs: a synthetic host of 64 cores and 8 GPUs written for N days
//! at 1 s through the real writer (a fast clock: as fast as it goes), then the database's size on
//! disk, the writer's CPU per tick (so its share of a core at 1 s), and the time of a range query
//! over every series (p50/p99 of 20).
//!
//!   cargo run --release --features ssr --example history_cost -- [DAYS] [DIR]
//!
//! DAYS defaults to 30; DIR to a scratch folder that is removed at the end.

use chrono::DateTime;
use std::sync::Arc;
use std::time::Instant;
use vitals::app::stored::DRAWN_SERIES;
use vitals::server::collect::Snapshot;
use vitals::server::history::query::RangeRequest;
use vitals::server::history::writer::Recorder;
use vitals::server::history::{HistoryDb, Retention};
use vitals::wire::{DiskDevice, GpuMetrics, NetworkInterface};

const CORES: usize = 64;
const GPUS: u32 = 8;

/// One synthetic tick: slow waves, so rollups have something to summarise.
fn tick(second: i64, start_ms: i64) -> Snapshot {
    let wave = |period: f64, phase: f64| ((second as f64 / period + phase).sin() + 1.0) / 2.0;
    let mut snapshot = Snapshot {
        timestamp: DateTime::from_timestamp_millis(start_ms + second * 1000).unwrap(),
        ..Default::default()
    };
    snapshot.cpu.usage_percent = (100.0 * wave(600.0, 0.0)) as f32;
    snapshot.cpu.per_core_percent = (0..CORES)
        .map(|core| (100.0 * wave(300.0, core as f64)) as f32)
        .collect();
    snapshot.cpu.core_count = CORES;
    snapshot.cpu.temperature_celsius = Some((40.0 + 30.0 * wave(900.0, 1.0)) as f32);
    snapshot.memory.ram_percent = (50.0 + 20.0 * wave(3600.0, 0.0)) as f32;
    snapshot.memory.ram_used_bytes = (64u64 << 30) / 2;
    snapshot.disk.devices = (0..4)
        .map(|d| DiskDevice {
            name: format!("nvme{d}n1"),
            read_bytes_per_sec: 1e8 * wave(120.0, d as f64),
            write_bytes_per_sec: 5e7 * wave(180.0, d as f64),
            ..Default::default()
        })
        .collect();
    snapshot.network.interfaces = (0..4)
        .map(|i| NetworkInterface {
            name: format!("eth{i}"),
            rx_bytes_per_sec: 1e7 * wave(60.0, i as f64),
            tx_bytes_per_sec: 1e6 * wave(90.0, i as f64),
            ..Default::default()
        })
        .collect();
    snapshot.gpus = (0..GPUS)
        .map(|index| GpuMetrics {
            index,
            uuid: format!("GPU-{index:08}"),
            available: true,
            utilization_percent: Some((100.0 * wave(400.0, index as f64)) as u32),
            memory_utilization_percent: Some((80.0 * wave(500.0, index as f64)) as u32),
            memory_used_bytes: Some((40u64 << 30) + index as u64),
            temperature_celsius: Some((50.0 + 30.0 * wave(700.0, index as f64)) as u32),
            power_watts: Some(100.0 + 500.0 * wave(400.0, index as f64)),
            sm_clock_mhz: Some(1980),
            memory_clock_mhz: Some(2619),
            fan_percent: Some(40),
            ..Default::default()
        })
        .collect();
    snapshot
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

fn size_mib(dir: &std::path::Path) -> f64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum::<u64>() as f64
        / (1 << 20) as f64
}

fn main() {
    let mut args = std::env::args().skip(1);
    let days: i64 = args.next().map_or(30, |d| d.parse().expect("DAYS"));
    let given = args.next().map(std::path::PathBuf::from);
    let scratch = given.is_none();
    let dir = given.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("vitals-history-cost-{}", std::process::id()))
    });
    if scratch {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let db = HistoryDb::open(&dir, Retention::default()).expect("the database opens");
    let recorder = Recorder::start(&db).expect("the writer starts");
    let ticks = days * 24 * 3600;
    let start_ms = chrono::Utc::now().timestamp_millis() - ticks * 1000;

    // Building the synthetic ticks is the benchmark's own work: measure it apart and subtract it.
    let build_cpu = {
        let before = cpu_seconds();
        for second in 0..20_000 {
            std::hint::black_box(tick(second, start_ms));
        }
        (cpu_seconds() - before) / 20_000.0
    };
    let cpu_before = cpu_seconds();
    let wall = Instant::now();
    for second in 0..ticks {
        recorder
            .record_waiting(&Arc::new(tick(second, start_ms)))
            .expect("the history writer takes every tick");
        if second % (24 * 3600) == 0 && second > 0 {
            eprintln!(
                "  day {} written ({:.0} s, {:.0} MiB)",
                second / 86_400,
                wall.elapsed().as_secs_f64(),
                size_mib(&dir)
            );
        }
    }
    recorder.stop();
    let writer_cpu = (cpu_seconds() - cpu_before) / ticks as f64 - build_cpu;
    let now = start_ms + ticks * 1000;

    let query_ms = |from: i64, points: usize, filter: &[String]| {
        let request = RangeRequest {
            from_ms: from,
            to_ms: now,
            points,
            series: filter,
        };
        let mut times: Vec<f64> = (0..20)
            .map(|_| {
                let started = Instant::now();
                let answer = db.range(&request, 1000, now).unwrap();
                std::hint::black_box(&answer);
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let answer = db.range(&request, 1000, now).unwrap();
        (times[9], times[19], answer.tier, answer.series.len())
    };
    // What the dashboard asks for: the series its time charts draw, a point per 240th.
    let drawn: Vec<String> = DRAWN_SERIES.iter().map(|s| s.to_string()).collect();
    let month = query_ms(now - days * 86_400_000, 500, &[]);
    let month_fine = query_ms(now - days * 86_400_000, 2000, &[]);
    let month_drawn = query_ms(now - days * 86_400_000, 240, &drawn);
    let month_drawn_fine = query_ms(now - days * 86_400_000, 2000, &drawn);
    let day = query_ms(now - 86_400_000, 500, &[]);
    let size = size_mib(&dir);
    // Written faster than real time, every batch is huge: its write-ahead log and the pages its
    // pruning freed inflate the files. At 1 s a batch is 5 ticks, so the live data is what a real
    // run keeps: measured after compacting.
    let check = rusqlite::Connection::open(db.path()).unwrap();
    check
        .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(check);
    let compacted = size_mib(&dir);
    println!("history database after {days} days at 1 s, {CORES} cores, {GPUS} GPUs:");
    println!(
        "  size on disk: {compacted:.0} MiB compacted ({size:.0} MiB as the fast clock left it)"
    );
    println!(
        "  writer CPU: {:.1} µs per tick = {:.4} % of a core at 1 s (written in {:.0} s)",
        writer_cpu * 1e6,
        writer_cpu * 100.0,
        wall.elapsed().as_secs_f64()
    );
    for (name, (p50, p99, tier, series)) in [
        ("whole range, 500 points", month),
        ("whole range, 2000 points", month_fine),
        (
            "whole range as the dashboard draws it, 240 points",
            month_drawn,
        ),
        (
            "whole range as the dashboard draws it, 2000 points",
            month_drawn_fine,
        ),
        ("last day, 500 points", day),
    ] {
        println!("  {name}: p50 {p50:.1} ms, p99 {p99:.1} ms ({tier:?} tier, {series} series)");
    }
    println!(
        "{}",
        serde_json::json!({
            "days": days, "cores": CORES, "gpus": GPUS, "size_mib": compacted,
            "size_mib_uncompacted": size,
            "writer_cpu_us_per_tick": writer_cpu * 1e6,
            "month_query_ms": {"p50": month.0, "p99": month.1},
            "month_fine_query_ms": {"p50": month_fine.0, "p99": month_fine.1},
            "month_drawn_query_ms": {"p50": month_drawn.0, "p99": month_drawn.1},
            "month_drawn_fine_query_ms": {"p50": month_drawn_fine.0, "p99": month_drawn_fine.1},
            "day_query_ms": {"p50": day.0, "p99": day.1},
        })
    );
    drop(db);
    if scratch {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
