//! The streaming server end to end: a real server on a loopback port, real WebSocket and HTTP clients.

use crate::common;

use common::http::Get;

use common::server::{EMIT_TOKEN, TestServer};
use common::ws::{Socket, next, send, subscribe};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use vitals::wire::{ClientMessage, Envelope, Hello, ServerMessage};

async fn connect(server: &TestServer) -> (Socket, Hello) {
    let (mut socket, _) = connect_async(server.ws_url()).await.expect("socket opens");
    match next(&mut socket).await {
        ServerMessage::Hello(hello) => (socket, hello),
        other => panic!("expected hello first, got {other:?}"),
    }
}

async fn next_envelope(socket: &mut Socket) -> Envelope {
    loop {
        if let ServerMessage::Message(envelope) = next(socket).await {
            return envelope;
        }
    }
}

fn emit_request(server: &TestServer, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(server.url("/api/internal/ws/emit"))
        .bearer_auth(EMIT_TOKEN)
        .json(body)
}

#[tokio::test]
async fn subscribed_channels_arrive_at_the_interval_with_valid_envelopes() {
    let server = TestServer::start(|_| {}).await;
    let (mut socket, hello) = connect(&server).await;
    assert_eq!(hello.interval_seconds, 0.25);
    assert!(hello.channels.contains(&"system/cpu".to_owned()));
    assert!(matches!(
        hello.gpu_status,
        vitals::wire::GpuStatus::Unavailable { .. }
    ));
    subscribe(&mut socket, &["system/cpu", "system/memory"]).await;

    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 12 {
        let envelope = next_envelope(&mut socket).await;
        assert!(
            ["system/cpu", "system/memory"].contains(&envelope.channel.as_str()),
            "{}",
            envelope.channel
        );
        assert_eq!(envelope.event, "metrics");
        let age = chrono::Utc::now() - envelope.timestamp;
        assert!(age.num_seconds().abs() < 5, "timestamps are current UTC");
        seen.push(envelope);
    }
    let cpu_seqs: Vec<u64> = seen
        .iter()
        .filter(|e| e.channel == "system/cpu")
        .map(|e| e.seq)
        .collect();
    assert!(
        cpu_seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "seq increases by one: {cpu_seqs:?}"
    );
    // ~5 ticks of 0.25 s (the first message is the latest value, sent on subscribe).
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let cpu: vitals::wire::CpuMetrics = serde_json::from_value(seen[0].data.clone())
        .unwrap_or_else(|_| serde_json::from_value(seen[1].data.clone()).expect("cpu data parses"));
    assert!(cpu.core_count > 0);
}

#[tokio::test]
async fn bad_client_messages_get_errors_and_the_socket_survives() {
    let server = TestServer::start(|_| {}).await;
    let (mut socket, _) = connect(&server).await;
    for bad in [
        "not json",
        r#"{"type":"dance"}"#,
        r#"{"type":"subscribe","chanels":["system/cpu"]}"#,
        r#"{"type":"subscribe","channels":["BAD NAME"]}"#,
    ] {
        socket.send(Message::Text(bad.into())).await.unwrap();
        match next(&mut socket).await {
            ServerMessage::Error { message } => assert!(!message.is_empty()),
            other => panic!("expected an error for {bad}, got {other:?}"),
        }
    }
    socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut socket).await,
        ServerMessage::Error { .. }
    ));
    // Still works, and the refused subscription changed nothing.
    subscribe(&mut socket, &["system/network"]).await;
    assert_eq!(next_envelope(&mut socket).await.channel, "system/network");
}

#[tokio::test]
async fn oversized_inbound_messages_close_only_that_socket() {
    let server = TestServer::start(|_| {}).await;
    let (mut big, _) = connect(&server).await;
    let (mut other, _) = connect(&server).await;
    let huge = format!(
        r#"{{"type":"subscribe","channels":["{}"]}}"#,
        "a".repeat(70 * 1024)
    );
    let _ = big.send(Message::Text(huge.into())).await;
    let closed = timeout(Duration::from_secs(5), async {
        loop {
            match big.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                _ => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "a message over 64 KiB ends that socket");
    subscribe(&mut other, &["system/cpu"]).await;
    assert_eq!(next_envelope(&mut other).await.channel, "system/cpu");
}

#[tokio::test]
async fn emit_reaches_subscribers_and_every_refusal_has_its_status() {
    let server = TestServer::start(|_| {}).await;
    let (mut socket, _) = connect(&server).await;
    subscribe(&mut socket, &["jobs/*"]).await;

    let response = emit_request(
        &server,
        &json!({"channel":"jobs/train-1","event":"step","data":{"loss":0.5}}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"delivered": 1, "seq": 1}));
    let envelope = next_envelope(&mut socket).await;
    assert_eq!(
        (envelope.channel.as_str(), envelope.event.as_str()),
        ("jobs/train-1", "step")
    );
    assert_eq!(envelope.data, json!({"loss": 0.5}));

    let client = reqwest::Client::new();
    let url = server.url("/api/internal/ws/emit");
    let good = json!({"channel":"jobs/a","event":"e","data":1});
    let cases: Vec<(u16, reqwest::RequestBuilder)> = vec![
        (401, client.post(&url).json(&good)),
        (
            401,
            client
                .post(&url)
                .bearer_auth("wrong-token-wrong-token")
                .json(&good),
        ),
        (
            415,
            client
                .post(&url)
                .bearer_auth(EMIT_TOKEN)
                .body(good.to_string()),
        ),
        (
            400,
            client
                .post(&url)
                .bearer_auth(EMIT_TOKEN)
                .header("content-type", "application/json")
                .body("{nope"),
        ),
        (
            400,
            emit_request(
                &server,
                &json!({"channel":"jobs/a","event":"e","data":1,"extra":2}),
            ),
        ),
        (
            422,
            emit_request(
                &server,
                &json!({"channel":"system/cpu","event":"metrics","data":{}}),
            ),
        ),
        (
            422,
            emit_request(&server, &json!({"channel":"Jobs/A!","event":"e","data":{}})),
        ),
        (
            422,
            emit_request(&server, &json!({"channel":"jobs/a","event":"","data":{}})),
        ),
        (
            413,
            emit_request(
                &server,
                &json!({"channel":"jobs/a","event":"e","data":"x".repeat(70 * 1024)}),
            ),
        ),
        // A job's metrics break the convention: the answer names the field.
        (
            422,
            emit_request(
                &server,
                &json!({"channel":"jobs/a","event":"metrics","data":{"loss":"low"}}),
            ),
        ),
        (
            403,
            emit_request(&server, &good).header("origin", "http://evil.example"),
        ),
    ];
    for (expected, request) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected);
        let body: Value = response.json().await.expect("errors are JSON");
        assert!(
            body["error"].as_str().is_some_and(|e| e.len() > 10),
            "{body}"
        );
    }
    let broken = json!({"channel":"jobs/a","event":"metrics","data":{"loss":"low"}});
    let answer: Value = emit_request(&server, &broken)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("metrics.loss must be a number")),
        "{answer}"
    );
    // None of the refusals published anything.
    let response = emit_request(
        &server,
        &json!({"channel":"jobs/train-1","event":"step","data":2}),
    )
    .send()
    .await
    .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["seq"], 2);
}

#[tokio::test]
async fn a_reconnect_with_the_last_seq_gets_exactly_the_missed_messages() {
    let server = TestServer::start(|_| {}).await;
    let (mut socket, hello) = connect(&server).await;
    subscribe(&mut socket, &["system/cpu"]).await;
    let last = next_envelope(&mut socket).await.seq;
    drop(socket);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (mut socket, _) = connect(&server).await;
    let since = [("system/cpu".to_owned(), last)].into();
    send(
        &mut socket,
        &ClientMessage::Subscribe {
            channels: vec!["system/cpu".into()],
            since,
            epoch: Some(hello.epoch),
        },
    )
    .await;
    assert!(matches!(
        next(&mut socket).await,
        ServerMessage::Subscribed { .. }
    ));
    let mut seqs = Vec::new();
    for _ in 0..6 {
        seqs.push(next_envelope(&mut socket).await.seq);
    }
    let expected: Vec<u64> = (last + 1..last + 7).collect();
    assert_eq!(seqs, expected, "no gap and no duplicate");

    // From another epoch (a restarted server), the seq cannot be trusted: reset, then the latest.
    let (mut stale, _) = connect(&server).await;
    let since = [("system/cpu".to_owned(), 3)].into();
    send(
        &mut stale,
        &ClientMessage::Subscribe {
            channels: vec!["system/cpu".into()],
            since,
            epoch: Some(1),
        },
    )
    .await;
    assert!(matches!(
        next(&mut stale).await,
        ServerMessage::Subscribed { .. }
    ));
    assert!(matches!(
        next(&mut stale).await,
        ServerMessage::Reset { .. }
    ));
    assert!(matches!(next(&mut stale).await, ServerMessage::Message(_)));
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_delay_another() {
    let server = TestServer::start(|_| {}).await;
    let (mut stalled, _) = connect(&server).await;
    subscribe(&mut stalled, &["load/flood"]).await;
    let (mut reader, _) = connect(&server).await;
    subscribe(&mut reader, &["load/flood"]).await;

    // Flood the channel with 60 KB events; the stalled client never reads.
    let payload = "x".repeat(60_000);
    let mut worst = Duration::ZERO;
    for i in 0..400 {
        let sent = Instant::now();
        let response = emit_request(
            &server,
            &json!({"channel":"load/flood","event":"e","data":{"i":i,"p":payload}}),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 202);
        let envelope = next_envelope(&mut reader).await;
        assert_eq!(envelope.data["i"], i);
        worst = worst.max(sent.elapsed());
    }
    assert!(
        worst < Duration::from_secs(1),
        "the reading client kept up: worst {worst:?}"
    );
    // The stalled one was dropped once its queue filled, with a reason it can act on.
    let mut closed_with = None;
    while let Ok(Some(frame)) = timeout(Duration::from_secs(5), stalled.next()).await {
        match frame {
            Ok(Message::Close(Some(close))) => {
                closed_with = Some(close.reason.to_string());
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert!(closed_with.is_some_and(|reason| reason.contains("too slow")));
}

#[tokio::test]
async fn wrong_origin_and_wrong_host_are_refused() {
    let server = TestServer::start(|_| {}).await;
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static("http://evil.example"));
    match connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!(
            "a cross-site socket must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
    let mut request = server.ws_url().into_client_request().unwrap();
    let own = format!("http://{}", server.addr);
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&own).unwrap());
    assert!(
        connect_async(request).await.is_ok(),
        "the page's own origin may connect"
    );

    let response = reqwest::Client::new()
        .get(server.url("/api/system/metrics"))
        .header("host", "rebound.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("--allow-host"));
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_with_503() {
    let server = TestServer::start(|cli| cli.max_clients = Some(2)).await;
    let _a = connect(&server).await;
    let _b = connect(&server).await;
    match connect_async(server.ws_url()).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn rest_serves_the_snapshot_gpus_and_history_from_memory() {
    let server = TestServer::start(|_| {}).await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    let current: vitals::wire::CurrentMetrics = server.get_json("/api/system/metrics").await;
    let channels: Vec<&str> = current
        .channels
        .iter()
        .map(|e| e.channel.as_str())
        .collect();
    assert_eq!(
        channels,
        [
            "system/cpu",
            "system/disk",
            "system/memory",
            "system/network"
        ]
    );
    assert_eq!(current.interval_seconds, 0.25);

    let gpus: vitals::wire::GpuList = server.get_json("/api/system/gpus").await;
    assert!(gpus.gpus.is_empty());
    match gpus.status {
        vitals::wire::GpuStatus::Unavailable { reason, message } => {
            assert_eq!(reason, vitals::wire::GpuUnavailableReason::NoDriver);
            assert!(message.contains("NVIDIA driver not found"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let history: vitals::wire::ChannelHistory = server
        .get_json("/api/system/history?channel=system/memory")
        .await;
    assert!(history.messages.len() >= 2);
    assert_eq!(history.epoch, current.epoch);
    let last = history.messages.last().unwrap().seq;
    let after: vitals::wire::ChannelHistory = server
        .get_json(&format!(
            "/api/system/history?channel=system/memory&since={}",
            last - 1
        ))
        .await;
    assert_eq!(after.messages.first().map(|e| e.seq), Some(last));

    let bad = reqwest::get(server.url("/api/system/history?channel=system/memory&since=yesterday"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = reqwest::get(server.url("/api/system/history?channel=nope"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn responses_carry_security_headers_and_no_cors() {
    let server = TestServer::start(|_| {}).await;
    let response = reqwest::Client::new()
        .get(server.url("/api/system/metrics"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src")
    );
    assert!(headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn prefill_fills_the_whole_history_window_for_benchmarks() {
    let server = TestServer::start(|cli| {
        cli.history = Some(60);
        cli.prefill_history = true;
    })
    .await;
    let history: vitals::wire::ChannelHistory = server
        .get_json("/api/system/history?channel=system/cpu")
        .await;
    // 60 s at 0.25 s, plus whatever real ticks ran since start.
    assert!(history.messages.len() >= 240, "{}", history.messages.len());
    let first = history.messages.first().unwrap().timestamp;
    let last = history.messages.last().unwrap().timestamp;
    assert!((last - first).num_seconds() >= 59);
    let seqs: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));

    // A client back after most of the window gets every message it missed, the older ones
    // (deflated in the ring) included, in order. The window moves on meanwhile: 5 s of margin.
    let (mut socket, hello) = connect(&server).await;
    let since = seqs[20];
    send(
        &mut socket,
        &ClientMessage::Subscribe {
            channels: vec!["system/cpu".into()],
            since: [("system/cpu".to_owned(), since)].into(),
            epoch: Some(hello.epoch),
        },
    )
    .await;
    assert!(matches!(
        next(&mut socket).await,
        ServerMessage::Subscribed { .. }
    ));
    for expected in since + 1..=*seqs.last().unwrap() {
        assert_eq!(next_envelope(&mut socket).await.seq, expected);
    }
}
