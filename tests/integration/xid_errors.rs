//! XID errors injected through the fake NVML, end to end on the server: they reach the GPU's
//! readings, its channel as an `xid` event, `/metrics` under dcgm-exporter's name, the default
//! alert rule, and the history on disk, which gives them back after a restart.

use crate::common;

use common::http::Get;

use common::binary::ServerProcess;
use common::fake_nvml::FakeNvml;
use common::server::TestServer;
use common::ws::{next, subscribe};
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio_tungstenite::connect_async;
use vitals::wire::ServerMessage;

const GPU: &str = "gpu name=\"Fake H200\" uuid=GPU-xid util=5 memutil=1 mem_used=1 mem_total=8\n";

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// GPU 0's latest reading, from `/api/system/metrics`.
async fn gpu(url: String) -> Value {
    let metrics = get_json(url).await;
    metrics["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["channel"] == "system/gpu/0" && e["event"] == "metrics")
        .map(|e| e["data"].clone())
        .unwrap_or(Value::Null)
}

/// Polls `read` until `done` holds of its answer, or fifteen seconds pass.
async fn wait_for<F: Future<Output = Value>>(
    read: impl Fn() -> F,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let value = read().await;
        if done(&value) || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_injected_xid_reaches_the_reading_the_channel_metrics_and_alerts() {
    let fake = FakeNvml::start(GPU);
    let library = fake.library().to_path_buf();
    let server = TestServer::start(move |cli| cli.nvml_library = Some(library)).await;
    let metrics_url = || gpu(server.url("/api/system/metrics"));
    let watched = wait_for(metrics_url, |g| g["xid_count"] == 0).await;
    assert_eq!(
        watched["xid_count"], 0,
        "the event thread watches: {watched}"
    );

    let (mut socket, _) = connect_async(server.ws_url()).await.expect("socket opens");
    subscribe(&mut socket, &["system/gpu/*"]).await;

    fake.write(&format!("{GPU}xid 0 79\n"));
    // On the socket: the event itself, then readings that carry it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut event, mut carried) = (None, None);
    while (event.is_none() || carried.is_none()) && Instant::now() < deadline {
        if let ServerMessage::Message(envelope) = next(&mut socket).await {
            match envelope.event.as_str() {
                "xid" => event = Some(envelope.data),
                "metrics" if envelope.data["xid_count"] == 1 => carried = Some(envelope.data),
                _ => {}
            }
        }
    }
    let event = event.expect("an xid event on the GPU's channel");
    assert_eq!(
        (event["gpu_index"].clone(), event["code"].clone()),
        (0.into(), 79.into())
    );
    let carried = carried.expect("a reading with the error");
    assert_eq!(carried["xid_errors"][0]["code"], 79);

    let reading = wait_for(metrics_url, |g| g["xid_count"] == 1).await;
    assert_eq!(reading["xid_count"], 1, "{reading}");
    assert_eq!(reading["xid_errors"][0]["code"], 79);
    assert_eq!(
        reading["xid_errors"][0]["meaning"],
        "GPU has fallen off the bus"
    );

    let history = get_json(server.url("/api/system/history?channel=system/gpu/0")).await;
    let xids: Vec<&Value> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["event"] == "xid")
        .collect();
    assert_eq!(xids.len(), 1, "one event on the channel: {history}");
    assert_eq!(xids[0]["data"]["gpu_uuid"], "GPU-xid");
    assert_eq!(xids[0]["data"]["code"], 79);
    let latest = gpu(server.url("/api/system/metrics")).await;
    assert!(
        latest["name"] == "Fake H200",
        "the event does not displace the reading: {latest}"
    );

    let text = server.get_text("/metrics").await;
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(r#"UUID="GPU-xid""#))
            .map(str::to_owned)
    };
    assert!(
        line("DCGM_FI_DEV_XID_ERRORS{").is_some_and(|l| l.ends_with(" 79.0")),
        "{text}"
    );
    assert!(
        line("vitals_gpu_xid_errors_total{").is_some_and(|l| l.ends_with(" 1.0")),
        "{text}"
    );

    let alerts = wait_for(
        || get_json(server.url("/api/system/alerts")),
        |list| {
            list["active"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["rule"] == "gpu_xid"))
        },
    )
    .await;
    let alert = alerts["active"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "gpu_xid")
        .unwrap_or_else(|| panic!("the gpu_xid rule fires: {alerts}"));
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["severity"], "warning");
}

#[tokio::test]
async fn xid_errors_are_kept_with_the_history_across_a_restart() {
    let fake = FakeNvml::start(GPU);
    let dir = std::env::temp_dir().join(format!("vitals-xid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let library = fake.library().to_str().unwrap().to_owned();
    let args = [
        "--nvml-library",
        library.as_str(),
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    let server = ServerProcess::start(&args, None);
    let metrics_url = || gpu(server.url("/api/system/metrics"));
    wait_for(metrics_url, |g| g["xid_count"] == 0).await;
    fake.write(&format!("{GPU}xid 0 48\n"));
    let reading = wait_for(metrics_url, |g| g["xid_count"] == 1).await;
    assert_eq!(reading["xid_errors"][0]["code"], 48, "{reading}");
    // The history saves in batches: give the last one time to land.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.terminate();

    // A fresh process of the fake would deliver the line again: it is gone from the script.
    fake.write(GPU);
    let restarted = ServerProcess::start(&args, None);
    let reading = wait_for(
        || gpu(restarted.url("/api/system/metrics")),
        |g| g["xid_count"] == 1,
    )
    .await;
    assert_eq!(reading["xid_count"], 1, "{reading}");
    assert_eq!(reading["xid_errors"][0]["code"], 48);
    assert_eq!(reading["xid_errors"][0]["meaning"], "Double-bit ECC error");
    restarted.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}
