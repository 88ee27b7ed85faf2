//! GPU profiling without DCGM: the real NVML collector reads GPM from the fake library (every
//! metric, GPUs and drivers without it, a sample that fails, a GPU that stops answering), and the
//! real server exports and describes what it read (what the history keeps of it is tested with
//! `history::series`).

use crate::common;

use common::fake_nvml::FakeNvml;
use common::http::Get;
use common::server::TestServer;
use std::time::Duration;
use vitals::server::collect::GpuSource;
use vitals::server::collect::gpu::{Backoff, GpuOptions, NvmlSource};
use vitals::wire::GpuProfiling;

const GPM_GPU: &str = "gpu name=\"Fake H200\" uuid=GPU-gpm-0 util=90 mem_used=1 mem_total=2 gpm=1 \
    gpm_gr=91.5 gpm_sm=88 gpm_occupancy=47.25 gpm_tensor=63 gpm_dram=41 gpm_fp64=0.5 gpm_fp32=12 \
    gpm_fp16=30 gpm_pcie_tx=100 gpm_pcie_rx=200 gpm_nvlink_tx=300 gpm_nvlink_rx=400";

const MIB: f64 = 1024.0 * 1024.0;

fn source(fake: &FakeNvml) -> NvmlSource {
    NvmlSource::new(GpuOptions {
        library_path: Some(fake.library().to_path_buf()),
        show_command_lines: false,
        reinit_backoff: Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_millis(400),
        },
    })
}

fn profiling_of(source: &mut NvmlSource, gpu: usize) -> Option<GpuProfiling> {
    source.sample().1[gpu].profiling.clone()
}

/// How many GPM samples the fake has handed out and not had back.
fn samples_in_use(fake: &FakeNvml) -> i64 {
    common::fake_nvml::call(fake.library(), c"fakeNvmlGpmSamplesInUse")
}

#[test]
fn every_gpm_metric_comes_through_a_tick_after_the_first() {
    let fake = FakeNvml::start(&format!("{GPM_GPU}\n"));
    let mut source = source(&fake);
    assert_eq!(
        profiling_of(&mut source, 0),
        None,
        "one sample is nothing to compare with"
    );
    let profiling = profiling_of(&mut source, 0).expect("the second tick compares two samples");
    assert_eq!(
        profiling,
        GpuProfiling {
            line: profiling.line.clone(),
            graphics_active_percent: Some(91.5),
            sm_active_percent: Some(88.0),
            sm_occupancy_percent: Some(47.25),
            tensor_active_percent: Some(63.0),
            dram_active_percent: Some(41.0),
            fp64_active_percent: Some(0.5),
            fp32_active_percent: Some(12.0),
            fp16_active_percent: Some(30.0),
            pcie_tx_bytes_per_second: Some(100.0 * MIB),
            pcie_rx_bytes_per_second: Some(200.0 * MIB),
            nvlink_tx_bytes_per_second: Some(300.0 * MIB),
            nvlink_rx_bytes_per_second: Some(400.0 * MIB),
        }
    );
    assert_eq!(
        profiling.line,
        "tensor cores 63 % active · FP16 30 % active · memory bandwidth 41 % — compute-bound"
    );
    // Two samples per GPU, alternated, never more; all freed when the collector goes.
    assert_eq!(samples_in_use(&fake), 2);
    drop(source);
    assert_eq!(samples_in_use(&fake), 0, "the samples are freed");
}

#[test]
fn a_metric_the_gpu_lacks_is_absent_never_zero() {
    let fake = FakeNvml::start("gpu gpm=1 gpm_sm=20 gpm_dram=70\n");
    let mut source = source(&fake);
    profiling_of(&mut source, 0);
    let profiling = profiling_of(&mut source, 0).unwrap();
    assert_eq!(profiling.tensor_active_percent, None);
    assert_eq!(profiling.fp32_active_percent, None);
    assert_eq!(profiling.sm_active_percent, Some(20.0));
    assert_eq!(profiling.line, "memory bandwidth 70 % — memory-bound");
}

#[test]
fn gpus_and_drivers_without_gpm_say_so_once_and_give_no_counter() {
    let fake = FakeNvml::start("gpu name=\"Fake A100\"\ngpu gpm=not_supported\ngpu gpm=unknown\n");
    let mut source = source(&fake);
    for _ in 0..2 {
        let gpus = source.sample().1;
        let lines: Vec<String> = gpus
            .iter()
            .map(|g| g.profiling.as_ref().unwrap().line.clone())
            .collect();
        assert_eq!(
            lines,
            [
                "not available: this GPU has no GPM counters (Hopper and newer have them)",
                "not available: this GPU has no GPM counters (Hopper and newer have them)",
                "not available: the driver said: an internal driver error occurred",
            ]
        );
        assert!(gpus.iter().all(|g| {
            g.profiling
                .as_ref()
                .unwrap()
                .tensor_active_percent
                .is_none()
        }));
    }
    assert_eq!(samples_in_use(&fake), 0, "no sample for a GPU without GPM");
}

#[test]
fn a_failed_sample_skips_a_tick_and_a_lost_gpu_reads_as_lost() {
    let fake = FakeNvml::start(&format!("{GPM_GPU}\n"));
    let mut source = source(&fake);
    profiling_of(&mut source, 0);
    assert!(profiling_of(&mut source, 0).is_some());
    fake.write(&format!("{GPM_GPU} gpm_sample=unknown\n"));
    assert_eq!(profiling_of(&mut source, 0), None, "no values, not zeros");
    fake.write(&format!("{GPM_GPU}\n"));
    assert_eq!(
        profiling_of(&mut source, 0),
        None,
        "a fresh pair of samples first"
    );
    assert!(profiling_of(&mut source, 0).is_some());

    fake.write(&format!("{GPM_GPU} lost=1\n"));
    let gpu = source.sample().1.remove(0);
    assert!(!gpu.available);
    assert_eq!(gpu.profiling, None);
    fake.write(&format!("{GPM_GPU}\n"));
    std::thread::sleep(Duration::from_millis(450));
    source.sample();
    let back = source.sample().1.remove(0);
    assert!(back.available, "{back:?}");
    assert_eq!(back.profiling.unwrap().tensor_active_percent, Some(63.0));
    // The lost session's samples were freed with it: only the new session's two remain.
    assert_eq!(samples_in_use(&fake), 2);
}

#[tokio::test]
async fn the_server_exports_and_describes_the_counters() {
    let fake = FakeNvml::start(&format!("{GPM_GPU}\ngpu name=\"Fake A100\" uuid=GPU-old\n"));
    let library = fake.library().to_path_buf();
    let server = TestServer::start(|cli| {
        cli.interval = Some(0.5);
        cli.nvml_library = Some(library);
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let metrics: serde_json::Value = server.get_json("/api/system/metrics").await;
    let gpu = |index: usize| {
        metrics["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["channel"] == format!("system/gpu/{index}") && c["event"] == "metrics")
            .map(|c| c["data"].clone())
            .unwrap_or_default()
    };
    let gpus = (gpu(0), gpu(1));
    let first = &gpus.0["profiling"];
    assert_eq!(first["tensor_active_percent"], 63.0, "{metrics}");
    assert_eq!(first["dram_active_percent"], 41.0);
    assert!(first["line"].as_str().unwrap().ends_with("— compute-bound"));
    let second = &gpus.1["profiling"];
    assert_eq!(
        second["line"],
        "not available: this GPU has no GPM counters (Hopper and newer have them)"
    );
    assert!(second.get("tensor_active_percent").is_none());

    let metrics = server.get_text("/metrics").await;
    let line = |name: &str, uuid: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(uuid))
            .map(str::to_owned)
    };
    assert!(
        line("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "GPU-gpm-0").is_some_and(|l| l.ends_with(" 0.63"))
    );
    assert!(line("DCGM_FI_PROF_SM_OCCUPANCY", "GPU-gpm-0").is_some_and(|l| l.ends_with(" 0.4725")));
    assert!(
        line("DCGM_FI_PROF_PIPE_FP64_ACTIVE", "GPU-gpm-0").is_some_and(|l| l.ends_with(" 0.005"))
    );
    assert!(
        line("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "GPU-old").is_none(),
        "nothing exported for a GPU without GPM"
    );

    drop(fake);
}
