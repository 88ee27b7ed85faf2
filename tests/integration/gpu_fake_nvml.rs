//! The real NVML collector driven against the scripted fake library in tests/fake_nvml.

use crate::common;

use common::fake_nvml::FakeNvml;
use std::path::PathBuf;
use std::time::Duration;
use vitals::server::collect::GpuSource;
use vitals::server::collect::gpu::{Backoff, GpuOptions, NvmlSource};
use vitals::server::collect::procfs;
use vitals::wire::{
    GpuEcc, GpuMemoryRepair, GpuMetrics, GpuProcess, GpuProcessKind, GpuProcessUtilization,
    GpuProfiling, GpuStatus, GpuUnavailableReason, MigInstance,
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
        // The fake's address for its first GPU.
        pci_bus_id: Some("00000000:01:00.0".into()),
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
                name: procfs::info::process_name(me).expect("own name"),
                user: procfs::info::process_user(me),
                used_memory_bytes: Some(1_048_576),
                kind: GpuProcessKind::Compute,
                command_line: procfs::info::command_line(me),
                utilization: Some(GpuProcessUtilization {
                    sm_percent: 61,
                    memory_percent: 22,
                    encoder_percent: 3,
                    decoder_percent: 4,
                }),
                // Its first tick: no CPU rate yet; resident memory as /proc says (checked below).
                cpu_percent: None,
                resident_bytes: gpus[0].processes[0].resident_bytes,
                // Its owner, read from its cgroup (checked below).
                owner: gpus[0].processes[0].owner.clone(),
            },
            GpuProcess {
                pid: GONE_PID,
                name: String::new(),
                user: None,
                used_memory_bytes: None,
                kind: GpuProcessKind::Graphics,
                command_line: None,
                utilization: None,
                cpu_percent: None,
                resident_bytes: None,
                owner: None,
            },
        ],
        // Whether the event thread registered before this first tick is a race: checked apart.
        xid_count: gpus[0].xid_count,
        // No `gpm=1`: the card says once that there are no profiling counters.
        profiling: Some(GpuProfiling::unavailable(
            "this GPU has no GPM counters (Hopper and newer have them)",
        )),
        ..Default::default()
    };
    assert_eq!(gpus[0], expected);
    assert!(gpus[0].processes[0].user.is_some() && gpus[0].processes[0].command_line.is_some());
    assert!(gpus[0].processes[0].resident_bytes.is_some_and(|b| b > 0));
    let owner = gpus[0].processes[0]
        .owner
        .as_ref()
        .expect("a live process has an owner");
    assert_eq!(Some(&owner.user), gpus[0].processes[0].user.as_ref());
    assert!(owner.line.starts_with(&owner.user), "{owner:?}");
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
         limit_mw=ns fan=ns sm_clock=ns mem_clock=ns procs=ns pstate=ns ecc=ns remap=ns \
         retired_sbe=ns pcie_gen=ns enc=ns energy_mj=ns mig=ns events=ns pci_bus_id=ns gpm=ns\n\
         gpu name=Silent uuid=GPU-dddd events=ns pci_bus_id=ns gpm=ns\n",
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
            // No GPM: said once, with no counter.
            profiling: Some(GpuProfiling::unavailable(
                "this GPU has no GPM counters (Hopper and newer have them)",
            )),
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

#[test]
fn depth_values_come_through_exactly() {
    let fake = FakeNvml::start(
        "gpu name=\"Fake H200\" uuid=GPU-deep throttle=40 pstate=2 viol_power_ns=1500000000 \
         viol_thermal_ns=250000000 ecc=1 ecc_cv=5 ecc_uv=1 ecc_ca=12 ecc_ua=2 remap=3:1:0:0 \
         pcie_gen=4 pcie_max_gen=5 pcie_width=4 pcie_max_width=16 pcie_replays=7 \
         pcie_rx_bytes=+2000000000 pcie_tx_bytes=+500000000 nvlinks=18 nvlink_rx_kib=+1000000 \
         nvlink_tx_kib=+2000000 enc=13 dec=27 energy_mj=123456789 mig=0\n\
         gpu name=\"Fake V100\" uuid=GPU-old ecc=0:1 retired_sbe=2 retired_dbe=1 retired_pending=1 \
         pcie_rx_kbs=1000 pcie_tx_kbs=2000 mig=1 migs=1g.10gb:100:1000,3g.40gb:200:4000\n",
    );
    let mut source = source(&fake);
    let (_, first) = source.sample();
    std::thread::sleep(Duration::from_millis(300));
    let (_, gpus) = source.sample();

    let deep = &gpus[0];
    assert_eq!(
        deep.clocks_throttle_reasons,
        Some(0x28),
        "SW thermal and HW slowdown"
    );
    assert_eq!(deep.performance_state, Some(2));
    assert_eq!(deep.power_violation_ns, Some(1_500_000_000));
    assert_eq!(deep.thermal_violation_ns, Some(250_000_000));
    assert_eq!(
        deep.ecc,
        Some(GpuEcc {
            enabled: true,
            pending_enabled: None,
            corrected_volatile: Some(5),
            uncorrected_volatile: Some(1),
            corrected_aggregate: Some(12),
            uncorrected_aggregate: Some(2),
        })
    );
    assert_eq!(
        deep.memory_repair,
        Some(GpuMemoryRepair {
            remapped_rows_correctable: Some(3),
            remapped_rows_uncorrectable: Some(1),
            remap_pending: Some(false),
            remap_failed: Some(false),
            ..Default::default()
        })
    );
    let pcie = deep.pcie.expect("PCIe is read");
    assert_eq!(
        (
            pcie.generation,
            pcie.max_generation,
            pcie.width,
            pcie.max_width
        ),
        (Some(4), Some(5), Some(4), Some(16))
    );
    assert!(pcie.narrowed(), "x4 of x16");
    assert_eq!(pcie.replays, Some(7));
    assert_eq!(
        first[0].pcie.unwrap().rx_bytes_per_second,
        None,
        "one reading is no rate"
    );
    let near = |value: Option<f64>, expected: f64| {
        value.is_some_and(|v| (v - expected).abs() <= expected * 0.01)
    };
    assert!(near(pcie.rx_bytes_per_second, 2e9), "{pcie:?}");
    assert!(near(pcie.tx_bytes_per_second, 5e8), "{pcie:?}");
    let nvlink = deep.nvlink.expect("NVLink is read");
    assert_eq!(nvlink.links, 18);
    assert!(near(nvlink.rx_bytes_per_second, 1e6 * 1024.0), "{nvlink:?}");
    assert!(near(nvlink.tx_bytes_per_second, 2e6 * 1024.0), "{nvlink:?}");
    assert_eq!(
        (deep.encoder_percent, deep.decoder_percent),
        (Some(13), Some(27))
    );
    assert_eq!(deep.energy_joules, Some(123_456.789));
    assert_eq!(deep.mig_enabled, Some(false));
    assert!(deep.mig_instances.is_empty());

    let old = &gpus[1];
    assert_eq!(
        old.ecc,
        Some(GpuEcc {
            enabled: false,
            pending_enabled: Some(true),
            ..Default::default()
        }),
        "ECC off: no counts, and it turns on at the next reboot"
    );
    assert_eq!(
        old.memory_repair,
        Some(GpuMemoryRepair {
            retired_pages_single_bit: Some(2),
            retired_pages_double_bit: Some(1),
            retirement_pending: Some(true),
            ..Default::default()
        }),
        "no row remapping: retired pages instead"
    );
    let pcie = old.pcie.expect("PCIe throughput without the byte counters");
    assert_eq!(
        (pcie.rx_bytes_per_second, pcie.tx_bytes_per_second),
        (Some(1000.0 * 1024.0), Some(2000.0 * 1024.0))
    );
    assert_eq!((pcie.generation, pcie.width), (None, None));
    assert_eq!(old.nvlink, None, "no links");
    assert_eq!(old.mig_enabled, Some(true));
    assert_eq!(
        old.mig_instances,
        [
            MigInstance {
                index: 0,
                uuid: "MIG-fake-1-0".into(),
                name: "1g.10gb".into(),
                memory_used_bytes: Some(100),
                memory_total_bytes: Some(1000),
            },
            MigInstance {
                index: 1,
                uuid: "MIG-fake-1-1".into(),
                name: "3g.40gb".into(),
                memory_used_bytes: Some(200),
                memory_total_bytes: Some(4000),
            },
        ]
    );
}

#[test]
fn a_failing_query_leaves_the_rest_of_the_gpu_readable() {
    let fake = FakeNvml::start(
        "gpu name=Partial uuid=GPU-p util=50 memutil=5 pstate=no_permission ecc=1 ecc_cv=no_permission ecc_uv=0 \
         enc=invalid_argument dec=9\n",
    );
    let mut source = source(&fake);
    for _ in 0..2 {
        let (_, gpus) = source.sample();
        let gpu = &gpus[0];
        assert!(gpu.available && gpu.error.is_none(), "{gpu:?}");
        assert_eq!(gpu.utilization_percent, Some(50));
        assert_eq!(gpu.performance_state, None);
        assert_eq!(gpu.encoder_percent, None);
        assert_eq!(gpu.decoder_percent, Some(9));
        let ecc = gpu.ecc.expect("ECC mode reads");
        assert_eq!(
            (ecc.corrected_volatile, ecc.uncorrected_volatile),
            (None, Some(0))
        );
    }
}

#[test]
fn xid_errors_arrive_through_the_event_thread() {
    let script = "gpu name=Faulty uuid=GPU-x util=1 memutil=1\n";
    let fake = FakeNvml::start(script);
    let mut source = source(&fake);
    let log = source.xid_log();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let watched = loop {
        let (_, gpus) = source.sample();
        if gpus[0].xid_count.is_some() || std::time::Instant::now() > deadline {
            break gpus;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(watched[0].xid_count, Some(0), "watched, none yet");

    fake.write(&format!("{script}xid 0 79\nxid 0 13\n"));
    let gpus = loop {
        let (_, gpus) = source.sample();
        if gpus[0].xid_errors.len() == 2 || std::time::Instant::now() > deadline {
            break gpus;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let gpu = &gpus[0];
    assert_eq!(gpu.xid_count, Some(2), "{gpu:?}");
    let errors: Vec<(u64, &str)> = gpu
        .xid_errors
        .iter()
        .map(|e| (e.code, e.meaning.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (79, "GPU has fallen off the bus"),
            (13, "Graphics engine exception")
        ]
    );
    drop(source);
    let mut after = GpuMetrics {
        uuid: "GPU-x".into(),
        ..Default::default()
    };
    log.attach(&mut after);
    assert_eq!(
        after.xid_count,
        Some(2),
        "the log outlives the source that fed it"
    );
}

#[test]
fn a_gpu_that_cannot_be_watched_leaves_the_others_watched() {
    let script = "gpu name=Gone uuid=GPU-gone lost=1\n\
                  gpu name=Quiet uuid=GPU-quiet events=ns util=1 memutil=1\n\
                  gpu name=Watched uuid=GPU-watched util=1 memutil=1\n";
    let fake = FakeNvml::start(script);
    let mut source = source(&fake);
    fake.write(&format!("{script}xid 2 31\n"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let gpus = loop {
        let (_, gpus) = source.sample();
        if gpus[2].xid_count == Some(1) || std::time::Instant::now() > deadline {
            break gpus;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!gpus[0].available);
    assert_eq!(gpus[1].xid_count, None, "no events offered: not watched");
    assert_eq!(gpus[2].xid_count, Some(1), "{:?}", gpus[2]);
    assert_eq!(gpus[2].xid_errors[0].meaning, "GPU memory page fault");
}
