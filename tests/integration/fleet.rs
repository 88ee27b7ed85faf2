//! The fleet page's data against a real Prometheus: three Vitals processes (one with two fake
//! GPUs) on their own loopback addresses, and hosts that run only node_exporter and
//! dcgm-exporter (small fixture exporters).

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use common::fake_nvml::FakeNvml;
use common::prometheus::Prometheus;
use common::server::TestServer;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vitals::wire::{FleetHost, FleetView, HostState};

const TWO_GPUS: &str = "driver 550.54.15\ncuda 12040\n\
    gpu name=\"Fake H100 80GB\" uuid=GPU-fleet-0 util=37 memutil=12 mem_used=2147483648 mem_total=85899345920 \
    temp=55 power_mw=123500 limit_mw=700000\n\
    gpu name=\"Fake H100 80GB\" uuid=GPU-fleet-1 util=91 memutil=40 mem_used=42949672960 mem_total=85899345920 \
    temp=71 power_mw=612000 limit_mw=700000\n";

/// A fleet-reading Vitals on 127.0.0.1, refreshing every second.
async fn fleet_reader(prometheus: &str) -> TestServer {
    let prometheus = prometheus.to_owned();
    TestServer::start(move |cli| {
        cli.fleet_prometheus = Some(prometheus);
        cli.fleet_refresh = Some(1.0);
        cli.fleet_rate_window = Some(5);
    })
    .await
}

async fn fleet(server: &TestServer, query: &str) -> FleetView {
    server.get_json(&format!("/api/fleet{query}")).await
}

async fn fleet_page(server: &TestServer) -> String {
    server.get_text("/fleet").await
}

/// Asks until `done` holds (a real Prometheus takes a few scrapes to know everything).
async fn until(server: &TestServer, what: &str, done: impl Fn(&FleetView) -> bool) -> FleetView {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = fleet(server, "").await;
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "never: {what}; last: {view:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn host<'a>(view: &'a FleetView, name: &str) -> &'a FleetHost {
    view.hosts
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("no host {name} in {view:#?}"))
}

fn meminfo_used_percent_range() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib = |key: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    let used = 100.0 * (1.0 - kib("MemAvailable:") / kib("MemTotal:"));
    (used - 10.0, used + 10.0)
}

fn vitals_on(ip: &str, extra: &[&str]) -> ServerProcess {
    let bind = format!("{ip}:0");
    let mut args = vec!["--bind", bind.as_str()];
    args.extend_from_slice(extra);
    ServerProcess::start(&args, None)
}

fn static_target(addr: SocketAddr) -> String {
    format!(
        "      - targets: ['{addr}']\n        labels: {{ vitals_url: 'http://{addr}/', rack: r{} }}\n",
        addr.ip().to_string().rsplit('.').next().unwrap()
    )
}

#[tokio::test]
async fn three_vitals_through_a_real_prometheus_go_down_stale_and_back() {
    let fake = FakeNvml::start(TWO_GPUS);
    let library = fake.library().display().to_string();
    let gpu_box = vitals_on("127.0.0.2", &["--nvml-library", &library]);
    let plain_box = vitals_on("127.0.0.3", &[]);
    let stopped_box = vitals_on("127.0.0.4", &[]);
    let targets: String = [gpu_box.addr, plain_box.addr, stopped_box.addr]
        .into_iter()
        .map(static_target)
        .collect();
    let mut prometheus = Prometheus::start(
        "fleet-vitals",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: vitals\n    static_configs:\n{targets}"
        ),
    );
    let reader = fleet_reader(&prometheus.url).await;

    let view = until(&reader, "three hosts with CPU, memory and GPUs", |view| {
        view.hosts.len() == 3
            && view
                .hosts
                .iter()
                .all(|h| h.cpu_percent.is_some() && h.memory_percent.is_some())
            && view.hosts.iter().any(|h| h.gpus.len() == 2)
    })
    .await;
    assert!(view.configured && !view.stale && view.error.is_none());
    assert!(view.refresh_ms.is_some() && view.updated.is_some());
    let (low, high) = meminfo_used_percent_range();
    for (name, addr) in [
        ("127.0.0.2", gpu_box.addr),
        ("127.0.0.3", plain_box.addr),
        ("127.0.0.4", stopped_box.addr),
    ] {
        let h = host(&view, name);
        assert_eq!(h.state, HostState::Up, "{name}");
        assert_eq!(
            h.dashboard.as_deref(),
            Some(format!("http://{addr}/").as_str())
        );
        assert_eq!(h.targets.len(), 1);
        assert_eq!(h.targets[0].job, "vitals");
        assert_eq!(
            h.labels.get("rack").map(String::as_str),
            Some(&*format!("r{}", &name[8..]))
        );
        let cpu = h.cpu_percent.unwrap();
        assert!((0.0..=100.0).contains(&cpu), "{name} CPU {cpu}");
        let memory = h.memory_percent.unwrap();
        assert!(
            (low..=high).contains(&memory),
            "{name} RAM {memory} % not near /proc/meminfo's"
        );
        assert!(h.load1.is_some_and(|l| l >= 0.0));
        assert!(h.disk_read_bytes_per_second.is_some_and(|r| r >= 0.0));
        assert!(h.network_receive_bytes_per_second.is_some_and(|r| r >= 0.0));
        assert_eq!(h.cpu_history.len(), 61, "an hour, a point a minute");
    }
    let gpus = &host(&view, "127.0.0.2").gpus;
    assert_eq!(gpus[0].index, "0");
    assert_eq!(gpus[0].model, "Fake H100 80GB");
    assert_eq!(gpus[0].utilization_percent, Some(37.0));
    assert_eq!(gpus[0].memory_used_mib, Some(2048.0));
    assert_eq!(gpus[0].memory_total_mib, Some(81920.0));
    assert_eq!(gpus[0].temperature_celsius, Some(55.0));
    assert_eq!(gpus[0].power_watts, Some(123.5));
    assert_eq!(gpus[0].power_limit_watts, Some(700.0));
    assert_eq!(gpus[1].utilization_percent, Some(91.0));
    assert_eq!(gpus[1].memory_used_mib, Some(40960.0));
    assert_eq!(gpus[1].power_watts, Some(612.0));
    assert!(host(&view, "127.0.0.3").gpus.is_empty());
    assert!(host(&view, "127.0.0.3").gpu_history.is_empty());
    drop(fake);

    // One instance stopped: down within two scrape intervals (and a refresh).
    stopped_box.kill_9();
    let stopped = Instant::now();
    let view = until(&reader, "127.0.0.4 down", |view| {
        host(view, "127.0.0.4").state == HostState::Down
    })
    .await;
    let took = stopped.elapsed();
    println!("127.0.0.4 shown down {took:?} after it stopped");
    assert!(
        took <= Duration::from_secs(2) + Duration::from_secs(1) + Duration::from_secs(2),
        "two 1 s scrapes, a 1 s refresh and 2 s of slack; took {took:?}"
    );
    let down = host(&view, "127.0.0.4");
    assert!(!down.targets[0].up);
    assert_eq!(host(&view, "127.0.0.2").state, HostState::Up);

    // Prometheus stopped: the last hosts stay, marked stale, with what is wrong.
    prometheus.stop();
    let view = until(&reader, "stale", |view| view.stale).await;
    assert_eq!(view.hosts.len(), 3, "the last data is kept");
    let error = view.error.clone().unwrap();
    assert!(
        error.contains("cannot reach Prometheus at") && error.contains(&prometheus.url),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = fleet(&reader, "").await;
    assert!(
        later.stale && later.age_seconds.unwrap() >= 1.0,
        "its age grows"
    );
    let page = fleet_page(&reader).await;
    assert!(
        page.contains("cannot reach Prometheus"),
        "the page says what is wrong"
    );

    // Prometheus back: fresh again.
    prometheus.restart();
    let view = until(&reader, "fresh again", |view| {
        !view.stale && view.error.is_none()
    })
    .await;
    assert_eq!(view.hosts.len(), 3);
    drop(gpu_box);
    drop(plain_box);
}

/// What a fixture server answers: a status, a content type and a body, after a delay.
struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: String,
    delay: Duration,
}

/// A tiny HTTP server on a loopback address: each request gets what `reply` makes of the
/// seconds since it started.
async fn fixture_server(ip: &str, reply: fn(f64) -> Reply) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let started = Instant::now();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reply = reply(started.elapsed().as_secs_f64());
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let _ = stream.read(&mut request).await;
                tokio::time::sleep(reply.delay).await;
                let response = format!(
                    "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    reply.status,
                    reply.content_type,
                    reply.body.len(),
                    reply.body
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

/// A Prometheus-format exporter's answer.
fn exposition(body: String) -> Reply {
    Reply {
        status: "200 OK",
        content_type: "text/plain; version=0.0.4",
        body,
        delay: Duration::ZERO,
    }
}

/// node_exporter's names: 4 CPUs 25 % busy, 75 % of 64 GiB used, load 1.5, 1 MB/s read.
fn node_exporter(t: f64) -> String {
    let mut text = String::new();
    for cpu in 0..4 {
        text += &format!(
            "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"idle\"}} {}\nnode_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"user\"}} {}\n",
            1000.0 + 0.75 * t,
            500.0 + 0.25 * t
        );
    }
    text += &format!(
        "node_memory_MemTotal_bytes 68719476736\nnode_memory_MemAvailable_bytes 17179869184\nnode_load1 1.5\n\
         node_disk_read_bytes_total{{device=\"nvme0n1\"}} {}\nnode_disk_written_bytes_total{{device=\"nvme0n1\"}} 0\n\
         node_network_receive_bytes_total{{device=\"eth0\"}} {}\nnode_network_receive_bytes_total{{device=\"lo\"}} {}\n\
         node_network_transmit_bytes_total{{device=\"eth0\"}} 0\n",
        1e9 + 1e6 * t,
        2e6 * t,
        1e9 * t
    );
    text
}

/// dcgm-exporter's names and labels for two GPUs.
fn dcgm_exporter(_: f64) -> String {
    let mut text = String::new();
    for (gpu, util) in [(0, 80), (1, 20)] {
        let labels = format!(
            "gpu=\"{gpu}\",UUID=\"GPU-dcgm-{gpu}\",device=\"nvidia{gpu}\",modelName=\"NVIDIA A100-SXM4-40GB\",Hostname=\"dgx\""
        );
        text += &format!(
            "DCGM_FI_DEV_GPU_UTIL{{{labels}}} {util}\nDCGM_FI_DEV_FB_USED{{{labels}}} 1024\nDCGM_FI_DEV_FB_FREE{{{labels}}} 39936\n\
             DCGM_FI_DEV_GPU_TEMP{{{labels}}} 70\nDCGM_FI_DEV_POWER_USAGE{{{labels}}} 250.5\n"
        );
    }
    text
}

#[tokio::test]
async fn hosts_without_vitals_show_up_from_node_exporter_and_dcgm_exporter() {
    let node_a = fixture_server("127.0.0.5", |t| exposition(node_exporter(t))).await;
    let dcgm_a = fixture_server("127.0.0.5", |t| exposition(dcgm_exporter(t))).await;
    let node_b = fixture_server("127.0.0.6", |t| exposition(node_exporter(t))).await;
    let rules = common::process::scratch_dir("fleet-rules").join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: fleet\n    rules:\n      - alert: HighLoad\n        expr: node_load1{instance=~\"127.0.0.5:.*\"} > 1\n        labels: { severity: warning }\n",
    )
    .unwrap();
    let prometheus = Prometheus::start(
        "fleet-exporters",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n\
             \x20 - job_name: node\n    static_configs:\n      - targets: ['{node_a}']\n        labels: {{ env: lab }}\n      - targets: ['{node_b}']\n\
             \x20 - job_name: dcgm\n    static_configs:\n      - targets: ['{dcgm_a}']\n",
            rules.display()
        ),
    );
    let reader = fleet_reader(&prometheus.url).await;

    let near = |value: Option<f64>, expected: f64| {
        value.is_some_and(|v| (v - expected).abs() < expected * 0.02)
    };
    // A rate is exact once Prometheus holds a whole window of scrapes (5 s here).
    let view = until(&reader, "two hosts at their rates, and the alert", |view| {
        view.hosts.len() == 2
            && view
                .hosts
                .iter()
                .all(|h| near(h.cpu_percent, 25.0) && near(h.disk_read_bytes_per_second, 1e6))
            && view.hosts.iter().any(|h| !h.alerts.is_empty())
    })
    .await;
    let gpu_host = host(&view, "127.0.0.5");
    assert_eq!(
        gpu_host.targets.len(),
        2,
        "node_exporter and dcgm-exporter are one host"
    );
    assert_eq!(gpu_host.state, HostState::Up);
    assert_eq!(gpu_host.labels.get("env").map(String::as_str), Some("lab"));
    assert_eq!(gpu_host.dashboard, None, "no vitals_url label, no link");
    assert!(
        near(gpu_host.cpu_percent, 25.0),
        "{:?}",
        gpu_host.cpu_percent
    );
    assert!(near(gpu_host.memory_percent, 75.0));
    assert_eq!(gpu_host.load1, Some(1.5));
    assert!(near(gpu_host.disk_read_bytes_per_second, 1e6));
    assert!(
        near(gpu_host.network_receive_bytes_per_second, 2e6),
        "lo is left out"
    );
    assert_eq!(gpu_host.gpus.len(), 2);
    assert_eq!(gpu_host.gpus[0].model, "NVIDIA A100-SXM4-40GB");
    assert_eq!(gpu_host.gpus[0].utilization_percent, Some(80.0));
    assert_eq!(gpu_host.gpus[0].memory_total_mib, Some(40960.0));
    assert_eq!(gpu_host.gpus[1].power_watts, Some(250.5));
    assert_eq!(
        gpu_host.gpus[1].power_limit_watts, None,
        "dcgm-exporter's defaults carry no limit"
    );
    assert_eq!(gpu_host.alerts[0].name, "HighLoad");
    assert_eq!(gpu_host.alerts[0].severity, "warning");
    let plain = host(&view, "127.0.0.6");
    assert!(plain.gpus.is_empty(), "node_exporter only: no GPUs");
    assert!(near(plain.cpu_percent, 25.0));

    // Filters and sorts, as the page's links ask.
    let lab = fleet(&reader, "?q=env%3Dlab").await;
    assert_eq!(
        lab.hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>(),
        ["127.0.0.5"]
    );
    let a100 = fleet(&reader, "?q=a100").await;
    assert_eq!(a100.hosts.len(), 1, "a GPU model matches");
    let by_name = fleet(&reader, "?sort=host&order=desc").await;
    assert_eq!(
        by_name
            .hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>(),
        ["127.0.0.6", "127.0.0.5"]
    );
    let by_gpu = fleet(&reader, "?sort=gpu").await;
    assert_eq!(
        by_gpu.hosts[0].name, "127.0.0.5",
        "busiest GPUs first, hosts without last"
    );
    let bad = reqwest::get(reader.url("/api/fleet?sort=colour"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let message: Value = bad.json().await.unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("sort=host|state|cpu"),
        "{message}"
    );
    let long = reqwest::get(reader.url(&format!("/api/fleet?q={}", "x".repeat(300))))
        .await
        .unwrap();
    assert_eq!(long.status(), 400);
}

#[tokio::test]
async fn without_a_prometheus_the_page_says_how_to_turn_it_on() {
    let server = TestServer::start(|_| {}).await;
    let view: FleetView = server.get_json("/api/fleet").await;
    assert!(!view.configured && view.hosts.is_empty());
    let page = reqwest::get(server.url("/fleet")).await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let text = page.text().await.unwrap();
    assert!(text.contains("--fleet-prometheus http://prometheus:9090"));
}

#[tokio::test]
async fn a_slow_failing_or_wrong_prometheus_is_named_with_what_is_wrong() {
    let slow = fixture_server("127.0.0.7", |_| Reply {
        status: "200 OK",
        content_type: "application/json",
        body: r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into(),
        delay: Duration::from_secs(60),
    })
    .await;
    let failing = fixture_server("127.0.0.7", |_| Reply {
        status: "503 Service Unavailable",
        content_type: "application/json",
        body: r#"{"status":"error","errorType":"unavailable","error":"TSDB not ready"}"#.into(),
        delay: Duration::ZERO,
    })
    .await;
    let wrong = fixture_server("127.0.0.7", |_| Reply {
        status: "200 OK",
        content_type: "text/html",
        body: "<html>Grafana</html>".into(),
        delay: Duration::ZERO,
    })
    .await;
    for (prometheus, expected) in [
        (
            failing,
            "answered HTTP 503 Service Unavailable: TSDB not ready",
        ),
        (wrong, "is not Prometheus' HTTP API"),
        (slow, "did not answer within 5 s"),
    ] {
        // Credentials in the address are never shown, whatever the answer.
        let reader = fleet_reader(&format!("http://fleetuser:s3cret@{prometheus}")).await;
        let view = until(&reader, expected, |view| view.error.is_some()).await;
        let error = view.error.unwrap();
        assert!(error.contains(expected), "{error}");
        assert!(
            !error.contains("s3cret") && !error.contains("fleetuser"),
            "{error}"
        );
        assert!(view.stale && view.hosts.is_empty() && view.updated.is_none());
        let page = fleet_page(&reader).await;
        assert!(page.contains("No hosts read yet"), "{page}");
        assert!(!page.contains("s3cret"), "{page}");
    }
}

/// What a hostile or huge Prometheus answers each query with.
#[derive(Clone, Copy)]
enum Flood {
    /// A valid start, then 200 MB of series, whatever is asked.
    Endless,
    /// Every host of a fleet this big, on every instant query (range queries answer nothing).
    Hosts(usize),
}

/// A fake Prometheus on a loopback address answering every request as `flood` says.
async fn flooding_prometheus(flood: Flood) -> SocketAddr {
    const PREFIX: &str = r#"{"status":"success","data":{"resultType":"vector","result":["#;
    let hosts = match flood {
        Flood::Hosts(count) => {
            let rows: Vec<String> = (0..count)
                .map(|i| {
                    format!(
                        r#"{{"metric":{{"fleet_host":"host-{i:05}","instance":"host-{i:05}:3000","job":"vitals"}},"value":[1700000000,"1"]}}"#
                    )
                })
                .collect();
            format!("{PREFIX}{}]}}}}", rows.join(","))
        }
        Flood::Endless => String::new(),
    };
    let hosts: std::sync::Arc<str> = hosts.into();
    let listener = tokio::net::TcpListener::bind("127.0.0.8:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let hosts = hosts.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 8192];
                let read = stream.read(&mut request).await.unwrap_or(0);
                let range = String::from_utf8_lossy(&request[..read]).contains("query_range");
                let head = |length: usize| {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
                    )
                };
                match flood {
                    Flood::Hosts(_) => {
                        let body: &str = if range {
                            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#
                        } else {
                            &hosts
                        };
                        let _ = stream.write_all(head(body.len()).as_bytes()).await;
                        let _ = stream.write_all(body.as_bytes()).await;
                    }
                    Flood::Endless => {
                        const TOTAL: usize = 200_000_000;
                        let row = r#"{"metric":{"fleet_host":"flood","instance":"flood:3000"},"value":[1700000000,"1"]},"#;
                        let chunk = row.repeat(65536 / row.len());
                        let _ = stream.write_all(head(TOTAL).as_bytes()).await;
                        let _ = stream.write_all(PREFIX.as_bytes()).await;
                        let mut sent = PREFIX.len();
                        while sent < TOTAL {
                            if stream.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                            sent += chunk.len();
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_huge_or_hostile_prometheus_bounds_the_servers_memory_and_never_stalls_it() {
    for (flood, expected) in [
        (Flood::Endless, "more than 16 MiB for one refresh"),
        (Flood::Hosts(50_000), "for one refresh of the fleet"),
        (Flood::Hosts(2_500), "1000 of 2500 matching hosts shown"),
    ] {
        let prometheus = flooding_prometheus(flood).await;
        let url = format!("http://{prometheus}");
        let server = std::sync::Arc::new(ServerProcess::start(
            &["--fleet-prometheus", &url, "--fleet-refresh", "1"],
            None,
        ));
        // Four viewers of the fleet, as fast as they are answered.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let viewers: Vec<_> = (0..4)
            .map(|i| {
                let (server, stop) = (server.clone(), stop.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let path = if i % 2 == 0 { "/fleet" } else { "/api/fleet" };
                    let mut last = String::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let answer = http.get(server.url(path)).send().await.unwrap();
                        assert_eq!(answer.status(), 200, "{path}");
                        last = answer.text().await.unwrap();
                    }
                    last
                })
            })
            .collect();
        let http = reqwest::Client::new();
        let mut slowest = Duration::ZERO;
        let until = Instant::now() + Duration::from_secs(8);
        while Instant::now() < until {
            let started = Instant::now();
            let page = http.get(server.url("/")).send().await.unwrap();
            assert_eq!(page.status(), 200);
            page.bytes().await.unwrap();
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut pages = Vec::new();
        for viewer in viewers {
            pages.push(viewer.await.unwrap());
        }
        let peak = server.peak_rss_bytes();
        assert!(
            pages[0].contains(expected),
            "{url}: the page says {:?}",
            &pages[0][..pages[0].len().min(3000)]
        );
        if let Flood::Hosts(2_500) = flood {
            let view: FleetView = serde_json::from_str(&pages[1]).unwrap();
            assert_eq!((view.hosts.len(), view.omitted_hosts), (1000, 1500));
        }
        eprintln!(
            "{expected}: GET / at most {slowest:?}, peak RSS {} MiB",
            peak >> 20
        );
        assert!(
            slowest < Duration::from_secs(1),
            "GET / took {slowest:?} while four clients read the fleet"
        );
        assert!(
            peak < 150 << 20,
            "peak RSS {} MiB against {url} ({expected})",
            peak >> 20
        );
        drop(server);
    }
}

/// Two machines' per-person counters, as each Vitals exports them: alice holds a GPU on both
/// (one of them idle), bob half a GPU on one.
fn person_counters(host: &'static str, t: f64) -> String {
    let mut text = String::new();
    let people: &[(&str, f64, f64, f64)] = match host {
        "a" => &[("alice", 1.0, 0.9, 0.0), ("bob", 0.5, 0.1, 0.0)],
        _ => &[("alice", 1.0, 0.0, 1.0)],
    };
    for (user, held, used, idle) in people {
        let labels = format!("user=\"{user}\",Hostname=\"{host}\"");
        text += &format!(
            "vitals_gpu_user_held_seconds_total{{{labels}}} {}\nvitals_gpu_user_used_seconds_total{{{labels}}} {}\n\
             vitals_gpu_user_idle_held_seconds_total{{{labels}}} {}\nvitals_gpu_user_energy_joules_total{{{labels}}} {}\n",
            1000.0 + held * t,
            used * t,
            idle * t,
            300.0 * held * t
        );
    }
    text
}

#[tokio::test]
async fn the_fleet_page_says_who_uses_the_fleet_from_each_vitals_counters() {
    let a = fixture_server("127.0.0.7", |t| exposition(person_counters("a", t))).await;
    let b = fixture_server("127.0.0.8", |t| exposition(person_counters("b", t))).await;
    let prometheus = Prometheus::start(
        "fleet-users",
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n\
             \x20 - job_name: vitals\n    static_configs:\n      - targets: ['{a}', '{b}']\n"
        ),
    );
    let reader = fleet_reader(&prometheus.url).await;
    let view = until(&reader, "both people, alice on two hosts", |view| {
        view.users.len() == 2 && view.users.iter().any(|u| u.user == "alice" && u.hosts == 2)
    })
    .await;
    // Alice holds a GPU on each host (2 s a second), bob half of one: alice first.
    let (alice, bob) = (&view.users[0], &view.users[1]);
    assert_eq!((alice.user.as_str(), bob.user.as_str()), ("alice", "bob"));
    assert!(alice.gpu_hours_held > bob.gpu_hours_held * 3.0, "{view:?}");
    assert_eq!(bob.hosts, 1);
    assert!(alice.idle_held_hours.is_some_and(|h| h > 0.0));
    assert!(bob.idle_held_hours.is_some_and(|h| h == 0.0));
    assert!(alice.energy_kwh.is_some_and(|k| k > 0.0));
    let page = fleet_page(&reader).await;
    assert!(page.contains("Who uses the fleet"), "{page}");
    assert!(
        page.contains("data-testid=\"fleet-user\" data-name=\"alice\""),
        "{page}"
    );
}
