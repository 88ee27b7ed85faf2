//! The host collectors on the real machine: every field present and sane.

use std::time::Duration;
use vitals::server::collect::Monitor;
use vitals::server::collect::gpu::{GpuOptions, NvmlSource};
use vitals::wire::{GpuStatus, GpuUnavailableReason};

fn meminfo_total_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn online_cpus() -> usize {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count()
}

#[test]
fn a_real_sample_is_complete_and_sane() {
    let gpu = NvmlSource::new(GpuOptions {
        library_path: Some("/nonexistent/libnvidia-ml.so.1".into()),
        ..Default::default()
    });
    let mut monitor = Monitor::new(Box::new(gpu));
    let primed = monitor.sample();
    assert!(
        primed
            .disk
            .devices
            .iter()
            .all(|d| d.read_bytes_per_sec == 0.0),
        "the first tick only primes"
    );
    assert!(
        primed
            .network
            .interfaces
            .iter()
            .all(|i| i.rx_bytes_per_sec == 0.0)
    );
    std::thread::sleep(Duration::from_millis(300));
    // Make some disk and CPU work to measure.
    let scratch = std::env::temp_dir().join(format!("vitals-smoke-{}", std::process::id()));
    std::fs::write(&scratch, vec![7u8; 4 << 20]).unwrap();
    let _ = std::fs::remove_file(&scratch);
    let snapshot = monitor.sample();

    let cpu = &snapshot.cpu;
    assert!(
        (0.0..=100.0).contains(&cpu.usage_percent),
        "{}",
        cpu.usage_percent
    );
    assert_eq!(cpu.per_core_percent.len(), online_cpus());
    assert_eq!(cpu.core_count, online_cpus());
    assert!(
        cpu.per_core_percent
            .iter()
            .all(|p| (0.0..=100.0).contains(p))
    );
    assert!(!cpu.model.is_empty());
    assert!(cpu.load_average.one >= 0.0 && cpu.load_average.fifteen >= 0.0);
    assert_eq!(snapshot.cpu_seconds_by_mode.len(), online_cpus());
    assert!(
        snapshot
            .cpu_seconds_by_mode
            .iter()
            .all(|m| m.idle + m.user + m.system > 0.0)
    );
    if let Some(t) = cpu.temperature_celsius {
        assert!((0.0..150.0).contains(&t), "{t}");
    }

    let memory = &snapshot.memory;
    assert_eq!(memory.ram_total_bytes, meminfo_total_bytes());
    assert!(memory.ram_used_bytes + memory.ram_available_bytes == memory.ram_total_bytes);
    assert!((0.0..=100.0).contains(&memory.ram_percent) && memory.ram_percent > 0.0);
    assert!(memory.swap_used_bytes <= memory.swap_total_bytes);
    assert!((0.0..=100.0).contains(&memory.swap_percent));

    let disk = &snapshot.disk;
    assert!(
        !disk.devices.is_empty(),
        "this machine has at least one disk"
    );
    assert!(
        disk.devices
            .iter()
            .all(|d| !d.name.starts_with("loop") && !d.name.starts_with("dm-"))
    );
    let sum: f64 = disk.devices.iter().map(|d| d.write_bytes_per_sec).sum();
    assert_eq!(disk.write_bytes_per_sec, sum);
    assert!(
        disk.devices
            .iter()
            .all(|d| d.read_bytes_per_sec.is_finite() && d.read_bytes_per_sec >= 0.0)
    );
    assert!(
        !disk.filesystems.is_empty(),
        "the root filesystem is listed"
    );
    assert!(
        disk.filesystems
            .iter()
            .all(|f| f.used_bytes + f.available_bytes <= f.total_bytes && f.total_bytes > 0)
    );

    let network = &snapshot.network;
    assert!(
        network.interfaces.iter().any(|i| i.loopback),
        "lo is listed (outside the totals)"
    );
    assert!(network.rx_bytes_per_sec >= 0.0 && network.tx_bytes_per_sec.is_finite());

    assert!(snapshot.gpus.is_empty());
    assert!(matches!(
        snapshot.gpu_status,
        GpuStatus::Unavailable {
            reason: GpuUnavailableReason::NoDriver,
            ..
        }
    ));
    let age = chrono::Utc::now() - snapshot.timestamp;
    assert!(age.num_seconds() < 5);
}
