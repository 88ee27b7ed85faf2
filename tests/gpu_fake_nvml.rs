//! The real NVML collector driven against the scripted fake library in tests/fake_nvml.
#![cfg(feature = "ssr")]

mod common;

use common::fake_nvml::FakeNvml;
use std::path::PathBuf;
use std::time::Duration;
use vitals::server::collect::GpuSource;
use vitals::server::collect::gpu::{Backoff, GpuOptions, NvmlSource};
use vitals::server::collect::procinfo;
use vitals::wire::{
    GpuMetrics, GpuProcess, GpuProcessKind, GpuProcessUtilization, GpuStatus, GpuUnavailableReason,
};

/// Longer than a few back-to-back ticks take, short enough to wait out in a test.
const BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(300),
    max: Duration::from_secs(1),
};

/// A pid above the kernel's limit (4194304), so no process has it.
const GONE_PID: u32 = 4_000_000_001;

fn source(fake: &FakeNvml) -> NvmlSource {
    NvmlSource::new(GpuOptions {
        library_path: Some(fake.library().to_path_buf()),
        show_command_lines: true,
        reinit_backoff: BACKOFF,
    })
}

fn unavailable(status: &GpuStatus) -> (GpuUnavailableReason, &str) {
    match status {
        GpuStatus::Unavailable { reason, message } => (*reason, message.as_str()),
        other => panic!("expected the GPUs to be unavailable, got {other:?}"),
    }
}

#[test]
fn values_come_through_exactly() {
    let me = std::process::id();
    let fake = FakeNvml::start(&format!(
        "driver 550.54.15\ncuda 12040\n\
         gpu name=\"Fake H100 80GB\" uuid=GPU-aaaa util=37 memutil=12 mem_used=1073741824 \
         mem_total=85899345920 temp=55 power_mw=123456 limit_mw=700000 fan=40 sm_clock=1980 \
         mem_clock=2619 throttle=68 procs={me}:1048576:compute,{me}:2048:graphics,{GONE_PID}:na:graphics \
         putil={me}:61:22:3:4\n\
         gpu name=\"Fake L4\" uuid=GPU-bbbb util=0 memutil=0 mem_used=0 mem_total=24000000000\n"
    ));
    let (status, gpus) = source(&fake).sample();

    assert_eq!(
        status,
        GpuStatus::Available {
            driver_version: Some("550.54.15".into()),
            cuda_version: Some("12.4".into()),
            count: 2,
        }
    );
    let expected = GpuMetrics {
        index: 0,
        uuid: "GPU-aaaa".into(),
        name: "Fake H100 80GB".into(),
        available: true,
        error: None,
        utilization_percent: Some(37),
        memory_utilization_percent: Some(12),
        memory_used_bytes: Some(1 << 30),
        memory_total_bytes: Some(80 << 30),
        temperature_celsius: Some(55),
        power_watts: Some(123.456),
        power_limit_watts: Some(700.0),
        fan_percent: Some(40),
        sm_clock_mhz: Some(1980),
        memory_clock_mhz: Some(2619),
        // The software power cap (4) and the thermal slowdown (64): as NVML says it.
        clocks_throttle_reasons: Some(68),
        processes: vec![
            GpuProcess {
                pid: me,
                name: procinfo::process_name(me).expect("own name"),
                user: procinfo::process_user(me),
                used_memory_bytes: Some(1_048_576),
                kind: GpuProcessKind::Compute,
                command_line: procinfo::command_line(me),
                utilization: Some(GpuProcessUtilization {
                    sm_percent: 61,
                    memory_percent: 22,
                    encoder_percent: 3,
                    decoder_percent: 4,
                }),
            },
            GpuProcess {
                pid: GONE_PID,
                name: String::new(),
                user: None,
                used_memory_bytes: None,
                kind: GpuProcessKind::Graphics,
                command_line: None,
                utilization: None,
            },
        ],
    };
    assert_eq!(gpus[0], expected);
    assert!(gpus[0].processes[0].user.is_some() && gpus[0].processes[0].command_line.is_some());
    assert_eq!(
        (gpus[1].index, gpus[1].name.as_str(), gpus[1].available),
        (1, "Fake L4", true)
    );
    assert_eq!(gpus[1].memory_total_bytes, Some(24_000_000_000));
    assert!(gpus[1].processes.is_empty());
}

#[test]
fn unsupported_fields_are_absent() {
    let fake = FakeNvml::start(
        "gpu name=Bare uuid=GPU-cccc util=ns memutil=1 mem_used=ns mem_total=1 temp=ns power_mw=ns \
         limit_mw=ns fan=ns sm_clock=ns mem_clock=ns procs=ns\n\
         gpu name=Silent uuid=GPU-dddd\n",
    );
    let (status, gpus) = source(&fake).sample();

    assert!(matches!(
        status,
        GpuStatus::Available {
            driver_version: None,
            cuda_version: None,
            count: 2
        }
    ));
    for gpu in &gpus {
        let bare = GpuMetrics {
            index: gpu.index,
            name: gpu.name.clone(),
            uuid: gpu.uuid.clone(),
            available: true,
            ..Default::default()
        };
        assert_eq!(gpu, &bare);
    }
    assert_eq!(
        (gpus[0].name.as_str(), gpus[1].uuid.as_str()),
        ("Bare", "GPU-dddd")
    );
}

#[test]
fn a_lost_gpu_is_reported_and_comes_back_after_the_backoff() {
    let healthy = "gpu name=\"Fake A\" uuid=GPU-a util=10 memutil=1 temp=40\n\
                   gpu name=\"Fake B\" uuid=GPU-b util=20 memutil=2\n";
    let fake = FakeNvml::start(healthy);
    let mut source = source(&fake);
    let (_, gpus) = source.sample();
    assert!(gpus.iter().all(|g| g.available), "{gpus:?}");

    fake.write(
        "gpu name=\"Fake A\" uuid=GPU-a lost=1\n\
         gpu name=\"Fake B\" uuid=GPU-b util=21 memutil=2\n",
    );
    let (status, gpus) = source.sample();
    assert!(
        matches!(status, GpuStatus::Available { count: 2, .. }),
        "{status:?}"
    );
    let lost = &gpus[0];
    assert!(!lost.available);
    assert!(
        lost.error.as_deref().is_some_and(|e| e.contains("lost")),
        "{lost:?}"
    );
    assert_eq!(
        (lost.name.as_str(), lost.uuid.as_str()),
        ("Fake A", "GPU-a"),
        "last known identity"
    );
    assert_eq!(lost.utilization_percent, None);
    assert_eq!(
        (gpus[1].available, gpus[1].utilization_percent),
        (true, Some(21))
    );

    fake.write(healthy);
    let (_, gpus) = source.sample();
    assert!(
        !gpus[0].available,
        "a lost GPU is not touched again before the backoff allows"
    );
    assert!(gpus[1].available);

    std::thread::sleep(BACKOFF.first + Duration::from_millis(50));
    let (_, gpus) = source.sample();
    assert!(gpus[0].available, "{:?}", gpus[0]);
    assert_eq!(
        (gpus[0].utilization_percent, gpus[0].temperature_celsius),
        (Some(10), Some(40))
    );
}

#[test]
fn a_failed_init_is_retried_after_the_backoff() {
    let fake = FakeNvml::start("init driver_not_loaded\n");
    let mut source = source(&fake);
    let (status, _) = source.sample();
    let (reason, message) = unavailable(&status);
    assert_eq!(reason, GpuUnavailableReason::NoDriver);
    assert!(message.contains("driver not loaded"), "{message}");

    fake.write("gpu name=Late\n");
    assert!(
        matches!(source.sample().0, GpuStatus::Unavailable { .. }),
        "no retry before the backoff"
    );
    std::thread::sleep(BACKOFF.first + Duration::from_millis(50));
    let (status, gpus) = source.sample();
    assert!(
        matches!(status, GpuStatus::Available { count: 1, .. }),
        "{status:?}"
    );
    assert_eq!(gpus[0].name, "Late");
}

#[test]
fn a_missing_library_means_no_driver() {
    let path = PathBuf::from("/nonexistent/libnvidia-ml.so.1");
    let mut source = NvmlSource::new(GpuOptions {
        library_path: Some(path),
        ..Default::default()
    });
    let (status, gpus) = source.sample();
    let (reason, message) = unavailable(&status);
    assert_eq!(reason, GpuUnavailableReason::NoDriver);
    assert!(
        message.contains(
            "NVIDIA driver not found (/nonexistent/libnvidia-ml.so.1 could not be loaded)"
        ),
        "{message}"
    );
    assert!(
        message.contains("No such file"),
        "the cause is named: {message}"
    );
    assert!(gpus.is_empty());
}

#[test]
fn no_permission_is_its_own_reason() {
    let fake = FakeNvml::start("init no_permission\ngpu name=Hidden\n");
    let (status, gpus) = source(&fake).sample();
    let (reason, message) = unavailable(&status);
    assert_eq!(reason, GpuUnavailableReason::NoPermission);
    assert!(message.contains("permission"), "{message}");
    assert!(gpus.is_empty());
}

#[test]
fn zero_devices_means_no_devices() {
    let fake = FakeNvml::start("driver 550.54.15\n");
    let (status, gpus) = source(&fake).sample();
    assert_eq!(
        unavailable(&status),
        (
            GpuUnavailableReason::NoDevices,
            "NVIDIA driver loaded but it reports no GPUs"
        )
    );
    assert!(gpus.is_empty());
}
