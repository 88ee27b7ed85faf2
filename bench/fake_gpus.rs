//! Fake GPUs for the benchmarks: a script for the fake NVML library (build it first: `cargo build
//! --release --manifest-path tests/fake_nvml/Cargo.toml --target-dir target/fake-nvml`) in which
//! every GPU reports every field (its profiling counters too) and holds two processes.

pub const FAKE: &str = "target/fake-nvml/release/libfake_nvml.so";

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
         putil={me}:50:10:0:0,{parent}:40:5:0:0 gpm=1 gpm_gr=90 gpm_sm=85 gpm_occupancy=40 \
         gpm_tensor=60 gpm_dram=45 gpm_fp64=0 gpm_fp32=10 gpm_fp16=25 gpm_pcie_tx=900 gpm_pcie_rx=900 \
         gpm_nvlink_tx=9000 gpm_nvlink_rx=9000\n"
    );
    gpu.repeat(gpus)
}

/// Points the fake NVML library at a script of `gpus` such GPUs.
pub fn use_fake_gpus(gpus: usize) {
    let script = std::env::temp_dir().join(format!("vitals-fake-gpus-{}", std::process::id()));
    std::fs::write(&script, fake_script(gpus)).expect("the script can be written");
    // SAFETY: set before any thread that reads the environment starts.
    unsafe { std::env::set_var("FAKE_NVML_SCRIPT", &script) };
}
