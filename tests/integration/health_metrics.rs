//! A real Prometheus scrapes a server reading the `server` sysfs fixture and two disks' SMART
//! through `replay-smartctl`: node_exporter's hwmon and EDAC names and labels, Vitals' AER
//! counter and smartctl_exporter's names, with the fixtures' values, through the query API.

use crate::common;

use common::process::scratch_dir;
use common::prometheus::Prometheus;
use common::server::TestServer;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A folder `replay-smartctl` answers from: the failing SATA disk as `sda`, the NVMe one with
/// media errors as `nvme0`. Made once: both tests' servers read it.
fn replay_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch_dir("health-metrics-smart");
        let smart = fixtures().join("smart");
        std::fs::copy(smart.join("nvme-media-errors.json"), dir.join("nvme0.json")).unwrap();
        std::fs::copy(smart.join("sata-failing.json"), dir.join("sda.json")).unwrap();
        // SAFETY: set once, before the first server (and its SMART thread) starts; only this
        // module's servers read it, through the replay script they run as smartctl.
        unsafe { std::env::set_var("SMART_REPLAY_DIR", &dir) };
        dir
    })
}

/// The server, reading the `server` sysfs fixture and SMART through the replay script.
async fn server() -> TestServer {
    replay_dir();
    TestServer::start(|cli| {
        cli.interval = Some(1.0);
        cli.sysfs_root = Some(fixtures().join("sysfs/server"));
        cli.smartctl = Some(fixtures().join("smart/replay-smartctl"));
        cli.smart_interval = Some(10);
    })
    .await
}

/// The one sample `promql` selects, and its value.
async fn one(prometheus: &Prometheus, promql: &str) -> f64 {
    let samples = prometheus.query(promql).await;
    assert_eq!(samples.len(), 1, "{promql}: {samples:?}");
    samples[0]["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn prometheus_reads_smart_under_smartctl_exporters_names() {
    let server = server().await;
    let prometheus = Prometheus::scraping("prometheus-health-smart", &server.addr.to_string());

    let devices = prometheus.query("smartctl_device").await;
    let device = |name: &str| {
        devices
            .iter()
            .find(|s| s["metric"]["device"] == name)
            .unwrap_or_else(|| panic!("smartctl_device{{device={name:?}}}: {devices:?}"))["metric"]
            .clone()
    };
    let nvme = device("nvme0");
    assert_eq!(nvme["model_name"], "Samsung SSD 970 EVO 500GB");
    assert_eq!(nvme["serial_number"], "S466NX0M776250H");
    assert_eq!(nvme["protocol"], "NVMe");
    let sda = device("sda");
    assert_eq!(sda["model_name"], "Hitachi HDS721050DLE630");
    assert_eq!(sda["serial_number"], "MSK423Y20S3HBC");
    assert_eq!(sda["protocol"], "ATA");

    let checks: [(&str, f64); 14] = [
        (r#"smartctl_device_smart_status{device="nvme0"}"#, 1.0),
        (r#"smartctl_device_smart_status{device="sda"}"#, 0.0),
        (
            r#"smartctl_device_temperature{device="nvme0",temperature_type="current"}"#,
            35.0,
        ),
        (
            r#"smartctl_device_temperature{device="sda",temperature_type="current"}"#,
            25.0,
        ),
        (
            r#"smartctl_device_power_on_seconds{device="nvme0"}"#,
            12798.0 * 3600.0,
        ),
        (
            r#"smartctl_device_power_on_seconds{device="sda"}"#,
            65592.0 * 3600.0,
        ),
        (r#"smartctl_device_percentage_used{device="nvme0"}"#, 3.0),
        (r#"smartctl_device_available_spare{device="nvme0"}"#, 99.0),
        (
            r#"smartctl_device_available_spare_threshold{device="nvme0"}"#,
            10.0,
        ),
        (r#"smartctl_device_media_errors{device="nvme0"}"#, 7.0),
        (r#"smartctl_device_critical_warning{device="nvme0"}"#, 0.0),
        (
            r#"smartctl_device_attribute{device="sda",attribute_id="5",attribute_name="Reallocated_Sector_Ct",attribute_value_type="raw"}"#,
            1975.0,
        ),
        (
            r#"smartctl_device_attribute{device="sda",attribute_id="197",attribute_name="Current_Pending_Sector",attribute_value_type="raw"}"#,
            8.0,
        ),
        (
            r#"smartctl_device_attribute{device="sda",attribute_id="198",attribute_name="Offline_Uncorrectable",attribute_value_type="raw"}"#,
            0.0,
        ),
    ];
    for (promql, expected) in checks {
        assert_eq!(one(&prometheus, promql).await, expected, "{promql}");
    }
    // A SATA disk has no NVMe health log: absent, not zero.
    assert_eq!(
        one(
            &prometheus,
            r#"count(smartctl_device_percentage_used) or vector(0)"#
        )
        .await,
        1.0
    );
    // The failing disk fails the alert's expression too.
    assert_eq!(
        one(&prometheus, "count(smartctl_device_smart_status == 0)").await,
        1.0
    );
}

/// hwmon, EDAC and AER under `--sysfs-root` (the server fixture), in node_exporter's names.
#[tokio::test]
async fn prometheus_reads_the_sysfs_fixture_under_node_exporters_names() {
    let server = server().await;
    let prometheus = Prometheus::scraping("prometheus-health-sysfs", &server.addr.to_string());

    let names = prometheus.query("node_hwmon_chip_names").await;
    assert!(
        names
            .iter()
            .any(|s| s["metric"]["chip"] == "platform_coretemp_0"
                && s["metric"]["chip_name"] == "coretemp"),
        "{names:?}"
    );
    let labels = prometheus
        .query(r#"node_hwmon_sensor_label{chip="platform_coretemp_0",sensor="temp1"}"#)
        .await;
    assert_eq!(labels[0]["metric"]["label"], "Package id 0");
    for (promql, expected) in [
        (
            r#"node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"}"#,
            45.0,
        ),
        (
            r#"node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp2"}"#,
            42.0,
        ),
        (
            r#"node_hwmon_temp_max_celsius{chip="platform_coretemp_0",sensor="temp1"}"#,
            80.0,
        ),
        (
            r#"node_hwmon_temp_crit_celsius{chip="platform_coretemp_0",sensor="temp3"}"#,
            100.0,
        ),
        (r#"node_edac_correctable_errors_total{controller="0"}"#, 3.0),
        (
            r#"node_edac_uncorrectable_errors_total{controller="0"}"#,
            0.0,
        ),
        (
            r#"node_edac_dimm_correctable_errors_total{controller="0",dimm="dimm0",label="CPU_SrcID#0_MC#0_Chan#0_DIMM#0"}"#,
            3.0,
        ),
        (
            r#"vitals_pcie_aer_errors_total{address="0000:3a:00.0",device="PCI bridge",severity="fatal"}"#,
            1.0,
        ),
        (
            r#"vitals_pcie_aer_errors_total{address="0000:3b:00.0",device="NVIDIA GPU",severity="correctable"}"#,
            3.0,
        ),
    ] {
        assert_eq!(one(&prometheus, promql).await, expected, "{promql}");
    }
}
