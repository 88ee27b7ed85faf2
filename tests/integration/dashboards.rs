//! The dashboards people already use, on Vitals alone: Grafana's "Node Exporter Full" and NVIDIA's
//! DCGM Exporter Dashboard (their published JSON, in fixtures/dashboards/ with its source and
//! licence), their variables found the way Grafana finds them and every query run through a real
//! Prometheus that scrapes the real server on the fake NVML library.

use crate::common;

use common::fake_nvml::FakeNvml;
use common::http::Get;
use common::prometheus::Prometheus;
use common::server::{EMIT_TOKEN, TestServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One Hopper-like GPU with its profiling counters (GPM), as the DCGM dashboard expects, running
/// this test (so someone holds it) and reporting an XID (so an alert fires).
fn gpus() -> String {
    format!(
        "driver 550.54.15\ncuda 12040\n\
         gpu name=\"Fake H100 80GB\" uuid=GPU-dash-0 pci_bus_id=00000000:3B:00.0 util=64 memutil=30 \
         mem_used=2147483648 mem_total=85899345920 temp=61 power_mw=350000 limit_mw=700000 \
         sm_clock=1980 mem_clock=2619 throttle=4 procs={}:1073741824:compute gpm=1 gpm_gr=91 \
         gpm_sm=88 gpm_occupancy=47 gpm_tensor=63 gpm_dram=41 gpm_fp64=0 gpm_fp32=12 gpm_fp16=30\n\
         xid 0 79\n",
        std::process::id()
    )
}

/// What Grafana puts for `$__rate_interval` with a 1 s scrape: four scrapes and more.
const RATE_INTERVAL: &str = "15s";

fn dashboard(name: &str) -> Value {
    let path = format!(
        "{}/tests/integration/fixtures/dashboards/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every panel's queries, with the title of the row it sits under: (row, panel, expr).
fn queries(dashboard: &Value) -> Vec<(String, String, String)> {
    fn walk(panels: &[Value], row: &mut String, out: &mut Vec<(String, String, String)>) {
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            if panel["type"] == "row" {
                *row = title.clone();
            }
            if let Some(nested) = panel["panels"].as_array() {
                walk(nested, row, out);
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((row.clone(), title.clone(), expr.to_owned()));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        dashboard["panels"].as_array().unwrap(),
        &mut String::new(),
        &mut out,
    );
    out
}

/// Prometheus' answer, or Null while it is still starting.
async fn api(prometheus: &Prometheus, path: &str, params: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/{path}", prometheus.url))
        .query(params)
        .send()
        .await;
    match response {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

/// The result of an instant query; an error (a query the Prometheus cannot parse) fails the test.
async fn instant(prometheus: &Prometheus, promql: &str) -> Vec<Value> {
    let answer = api(prometheus, "query", &[("query", promql)]).await;
    assert_eq!(answer["status"], "success", "{promql}: {answer}");
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `label_values(metric, label)`, as Grafana's variable query asks it.
async fn label_values(prometheus: &Prometheus, selector: &str, label: &str) -> Vec<String> {
    let answer = api(
        prometheus,
        &format!("label/{label}/values"),
        &[("match[]", selector)],
    )
    .await;
    answer["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

async fn until_scraped(prometheus: &Prometheus, promql: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while api(prometheus, "query", &[("query", promql)]).await["data"]["result"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(Instant::now() < deadline, "Prometheus never had {promql}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A query answers when it has at least one series (or a scalar).
fn answers(result: &[Value]) -> bool {
    !result.is_empty()
}

#[tokio::test]
async fn node_exporter_full_and_the_dcgm_dashboard_answer_from_vitals_alone() {
    let fake = FakeNvml::start(&gpus());
    let library = fake.library().to_path_buf();
    let server = TestServer::start(|cli| {
        cli.interval = Some(1.0);
        cli.nvml_library = Some(library);
    })
    .await;
    let prometheus = Prometheus::start(
        "prometheus-dashboards",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: vitals\n    static_configs:\n      - targets: ['{}']\n",
            server.addr
        ),
    );
    until_scraped(&prometheus, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE").await;
    // Enough scrapes for every rate() over $__rate_interval.
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Node Exporter Full's variables, found as its own variable queries find them.
    let jobs = label_values(&prometheus, "node_uname_info", "job").await;
    assert_eq!(jobs, ["vitals"]);
    let nodenames = label_values(&prometheus, "node_uname_info{job=\"vitals\"}", "nodename").await;
    assert_eq!(nodenames.len(), 1, "{nodenames:?}");
    let instances = label_values(
        &prometheus,
        &format!(
            "node_uname_info{{job=\"vitals\", nodename=\"{}\"}}",
            nodenames[0]
        ),
        "instance",
    )
    .await;
    assert_eq!(instances, [server.addr.to_string()]);
    let substitute = |expr: &str| {
        expr.replace("$__rate_interval", RATE_INTERVAL)
            .replace("$node", &instances[0])
            .replace("$job", &jobs[0])
    };

    let node_full = queries(&dashboard("node-exporter-full.json"));
    assert_eq!(node_full.len(), 286, "the dashboard as published");
    let first_rows: Vec<String> = {
        let mut rows: Vec<String> = Vec::new();
        for (row, _, _) in &node_full {
            if !rows.contains(row) {
                rows.push(row.clone());
            }
        }
        rows.into_iter().take(2).collect()
    };
    assert_eq!(
        first_rows,
        ["Quick CPU / Mem / Disk", "Basic CPU / Mem / Net / Disk"]
    );
    let mut answered = 0;
    let mut unanswered_first_rows = Vec::new();
    for (row, panel, expr) in &node_full {
        let ok = answers(&instant(&prometheus, &substitute(expr)).await);
        answered += usize::from(ok);
        if !ok && first_rows.contains(row) {
            unanswered_first_rows.push(format!("{panel}: {expr}"));
        }
    }
    let first_row_queries = node_full
        .iter()
        .filter(|(row, _, _)| first_rows.contains(row))
        .count();
    assert_eq!(first_row_queries, 28);
    // IRQ pressure exists only on kernels built with it (CONFIG_IRQ_TIME_ACCOUNTING, 6.1 and
    // newer); where /proc/pressure/irq is absent node_exporter has no answer for it either.
    let irq_missing = !std::path::Path::new("/proc/pressure/irq").exists();
    let allowed: Vec<&String> = unanswered_first_rows
        .iter()
        .filter(|q| !(irq_missing && q.contains("node_pressure_irq_stalled_seconds_total")))
        .collect();
    assert!(
        allowed.is_empty(),
        "Node Exporter Full's first two rows, unanswered: {allowed:#?}"
    );
    println!(
        "Node Exporter Full: {} of 28 first-row queries answer ({} of 286 over the whole \
         dashboard){}",
        28 - unanswered_first_rows.len(),
        answered,
        if irq_missing {
            "; this kernel has no /proc/pressure/irq"
        } else {
            ""
        }
    );
    // Over the whole dashboard: 196 here (42 before node_exporter's families; node_exporter 232).
    assert!(answered >= 190, "{answered} of 286 answer");

    // The DCGM dashboard: its variables, then each of its 8 panels with every GPU selected.
    let dcgm = dashboard("dcgm-exporter-dashboard.json");
    let gpu_instances = label_values(&prometheus, "DCGM_FI_DEV_GPU_TEMP", "instance").await;
    assert_eq!(gpu_instances, [server.addr.to_string()]);
    let gpus = label_values(&prometheus, "DCGM_FI_DEV_GPU_TEMP", "gpu").await;
    assert_eq!(gpus, ["0"]);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let hostnames = label_values(&prometheus, "DCGM_FI_DEV_GPU_TEMP", "Hostname").await;
    assert_eq!(
        hostnames,
        [hostname.trim()],
        "dcgm-exporter's Hostname label"
    );
    let panels = queries(&dcgm);
    assert_eq!(panels.len(), 8, "the dashboard as published");
    for (_, panel, expr) in &panels {
        let promql = expr
            .replace("$instance", &gpu_instances.join("|"))
            .replace("$gpu", &gpus.join("|"));
        let result = instant(&prometheus, &promql).await;
        assert!(answers(&result), "DCGM panel {panel:?} is empty: {promql}");
        if panel == "Tensor Core Utilization" {
            let value: f64 = result[0]["value"][1].as_str().unwrap().parse().unwrap();
            assert_eq!(value, 0.63, "GPM's tensor share as DCGM's ratio");
            let labels = &result[0]["metric"];
            assert_eq!(labels["pci_bus_id"], "00000000:3B:00.0");
            assert_eq!(labels["device"], "nvidia0");
            assert_eq!(labels["modelName"], "Fake H100 80GB");
        }
    }

    // Vitals' own dashboard (deploy/grafana/vitals.json): with a job, a firing alert and a GPU
    // someone holds, every panel answers, and it names only series Vitals exports.
    let start = json!({"channel": "jobs/dash-1", "event": "start", "data": {"name": "resnet"}});
    let metrics = json!({"channel": "jobs/dash-1", "event": "metrics", "data": {"step": 7}});
    for body in [start, metrics] {
        let status = reqwest::Client::new()
            .post(server.url("/api/internal/ws/emit"))
            .bearer_auth(EMIT_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202);
    }
    let exposition = server.get_text("/metrics").await;
    let exported: Vec<&str> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let own = std::fs::read_to_string(format!(
        "{}/deploy/grafana/vitals.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let own: Value = serde_json::from_str(&own).unwrap();
    let own_queries = queries(&own);
    assert!(own_queries.len() >= 15, "{}", own_queries.len());
    until_scraped(&prometheus, "vitals_job_field").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (_, panel, expr) in &own_queries {
        for name in metric_names(expr) {
            assert!(
                exported.contains(&name.as_str()),
                "{panel}: {name} is not a series Vitals exports"
            );
        }
        let promql = expr
            .replace("$instance", ".*")
            .replace("$__rate_interval", RATE_INTERVAL)
            .replace("$__range", "1h");
        let result = instant(&prometheus, &promql).await;
        assert!(
            answers(&result),
            "Vitals dashboard panel {panel:?} is empty: {promql}"
        );
    }
    drop(fake);
}

/// The metric names a query reads: words ending in `{`, with Prometheus' own suffix kept.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split('{')
        .filter_map(|before| {
            let name: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
                .chars()
                .rev()
                .collect();
            name.starts_with("vitals_").then_some(name)
        })
        .collect()
}
