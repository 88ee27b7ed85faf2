//! A real Prometheus (Debian's package; scripts/test installs it) scrapes the real server each second.

use crate::common;

use common::http::Get;

use common::fake_nvml::FakeNvml;
use common::prometheus::Prometheus;
use common::server::TestServer;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const GPUS: &str = "driver 550.54.15\ncuda 12040\n\
    gpu name=\"Fake H100 80GB\" uuid=GPU-prom-0 util=37 memutil=12 mem_used=2147483648 mem_total=85899345920 \
    temp=55 power_mw=123500 limit_mw=700000 fan=40 sm_clock=1980 mem_clock=2619 procs=1:1048576:compute\n";

fn value(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

fn meminfo_total_bytes() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: f64 = text
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    kib * 1024.0
}

#[tokio::test]
async fn a_real_prometheus_scrapes_node_exporter_and_dcgm_series() {
    let fake = FakeNvml::start(GPUS);
    let library = fake.library().to_path_buf();
    let server = TestServer::start(|cli| {
        cli.interval = Some(1.0);
        cli.nvml_library = Some(library);
    })
    .await;
    let prometheus = Prometheus::scraping("prometheus", &server.addr.to_string());

    let up = prometheus.query("up{job=\"vitals\"} == 1").await;
    assert_eq!(up.len(), 1, "the target is up");
    let total = prometheus.query("node_memory_MemTotal_bytes").await;
    assert_eq!(value(&total[0]), meminfo_total_bytes());
    for series in [
        "node_memory_MemAvailable_bytes",
        "node_memory_SwapTotal_bytes",
        "node_memory_SwapFree_bytes",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_filesystem_size_bytes",
        "node_filesystem_avail_bytes",
        "vitals_build_info",
    ] {
        let samples = prometheus.query(series).await;
        assert!(samples.iter().all(|s| value(s) >= 0.0), "{series}");
    }
    let cpus = prometheus
        .query("count(count by (cpu) (node_cpu_seconds_total))")
        .await;
    assert_eq!(
        value(&cpus[0]) as usize,
        std::thread::available_parallelism().unwrap().get()
    );

    // A counter that counts: CPU seconds grow between scrapes.
    let first = value(&prometheus.query("sum(node_cpu_seconds_total)").await[0]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = value(&prometheus.query("sum(node_cpu_seconds_total)").await[0]);
    assert!(
        later > first,
        "node_cpu_seconds_total increased: {first} → {later}"
    );

    // GPU series with dcgm-exporter's labels and units.
    let util = prometheus.query("DCGM_FI_DEV_GPU_UTIL").await;
    let labels = &util[0]["metric"];
    assert_eq!(labels["gpu"], "0");
    assert_eq!(labels["UUID"], "GPU-prom-0");
    assert_eq!(labels["modelName"], "Fake H100 80GB");
    assert!(labels["Hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(value(&util[0]), 37.0);
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_FB_USED").await[0]),
        2048.0,
        "MiB"
    );
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_FB_FREE").await[0]),
        79872.0,
        "MiB"
    );
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_POWER_USAGE").await[0]),
        123.5,
        "W"
    );
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_GPU_TEMP").await[0]),
        55.0
    );
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_MEM_COPY_UTIL").await[0]),
        12.0
    );
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_SM_CLOCK").await[0]),
        1980.0
    );
    assert_eq!(
        value(&prometheus.query("DCGM_FI_DEV_MEM_CLOCK").await[0]),
        2619.0
    );
    assert_eq!(
        value(&prometheus.query("vitals_gpu_processes").await[0]),
        1.0
    );
    drop(fake);
}

#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let server = TestServer::start(|_| {}).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let body = server.get_text("/metrics").await;
    assert!(body.contains("node_cpu_seconds_total"));
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // node_exporter's own meminfo and netstat names (node_memory_MemTotal_bytes,
    // node_netstat_Tcp_CurrEstab, …) are camelCase by design and promtool's style lint flags them
    // (node_exporter's too); they are kept so existing dashboards work. Any other finding, and any
    // parse error, fails the test.
    let node_exporters_own = ["node_memory_", "node_netstat_"];
    let findings: Vec<&str> = report
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            !(node_exporters_own.iter().any(|p| line.starts_with(p)) && line.contains("camelCase"))
        })
        .collect();
    assert!(findings.is_empty(), "promtool check metrics: {findings:?}");
    assert!(
        report.contains("node_memory_MemTotal_bytes"),
        "the lint ran over the whole output: {report}"
    );

    let openmetrics = reqwest::Client::new()
        .get(server.url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(
        openmetrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        openmetrics
            .text()
            .await
            .unwrap()
            .trim_end()
            .ends_with("# EOF")
    );
}
