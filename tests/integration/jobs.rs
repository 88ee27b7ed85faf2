//! Jobs against the real binary with the fake NVML library: a job told by its `start`,
//! `metrics` and `end`, found on the GPU that runs its child process, and one that goes silent
//! reported stalled after its heartbeat.

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use common::fake_nvml::FakeNvml;
use common::server::EMIT_TOKEN;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

async fn emit(server: &ServerProcess, body: Value) -> u16 {
    reqwest::Client::new()
        .post(server.url("/api/internal/ws/emit"))
        .bearer_auth(EMIT_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn job(server: &ServerProcess, channel: &str) -> Value {
    let list: Value = server.get_json("/api/system/jobs").await;
    list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["channel"] == channel)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_job_is_listed_with_its_fields_status_and_gpu_and_a_silent_one_stalls() {
    // A child of this test runs on the fake GPU; the job declares this test's pid.
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let fake = FakeNvml::start(&format!(
        "gpu name=\"Fake H200\" uuid=GPU-job util=90 memutil=10 mem_used=1 mem_total=8 procs={}:1048576:compute\n",
        child.id()
    ));
    let library = fake.library().to_str().unwrap().to_owned();
    let server = ServerProcess::start(&["--nvml-library", library.as_str()], None);
    let me = std::process::id();

    let start = json!({"channel": "jobs/train-1", "event": "start",
                       "data": {"name": "resnet", "command": "python train.py", "pids": [me]}});
    assert_eq!(emit(&server, start).await, 202);
    for step in 1..=3 {
        let metrics = json!({"channel": "jobs/train-1", "event": "metrics",
                             "data": {"step": step, "loss": 1.0 / step as f64}});
        assert_eq!(emit(&server, metrics).await, 202);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = loop {
        let job = job(&server, "jobs/train-1").await;
        if job["gpus"] == json!(["GPU-job"]) || Instant::now() > deadline {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["name"], "resnet");
    assert_eq!(running["fields"], json!({"step": 3.0, "loss": 1.0 / 3.0}));
    assert_eq!(
        running["gpus"],
        json!(["GPU-job"]),
        "found through its child on the GPU"
    );

    let metrics = server.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"vitals_job_info{job="jobs/train-1",name="resnet",status="running"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"vitals_job_field{job="jobs/train-1",field="step"} 3"#));

    let gpus: Value = server.get_json("/api/system/gpus").await;
    assert_eq!(
        gpus["gpus"][0]["named_jobs"],
        json!(["jobs/train-1"]),
        "{gpus}"
    );

    let end = json!({"channel": "jobs/train-1", "event": "end", "data": {"status": "ok"}});
    assert_eq!(emit(&server, end).await, 202);
    let ended = job(&server, "jobs/train-1").await;
    assert_eq!(ended["status"], "ok", "{ended}");
    assert!(ended["ended"].is_string());

    let quiet = json!({"channel": "jobs/quiet", "event": "start", "data": {"name": "eval"},
                       "heartbeat_seconds": 1});
    assert_eq!(emit(&server, quiet).await, 202);
    assert_eq!(job(&server, "jobs/quiet").await["status"], "running");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(job(&server, "jobs/quiet").await["status"], "stalled");

    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn jobs_are_rebuilt_from_the_history_after_a_restart_and_a_flood_is_refused() {
    let dir = std::env::temp_dir().join(format!("vitals-jobs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args = ["--data-dir", dir.to_str().unwrap()];
    let server = ServerProcess::start(&args, None);
    let start = json!({"channel": "jobs/kept", "event": "start", "data": {"name": "sweep"}});
    assert_eq!(emit(&server, start).await, 202);
    let metrics = json!({"channel": "jobs/kept", "event": "metrics", "data": {"loss": 0.25}});
    assert_eq!(emit(&server, metrics.clone()).await, 202);
    // Three hundred messages at once, more than 200 in a second: the rest are refused with 429.
    let url = server.url("/api/internal/ws/emit");
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let (url, body) = (url.clone(), metrics.clone());
        flood.spawn(async move {
            let client = reqwest::Client::new();
            let answer = client.post(url).bearer_auth(EMIT_TOKEN).json(&body).send();
            answer.await.unwrap().status().as_u16()
        });
    }
    let statuses = flood.join_all().await;
    assert!(statuses.contains(&429), "a flood is refused: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 202 || *s == 429));
    // The history saves in batches: give the last one time to land.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.terminate();

    let restarted = ServerProcess::start(&args, None);
    let job = job(&restarted, "jobs/kept").await;
    assert_eq!(job["name"], "sweep", "{job}");
    assert_eq!(job["fields"], json!({"loss": 0.25}));
    restarted.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_jobs_fields_are_read_from_disk_past_the_hubs_ring() {
    let dir = std::env::temp_dir().join(format!("vitals-job-fields-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = ServerProcess::start(&["--data-dir", dir.to_str().unwrap()], None);
    let start = json!({"channel": "jobs/long", "event": "start", "data": {"name": "long"}});
    assert_eq!(emit(&server, start).await, 202);
    let began = chrono::Utc::now().timestamp_millis();
    // More metrics than the hub keeps of one channel (512), within the rate limit.
    const STEPS: usize = 600;
    for step in 0..STEPS {
        let metrics = json!({"channel": "jobs/long", "event": "metrics",
                             "data": {"step": step, "loss": 1.0 / (step + 1) as f64}});
        assert_eq!(emit(&server, metrics).await, 202);
        if step % 150 == 149 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
    }
    // The history saves in batches: give the last one time to land.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fields = |query: String| {
        let url = server.url(&format!("/api/system/jobs/fields?{query}"));
        async move {
            let answer = reqwest::get(url).await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let (status, body) = fields(format!("channel=jobs/long&from={began}&points=5000")).await;
    assert_eq!(status, 200, "{body}");
    let all: Value = serde_json::from_str(&body).unwrap();
    let steps: Vec<f64> = all["fields"]["step"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = (0..STEPS).map(|s| s as f64).collect();
    assert_eq!(
        steps, expected,
        "the oldest from disk, the newest from the ring"
    );
    assert_eq!(all["fields"]["loss"][0][1], 1.0);

    let (_, body) = fields(format!("channel=jobs/long&from={began}&points=20")).await;
    let few: Value = serde_json::from_str(&body).unwrap();
    let drawn = few["fields"]["step"].as_array().unwrap().len();
    assert!(
        (1..=20).contains(&drawn),
        "averaged into at most 20 points: {few}"
    );

    let (_, body) = fields("channel=jobs/long&from=1000&to=2000".into()).await;
    let before: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        before["fields"],
        json!({"loss": [], "step": []}),
        "a span without metrics still names the fields"
    );

    let (status, body) = fields("channel=jobs/nobody".into()).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no job 'jobs/nobody'"), "{body}");
    let (status, body) = fields("channel=system/cpu".into()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = fields("channel=jobs/long&from=yesterday".into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("from='yesterday'"), "{body}");
    server.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_box_that_gives_each_run_a_channel_takes_its_301st_run_before_and_after_a_restart() {
    let dir = common::process::scratch_dir("jobs-many");
    let data_dir = dir.to_str().unwrap().to_owned();
    let server = ServerProcess::start(&["--data-dir", &data_dir], None);
    for run in 0..300 {
        let channel = format!("jobs/run-{run}");
        for (event, data) in [
            ("start", json!({"name": format!("run {run}")})),
            ("end", json!({"status": "ok"})),
        ] {
            let body = json!({"channel": channel, "event": event, "data": data});
            assert_eq!(emit(&server, body).await, 202, "{channel} {event}");
        }
    }
    let next = json!({"channel": "jobs/run-300", "event": "start", "data": {"name": "run 300"}});
    assert_eq!(emit(&server, next).await, 202, "the 301st run is taken");
    assert_eq!(job(&server, "jobs/run-300").await["status"], "running");
    assert_eq!(
        job(&server, "jobs/run-0").await,
        Value::Null,
        "the oldest made room"
    );
    // A clean stop writes what is queued; the next start restores the last hour's events.
    server.terminate();

    let server = ServerProcess::start(&["--data-dir", &data_dir], None);
    assert_eq!(job(&server, "jobs/run-300").await["status"], "running");
    let after = json!({"channel": "jobs/after-restart", "event": "start", "data": {}});
    assert_eq!(emit(&server, after).await, 202, "taken after a restart too");
    let list: Value = server.get_json("/api/system/jobs").await;
    let jobs = list["jobs"].as_array().unwrap();
    assert!(jobs.len() <= 256, "{} jobs kept", jobs.len());
    assert!(jobs.iter().any(|j| j["channel"] == "jobs/after-restart"));
    assert!(jobs.iter().any(|j| j["channel"] == "jobs/run-299"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_job_cannot_claim_another_users_process_for_its_gpus() {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root, to run processes as another user");
        return;
    }
    const NOBODY: u32 = 65534;
    let mut theirs = Command::new("sleep").arg("30").spawn().unwrap();
    let mut mine = Command::new("sleep")
        .arg("30")
        .uid(NOBODY)
        .gid(NOBODY)
        .spawn()
        .unwrap();
    let fake = FakeNvml::start(&format!(
        "gpu name=\"Fake H200\" uuid=GPU-theirs util=90 memutil=10 mem_used=1 mem_total=8 procs={}:1048576:compute\n\
         gpu name=\"Fake H200\" uuid=GPU-mine util=90 memutil=10 mem_used=1 mem_total=8 procs={}:1048576:compute\n",
        theirs.id(),
        mine.id()
    ));
    let library = fake.library().to_str().unwrap().to_owned();
    let server = ServerProcess::start(&["--nvml-library", library.as_str()], None);
    // The user nobody names both processes: its own, and root's.
    let pids = format!("pids={},{}", theirs.id(), mine.id());
    let sent = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["--emit-token", EMIT_TOKEN, "emit", "--server"])
        .arg(server.addr.to_string())
        .args(["jobs/claim", "start", &pids])
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert!(sent.status.success(), "{sent:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let claimed = loop {
        let claimed = job(&server, "jobs/claim").await;
        if claimed["gpus"].as_array().is_some_and(|g| !g.is_empty()) || Instant::now() > deadline {
            break claimed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        claimed["unverified_pids"],
        json!([theirs.id()]),
        "{claimed}"
    );
    assert_eq!(claimed["gpus"], json!(["GPU-mine"]), "{claimed}");
    // Root names any process.
    let start = json!({"channel": "jobs/root", "event": "start", "data": {"pids": [mine.id()]}});
    assert_eq!(emit(&server, start).await, 202);
    assert_eq!(job(&server, "jobs/root").await.get("unverified_pids"), None);
    let _ = theirs.kill();
    let _ = mine.kill();
    let _ = (theirs.wait(), mine.wait());
    drop(fake);
}
