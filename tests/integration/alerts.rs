//! Alerts against a running server on the fake NVML library: a GPU heats up, its alert goes
//! pending then firing, and resolves when it cools, and a real local webhook is told (with a
//! retry when it first fails); a bad rule stops start-up with its name.

use crate::common;

use common::http::Get;

use axum::http::StatusCode;
use common::fake_nvml::FakeNvml;
use common::server::TestServer;
use common::webhook::receiver;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vitals::server::config::{Cli, Config};

fn gpu(temperature: u32) -> String {
    format!(
        "gpu name=\"Fake H100\" uuid=GPU-hot temp={temperature} util=10 memutil=1 mem_used=1 mem_total=8\n"
    )
}

/// The host's own rules, off: what the machine running the tests is doing is not theirs to judge.
const HOST_RULES_OFF: &str = r#"disable = ["cpu", "memory", "swap_growing", "filesystem"]"#;

/// A config file of its own for one test.
fn config_file(name: &str, text: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("vitals-alerts-{name}-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn alerts(server: &TestServer) -> Value {
    server.get_json("/api/system/alerts").await
}

/// Polls the alert list until `done` holds (or ten seconds pass) and returns it.
async fn wait_for(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = alerts(server).await;
        if done(&list) || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_gpu_that_heats_up_alerts_pending_then_firing_and_resolves_when_it_cools() {
    let fake = FakeNvml::start(&gpu(60));
    let (hook, received) = receiver(true).await;
    // The default rule, waiting two seconds instead of a minute; changes go to the webhook.
    let config = config_file(
        "hot",
        &format!(
            "[alerts]\n{HOST_RULES_OFF}\n[[alerts.rules]]\nname = \"gpu_temperature\"\nseries = \"gpu/*/temperature\"\n\
             warning = 85\ncritical = 90\nfor_seconds = 2\nhysteresis = 3\n\
             [[alerts.webhooks]]\nurl = \"http://{hook}/hook\"\n"
        ),
    );
    let library = fake.library().to_path_buf();
    let config_path = config.clone();
    let server = TestServer::start(move |cli| {
        cli.nvml_library = Some(library);
        cli.config = Some(config_path);
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(alerts(&server).await["active"], serde_json::json!([]));

    fake.write(&gpu(92));
    let pending = wait_for(&server, |l| l["active"][0]["state"] == "pending").await;
    let alert = &pending["active"][0];
    assert_eq!(alert["state"], "pending", "{pending}");
    assert_eq!(alert["rule"], "gpu_temperature");
    assert_eq!(alert["instance"], "GPU-hot");
    assert_eq!(alert["series"], "gpu/GPU-hot/temperature");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["value"], 92.0);
    let firing = wait_for(&server, |l| l["active"][0]["state"] == "firing").await;
    assert_eq!(firing["active"][0]["state"], "firing", "{firing}");

    // 84 °C is inside the hysteresis of the warning threshold: still on, as a warning.
    fake.write(&gpu(84));
    let warning = wait_for(&server, |l| l["active"][0]["severity"] == "warning").await;
    assert_eq!(warning["active"][0]["state"], "firing", "{warning}");

    fake.write(&gpu(60));
    let resolved = wait_for(&server, |l| l["active"] == serde_json::json!([])).await;
    assert_eq!(resolved["recent"][0]["state"], "resolved", "{resolved}");

    // The channel carried every change, in order.
    let channel: Value = server
        .get_json("/api/system/history?channel=system/alerts")
        .await;
    let changes: Vec<(String, String)> = channel["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let data = &m["data"];
            (
                data["state"].as_str().unwrap().to_owned(),
                data["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("pending", "critical"),
        ("firing", "critical"),
        ("firing", "warning"),
        ("resolved", "warning"),
    ]
    .map(|(s, v)| (s.to_owned(), v.to_owned()));
    assert_eq!(changes, expected);

    // The webhook was told of the firing (after a first try it answered with 500), the change of
    // severity and the resolve, not of the pending.
    let deadline = Instant::now() + Duration::from_secs(15);
    while received.lock().unwrap().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let told: Vec<(String, String)> = received
        .lock()
        .unwrap()
        .iter()
        .map(|body| {
            assert!(body["host"].is_string());
            let alert = &body["alert"];
            (
                alert["state"].as_str().unwrap().to_owned(),
                alert["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(told, expected[1..].to_vec());
    let status = &alerts(&server).await["webhooks"][0];
    assert_eq!(status["delivered"], 3, "{status}");
    assert_eq!(status["failed_attempts"], 1);
    assert_eq!(status["last_error"], "answered 500 Internal Server Error");
    assert_eq!(status["url"], format!("http://{}", hook.ip()));
    drop(fake);
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_bad_rule_stops_start_up_with_its_name_and_what_is_wrong() {
    let config = config_file(
        "bad",
        "[[alerts.rules]]\nname = \"disk_hot\"\nseries = \"disk.read\"\nwarning = 5\ncritical = 1\n",
    );
    let cli = Cli {
        config: Some(config.clone()),
        ..Default::default()
    };
    let error = Config::resolve(cli, "127.0.0.1:3000".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "alert rule 'disk_hot': critical (1) must be past warning (5) in the rule's direction"
    );
    let _ = std::fs::remove_file(config);
}

#[tokio::test]
async fn a_channel_silent_past_its_heartbeat_alerts_until_it_speaks_again() {
    let config = config_file("heartbeat", &format!("[alerts]\n{HOST_RULES_OFF}\n"));
    let config_path = config.clone();
    let server = TestServer::start(move |cli| cli.config = Some(config_path)).await;
    let http = reqwest::Client::new();
    let emit = |heartbeat: Option<u64>| {
        let mut body =
            serde_json::json!({"channel": "jobs/train", "event": "step", "data": {"step": 1}});
        if let Some(seconds) = heartbeat {
            body["heartbeat_seconds"] = seconds.into();
        }
        http.post(server.url("/api/internal/ws/emit"))
            .bearer_auth(common::server::EMIT_TOKEN)
            .json(&body)
            .send()
    };
    assert_eq!(emit(Some(1)).await.unwrap().status(), 202);
    let silent = wait_for(&server, |l| l["active"][0]["rule"] == "heartbeat").await;
    let alert = &silent["active"][0];
    assert_eq!(alert["rule"], "heartbeat", "{silent}");
    assert_eq!(alert["instance"], "jobs/train");
    assert_eq!(alert["state"], "firing");
    assert_eq!(emit(None).await.unwrap().status(), 202);
    let spoke = wait_for(&server, |l| l["active"] == serde_json::json!([])).await;
    assert_eq!(spoke["recent"][0]["state"], "resolved", "{spoke}");
    let bad = emit(Some(0)).await.unwrap();
    assert_eq!(bad.status(), 422);
    let _ = std::fs::remove_file(config);
}

#[tokio::test]
async fn webhook_failures_show_no_secret_and_redirects_are_not_followed() {
    // One webhook on a port nothing listens on, its secret in the path; one that answers 307 to
    // a second receiver, which must never be posted to.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let stolen: Arc<AtomicUsize> = Arc::default();
    let counted = stolen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirecting = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, "/stolen")],
                )
            }),
        )
        .route(
            "/stolen",
            axum::routing::post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::OK }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = config_file(
        "secrets",
        &format!(
            "[alerts]\n{HOST_RULES_OFF}\n\
             [[alerts.webhooks]]\nurl = \"http://{dead}/services/T0/B0/s3cret-path\"\n\
             [[alerts.webhooks]]\nurl = \"http://{redirecting}/hook\"\n"
        ),
    );
    let config_path = config.clone();
    let server = TestServer::start(move |cli| cli.config = Some(config_path)).await;
    let emitted = reqwest::Client::new()
        .post(server.url("/api/internal/ws/emit"))
        .bearer_auth(common::server::EMIT_TOKEN)
        .json(
            &serde_json::json!({"channel": "jobs/quiet", "event": "step", "data": {},
                                  "heartbeat_seconds": 1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(emitted.status(), 202);
    let list = wait_for(&server, |l| {
        l["webhooks"][0]["last_error"].is_string() && l["webhooks"][1]["last_error"].is_string()
    })
    .await;
    let text = list["webhooks"].to_string();
    assert!(!text.contains("s3cret"), "{text}");
    let dead_error = list["webhooks"][0]["last_error"].as_str().unwrap();
    assert!(dead_error.starts_with("cannot connect"), "{dead_error}");
    let redirect_error = list["webhooks"][1]["last_error"].as_str().unwrap();
    assert!(
        redirect_error.contains("307") && redirect_error.contains("redirects are not followed"),
        "{redirect_error}"
    );
    assert_eq!(
        stolen.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    let _ = std::fs::remove_file(config);
}
