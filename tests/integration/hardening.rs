//! Denial of service: slow or silent clients, floods and malformed frames cannot stop the server
//! from serving the person who owns the machine.

use crate::common;

use common::binary::{ServerProcess, raise_own_open_files_limit};
use common::server::{EMIT_TOKEN, TestServer};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use vitals::server::http::listen::HEADER_READ_TIMEOUT;

/// A connection that starts a request and never finishes it.
async fn slow_client(addr: std::net::SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(b"GET /api/system/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .ok()?;
    Some(stream)
}

/// Reads until the peer closes; true if it did within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_beyond_the_open_files_limit_do_not_lock_out_a_normal_client() {
    raise_own_open_files_limit();
    let server = ServerProcess::start(&[], Some(1024));
    let http = reqwest::Client::new();

    // A dashboard that is already watching.
    let (mut watcher, _) = connect_async(format!("ws://{}/ws", server.addr))
        .await
        .unwrap();
    watcher
        .send(Message::Text(
            r#"{"type":"subscribe","channels":["system/cpu"]}"#.into(),
        ))
        .await
        .unwrap();

    let mut slow = Vec::new();
    for _ in 0..1100 {
        if let Some(stream) = slow_client(server.addr).await {
            slow.push(stream);
        }
    }
    assert!(slow.len() >= 1000, "opened {} slow connections", slow.len());

    let started = Instant::now();
    let response = timeout(
        Duration::from_secs(1),
        http.get(server.url("/api/system/metrics")).send(),
    )
    .await
    .expect("a normal client is served within a second")
    .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));

    // The established socket keeps streaming.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut samples = 0;
    while samples < 2 && Instant::now() < deadline {
        if let Ok(Some(Ok(Message::Text(text)))) =
            timeout(Duration::from_secs(2), watcher.next()).await
            && text.contains(r#""channel":"system/cpu""#)
        {
            samples += 1;
        }
    }
    assert_eq!(samples, 2, "the WebSocket kept receiving samples");
    // The oldest slow clients made room: they were closed.
    assert!(closed_within(&mut slow[0], Duration::from_secs(2)).await);
}

#[tokio::test]
async fn a_request_that_never_finishes_its_headers_is_closed_by_the_timeout() {
    let server = TestServer::start(|_| {}).await;
    let mut slow = slow_client(server.addr).await.unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut slow, HEADER_READ_TIMEOUT + Duration::from_secs(5)).await);
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_millis(500));
    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /api/system/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut idle, HEADER_READ_TIMEOUT + Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_body_declared_over_the_cap_is_refused_before_it_is_sent() {
    let server = TestServer::start(|_| {}).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/internal/ws/emit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {EMIT_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let read = timeout(Duration::from_secs(3), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 65536 bytes"), "{answer}");
}

async fn close_code_after(server: &TestServer, frame: Message) -> Option<CloseCode> {
    let (mut socket, _) = connect_async(server.ws_url()).await.unwrap();
    socket.send(frame).await.unwrap();
    timeout(Duration::from_secs(5), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| f.code),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .unwrap_or(None)
}

#[tokio::test]
async fn oversized_and_invalid_frames_get_the_right_close_code() {
    let server = TestServer::start(|_| {}).await;
    let huge = format!(
        r#"{{"type":"subscribe","channels":["{}"]}}"#,
        "a".repeat(70 * 1024)
    );
    assert_eq!(
        close_code_after(&server, Message::Text(huge.into())).await,
        Some(CloseCode::Size)
    );

    // A frame with a reserved bit set, written by hand after a real handshake.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let handshake = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 8192];
    let mut received = Vec::new();
    // The 101 and the hello.
    while !String::from_utf8_lossy(&received).contains("\"hello\"") {
        let n = timeout(Duration::from_secs(3), stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        received.extend_from_slice(&buffer[..n]);
    }
    // FIN + RSV1 + text, masked, empty payload: RSV1 without an extension is a protocol error.
    stream
        .write_all(&[0b1100_0001, 0b1000_0000, 1, 2, 3, 4])
        .await
        .unwrap();
    let mut tail = Vec::new();
    let _ = timeout(Duration::from_secs(3), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => tail.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    // A close frame (opcode 8) whose payload starts with 1002.
    let close = tail
        .windows(4)
        .any(|w| w[0] == 0x88 && w[1] >= 2 && u16::from_be_bytes([w[2], w[3]]) == 1002);
    assert!(close, "a close frame with code 1002: {tail:?}");
}

#[tokio::test]
async fn emitted_messages_stay_within_their_memory_budget_under_a_flood() {
    let server = ServerProcess::start(&["--emit-history-mib", "8"], None);
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_bytes();
    let pad = "x".repeat(60 * 1024);
    let posted = futures_util::stream::iter(0..3_000)
        .map(|i| {
            let body = format!(
                r#"{{"channel":"load/flood-{}","event":"step","data":{{"i":{i},"pad":"{pad}"}}}}"#,
                i % 256
            );
            let request = http
                .post(server.url("/api/internal/ws/emit"))
                .bearer_auth(EMIT_TOKEN)
                .header("content-type", "application/json")
                .body(body);
            async move { request.send().await.map(|r| r.status().as_u16()) }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    assert!(
        posted.iter().all(|s| matches!(s, Ok(202))),
        "every emit accepted"
    );
    let after = server.rss_bytes();
    let grown_mib = after.saturating_sub(before) as f64 / (1 << 20) as f64;
    // 3,000 × 60 KiB = 176 MiB published; the budget keeps 8 MiB of it, plus the allocator's slack.
    assert!(
        grown_mib < 40.0,
        "RSS grew by {grown_mib:.1} MiB for an 8 MiB budget ({} → {} bytes)",
        before,
        after
    );
    let kept: serde_json::Value = http
        .get(server.url(&format!(
            "/api/system/history?channel=load/flood-{}",
            2_999 % 256
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = kept["messages"].as_array().unwrap().last().unwrap()["data"]["i"].clone();
    assert_eq!(newest, 2_999, "the newest message is kept");
}

#[tokio::test]
async fn sign_in_bodies_that_never_arrive_hold_only_a_few_connections_and_only_for_a_while() {
    const TOKEN: &str = "hardening-access-token-0123456789";
    let server = TestServer::start(|cli| cli.token = Some(TOKEN.into())).await;
    let head = "POST /sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n";
    let mut waiting = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 64];
        match timeout(Duration::from_millis(300), stream.read(&mut answer)).await {
            Ok(Ok(n)) if answer[..n].starts_with(b"HTTP/1.1 503") => refused += 1,
            Ok(other) => panic!("unexpected answer: {other:?}"),
            Err(_) => waiting.push(stream),
        }
    }
    assert_eq!(waiting.len(), 16, "only a few bodies are awaited at once");
    assert_eq!(refused, 24);
    let served = reqwest::Client::new()
        .get(server.url("/api/system/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200, "the owner is served meanwhile");
    // The waiting ones are answered 408 once the body timeout is over.
    let mut answer = [0u8; 64];
    let n = timeout(
        vitals::server::http::body::BODY_READ_TIMEOUT + Duration::from_secs(5),
        waiting[0].read(&mut answer),
    )
    .await
    .expect("answered after the body timeout")
    .unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&answer[..n])
    );
}

/// Sends `head` on a fresh connection and reads the answer's head (empty when the connection
/// dropped without one).
async fn raw_answer(addr: std::net::SocketAddr, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 2048];
    let read = timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered")
        .unwrap_or(0);
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

#[tokio::test]
async fn connect_and_pathless_targets_are_refused_and_the_server_keeps_serving() {
    let server = TestServer::start(|_| {}).await;
    let connect = raw_answer(
        server.addr,
        "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
    )
    .await;
    assert!(
        connect.starts_with("HTTP/1.1 405") && connect.contains("not a proxy"),
        "{connect}"
    );
    assert!(
        connect
            .to_ascii_lowercase()
            .contains("allow: get, head, post")
    );
    let options = raw_answer(
        server.addr,
        "OPTIONS 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await;
    assert!(!options.is_empty(), "answered, not dropped");
    let page = raw_answer(
        server.addr,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
}

#[tokio::test]
async fn query_strings_that_do_not_parse_are_answered_as_json_errors() {
    let server = TestServer::start(|_| {}).await;
    let http = reqwest::Client::new();
    for path in [
        "/api/system/history?from=0&points=many",
        "/api/system/history?points=-1",
        "/api/system/jobs/fields?channel=jobs/x&points=1e99",
        "/api/system/jobs/fields?points=%FF",
    ] {
        let answer = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{path}");
        let kind = answer.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert!(
            kind.to_str().unwrap().starts_with("application/json"),
            "{path}: {kind:?}"
        );
        let body: serde_json::Value = answer.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains("query string"), "{path}: {body}");
    }
}
