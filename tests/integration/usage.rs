//! GPU usage, end to end: a GPU held but idle is marked, alerted (page, webhook, `/metrics`) and
//! resolved when it works again; a scripted day through the fake NVML library (two users, an idle
//! holder, a job) is booked into the history database and read back, after a restart, by the API,
//! its CSV and the Usage page.

use crate::common;

use common::cgroups::{self, sleeper, sleeper_as};
use common::fake_nvml::FakeNvml;
use common::http::Get;
use common::server::TestServer;
use common::webhook::receiver;
use serde_json::{Value, json};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vitals::server::collect::gpu::{GpuOptions, NvmlSource};
use vitals::server::collect::owners::{OwnerSettings, Owners};
use vitals::server::collect::{GpuSource, Snapshot};
use vitals::server::history::{Durable, Retention};
use vitals::server::jobs::book::JobBook;
use vitals::server::pipeline::sampler::name_jobs;
use vitals::server::usage::Usage;

async fn until(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer: Value = server.get_json(path).await;
        if done(&answer) || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn idle_gpu(utilization: u32) -> String {
    let me = std::process::id();
    format!(
        "gpu name=\"Fake H100\" uuid=GPU-idle util={utilization} memutil=0 mem_used=4294967296 \
         mem_total=85899345920 power_mw=60000 procs={me}:4294967296:compute\n"
    )
}

#[tokio::test]
async fn an_idle_held_gpu_is_marked_alerted_told_and_resolved_when_it_works() {
    let fake = FakeNvml::start(&idle_gpu(0));
    let (hook, received) = receiver(false).await;
    let config = std::env::temp_dir().join(format!("vitals-idle-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "[alerts]\ndisable = [\"cpu\", \"memory\", \"swap_growing\", \"filesystem\"]\n\
             [[alerts.webhooks]]\nurl = \"http://{hook}/hook\"\n"
        ),
    )
    .unwrap();
    let library = fake.library().to_path_buf();
    let path = config.clone();
    let server = TestServer::start(move |cli| {
        cli.nvml_library = Some(library);
        cli.config = Some(path);
        cli.idle_held_after = Some(1);
    })
    .await;

    let gpus = until(&server, "/api/system/gpus", |l| {
        l["gpus"][0]["occupancy"] == "idle_held"
    })
    .await;
    assert_eq!(gpus["gpus"][0]["occupancy"], "idle_held", "{gpus}");
    let firing = until(&server, "/api/system/alerts", |l| {
        l["active"][0]["state"] == "firing"
    })
    .await;
    let alert = &firing["active"][0];
    assert_eq!(alert["rule"], "gpu_idle_held", "{firing}");
    assert_eq!(alert["severity"], "warning");
    assert_eq!(alert["instance"], "GPU-idle");
    let detail = alert["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("idle · held by root ("), "{detail}");

    // The GPU's channel says who holds it and since when; /metrics says it too.
    let channel: Value = server
        .get_json("/api/system/history?channel=system/gpu/0")
        .await;
    let last = &channel["messages"].as_array().unwrap().last().unwrap()["data"];
    assert!(
        last["idle_held"]["held_by"]
            .as_str()
            .unwrap()
            .starts_with("root (")
    );
    assert!(last["idle_held"]["since"].is_string());
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = metrics
        .lines()
        .find(|l| l.starts_with("vitals_gpu_idle_held{"))
        .unwrap_or_default();
    let value: f64 = gauge.rsplit(' ').next().unwrap_or("0").parse().unwrap();
    assert!(
        gauge.contains("held_by=\"root (") && value == 1.0,
        "{gauge}"
    );
    let counter = metrics
        .lines()
        .find(|l| l.starts_with("vitals_gpu_user_idle_held_seconds_total{user=\"root\""))
        .unwrap_or_default();
    let seconds: f64 = counter.rsplit(' ').next().unwrap_or("0").parse().unwrap();
    assert!(seconds > 0.0, "{counter}");

    // It works again: the alert resolves and the webhook hears of both.
    fake.write(&idle_gpu(60));
    let resolved = until(&server, "/api/system/alerts", |l| l["active"] == json!([])).await;
    assert_eq!(resolved["recent"][0]["state"], "resolved", "{resolved}");
    let gpus: Value = server.get_json("/api/system/gpus").await;
    assert_eq!(gpus["gpus"][0]["occupancy"], "busy");
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let told: Vec<(String, String)> = received
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            let alert = &b["alert"];
            (
                alert["state"].as_str().unwrap().to_owned(),
                alert["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[0].0, "firing");
    assert!(told[0].1.starts_with("idle · held by root ("), "{told:?}");
    assert_eq!(told[1].0, "resolved");
    std::fs::remove_file(config).ok();
}

/// GPU 0: root's process trains for 8 h (90 %, no per-process samples, 300 W), then nobody's
/// for 6 h (50 % in its own samples, 200 W). GPU 1: nobody's notebook holds 4 GiB and does
/// nothing from hour 2 to hour 10 (60 W). Root's process is the job `jobs/train`.
fn day_script(hour: u64, root: u32, trainer: u32, notebook: u32) -> String {
    let gib = 1u64 << 30;
    let gpu0 = if hour < 8 {
        // The driver reports samples, none of them the trainer's (an absent key would read as
        // "not supported", which the collector then stops asking).
        format!(
            "util=90 power_mw=300000 procs={root}:{}:compute putil=1:0:0:0:0",
            40 * gib
        )
    } else if hour < 14 {
        format!(
            "util=50 power_mw=200000 procs={trainer}:{}:compute putil={trainer}:50:10:0:0",
            20 * gib
        )
    } else {
        "util=0 power_mw=50000".to_owned()
    };
    let gpu1 = if (2..10).contains(&hour) {
        format!("util=0 power_mw=60000 procs={notebook}:{}:compute", 4 * gib)
    } else {
        "util=0 power_mw=40000".to_owned()
    };
    format!(
        "gpu uuid=GPU-day0 memutil=0 mem_used=1 mem_total=85899345920 {gpu0}\n\
         gpu uuid=GPU-day1 memutil=0 mem_used=1 mem_total=85899345920 {gpu1}\n"
    )
}

fn within_a_percent(row: &Value, field: &str, expected: f64) {
    let got = row[field].as_f64().unwrap_or(f64::NAN);
    assert!(
        (got - expected).abs() <= expected * 0.01,
        "{field}: {got} for {expected} in {row}"
    );
}

fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {report}"))
}

#[tokio::test]
async fn a_scripted_day_is_booked_and_survives_a_restart() {
    if !cgroups::available() {
        return;
    }
    let mut children: Vec<Child> = vec![
        sleeper().spawn().unwrap(),
        sleeper_as(65_534).spawn().unwrap(),
        sleeper_as(65_534).spawn().unwrap(),
    ];
    let [root, trainer, notebook] = [0, 1, 2].map(|i| children[i].id());
    let dir = common::process::scratch_dir("usage-day");
    let fake = FakeNvml::start(&day_script(0, root, trainer, notebook));
    let mut source = NvmlSource::new(GpuOptions {
        library_path: Some(fake.library().to_path_buf()),
        ..Default::default()
    })
    .with_owners(Arc::new(Owners::new(&OwnerSettings {
        container_sockets: Vec::new(),
    })));

    // Yesterday, on the hour, in ticks of 10 s.
    let tick = 10;
    let now = chrono::Utc::now();
    let start = chrono::DateTime::from_timestamp((now.timestamp() / 3600 - 48) * 3600, 0).unwrap();
    let durable = Durable::start(Some(&dir), Retention::default());
    let recorder = durable.recorder.clone().expect("the database opens");
    let usage = Usage::new(Default::default(), Duration::from_secs(tick));
    let jobs = JobBook::default();
    jobs.record(
        "jobs/train",
        "start",
        &json!({ "pids": [root] }),
        start,
        None,
    );
    let mut hour_written = 0;
    for i in 0..(86_400 / tick) {
        let hour = i * tick / 3600;
        if hour != hour_written {
            fake.write(&day_script(hour, root, trainer, notebook));
            hour_written = hour;
            if hour == 8 {
                // A slow answer of the per-process samples stands in for 4 s of real time, and
                // this day goes by in seconds: wait it out where the samples change.
                std::thread::sleep(Duration::from_millis(4_200));
            }
        }
        let (gpu_status, gpus) = source.sample();
        let mut snapshot = Snapshot {
            timestamp: start + chrono::TimeDelta::seconds((i * tick) as i64),
            gpus,
            gpu_status,
            ..Default::default()
        };
        name_jobs(&mut snapshot, &jobs);
        usage.observe(&mut snapshot, Some(&recorder));
    }
    usage.flush(Some(&recorder));
    drop(recorder);
    durable.stop();
    drop(durable);
    drop(source);
    drop(fake);
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    // Restarted on the same data directory: the day is read back.
    let data_dir = dir.clone();
    let server = TestServer::start(move |cli| {
        cli.no_persist = false;
        cli.data_dir = Some(data_dir);
    })
    .await;
    let from = start.to_rfc3339();
    let to = (start + chrono::TimeDelta::days(1)).to_rfc3339();
    let ask =
        |by: &str| format!("/api/system/usage?from={from}&to={to}&by={by}").replace('+', "%2B");
    let people: Value = server.get_json(&ask("user")).await;
    assert_eq!(people["resolution"], "minute", "{people}");
    let names: Vec<&str> = people["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nobody", "root"], "biggest holder first");
    let (nobody, root_row) = (row(&people, "nobody"), row(&people, "root"));
    within_a_percent(root_row, "gpu_hours_held", 8.0);
    within_a_percent(root_row, "gpu_hours_used", 7.2);
    within_a_percent(root_row, "energy_wh", 2400.0);
    within_a_percent(root_row, "memory_gib_hours", 320.0);
    assert_eq!(root_row["idle_held_hours"], 0.0);
    assert_eq!(
        root_row["used_from_samples_percent"], 0.0,
        "split by memory"
    );
    assert_eq!(root_row["top_jobs"], json!(["jobs/train"]));
    within_a_percent(nobody, "gpu_hours_held", 14.0);
    within_a_percent(nobody, "gpu_hours_used", 3.0);
    within_a_percent(nobody, "energy_wh", 1680.0);
    within_a_percent(nobody, "idle_held_hours", 7.75);
    within_a_percent(nobody, "used_from_samples_percent", 100.0);
    let jobs: Value = server.get_json(&ask("job")).await;
    within_a_percent(row(&jobs, "jobs/train"), "gpu_hours_held", 8.0);
    let gpus: Value = server.get_json(&ask("gpu")).await;
    within_a_percent(row(&gpus, "GPU-day0"), "gpu_hours_held", 14.0);
    within_a_percent(row(&gpus, "GPU-day1"), "idle_held_hours", 7.75);

    let csv = reqwest::get(server.url(&format!("{}&format=csv", ask("user"))))
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("name,gpu_hours_held,gpu_hours_used,"));
    assert!(
        lines[1].starts_with("nobody,") && lines[2].starts_with("root,"),
        "{text}"
    );

    // The page over the last week has both, with links back to the dashboard at their times.
    let page = reqwest::get(server.url("/usage?range=7d")).await.unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("data-name=\"root\"") && html.contains("data-name=\"nobody\""));
    assert!(
        html.contains(&format!("/?from={}&amp;to=", start.timestamp_millis())),
        "{html}"
    );
    // A day ago it was empty.
    let empty: Value = server.get_json("/api/system/usage?range=24h").await;
    assert_eq!(empty["rows"], json!([]));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn bad_usage_questions_are_answered_with_what_works() {
    let server = TestServer::start(|_| {}).await;
    for (query, words) in [
        ("by=team", "unknown variant"),
        ("format=xml", "use json or csv"),
        ("range=3d", "use 24h, 7d or 30d"),
        ("from=yesterday", "ISO-8601"),
        (
            "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "must be after",
        ),
        ("color=red", "unknown field"),
    ] {
        let answer = reqwest::get(server.url(&format!("/api/system/usage?{query}")))
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{query}");
        let body: Value = answer.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(words), "{query}: {error}");
    }
    // History in memory only: said plainly, on the API and the page.
    let answer = reqwest::get(server.url("/api/system/usage")).await.unwrap();
    assert_eq!(answer.status(), 503);
    let page = reqwest::get(server.url("/usage"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"usage-problem\"") && page.contains("--no-persist"));
}
