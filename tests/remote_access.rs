//! The server bound to a non-loopback address of this machine, with an access token.
#![cfg(feature = "ssr")]

mod common;

use common::fake_nvml::FakeNvml;
use common::server::{EMIT_TOKEN, TestServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use vitals::server::config::{Cli, Config, ConfigError};

const TOKEN: &str = "remote-access-token-0123456789";
const GPU: &str = "gpu name=\"Fake L4\" uuid=GPU-remote util=5 procs=1:1048576:compute\n";

/// The first non-loopback IPv4 address of this machine (the server binds it; nothing leaves the host).
fn machine_address() -> Ipv4Addr {
    let mut found = None;
    // SAFETY: getifaddrs fills a list we walk read-only and free once.
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        assert_eq!(libc::getifaddrs(&mut list), 0);
        let mut entry = list;
        while !entry.is_null() {
            let address = (*entry).ifa_addr;
            if !address.is_null() && (*address).sa_family as i32 == libc::AF_INET {
                let v4 = &*(address as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                if !ip.is_loopback() && found.is_none() {
                    found = Some(ip);
                }
            }
            entry = (*entry).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found.expect("this machine has a non-loopback IPv4 address")
}

async fn remote_server(show_command_lines: bool, fake: &FakeNvml) -> TestServer {
    let ip = machine_address();
    let library = fake.library().to_path_buf();
    TestServer::start(move |cli| {
        cli.bind = Some((IpAddr::V4(ip), 0).into());
        cli.token = Some(TOKEN.into());
        cli.nvml_library = Some(library);
        cli.show_command_lines = show_command_lines;
    })
    .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const ROUTES: [&str; 6] = [
    "/",
    "/api/system/metrics",
    "/api/system/gpus",
    "/api/system/seed",
    "/api/system/history?channel=system/cpu",
    "/metrics",
];

#[test]
fn a_wide_bind_without_a_token_is_refused_at_start() {
    let cli = Cli {
        bind: Some("0.0.0.0:3000".parse().unwrap()),
        ..Default::default()
    };
    let err = Config::resolve(cli, "127.0.0.1:3000".parse().unwrap()).unwrap_err();
    assert!(matches!(err, ConfigError::WideBindWithoutToken(_)));
    assert!(err.to_string().contains("vitals token"), "{err}");
}

#[tokio::test]
async fn every_route_and_the_socket_need_the_token() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    assert!(!server.addr.ip().is_loopback());
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let http = client();
    for route in ROUTES {
        let refused = http.get(server.url(route)).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{route} without a token");
        assert_eq!(
            refused.headers()["www-authenticate"],
            r#"Bearer realm="vitals""#
        );
        let allowed = http
            .get(server.url(route))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "{route} with the token");
    }
    let wrong = http
        .get(server.url("/api/system/metrics"))
        .bearer_auth("not-the-token-000000")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("token"));

    // The socket too.
    let url = format!("ws://{}/ws", server.addr);
    match connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("socket without a token: {:?}", other.map(|_| ())),
    }
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
    );
    let (mut socket, _) = connect_async(request).await.expect("socket with the token");
    assert!(socket.next().await.is_some());
}

#[tokio::test]
async fn a_browser_signs_in_once_and_then_uses_its_cookie() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    // A browser without a token gets the sign-in page.
    let page = http
        .get(server.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(r#"<form method="post" action="/sign-in">"#)
    );

    // Opening /?token=… sets the cookie and redirects to the clean URL.
    let signed = http
        .get(server.url(&format!("/?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/");
    let cookie = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let session = cookie.split(';').next().unwrap().to_owned();
    for route in ROUTES {
        let response = http
            .get(server.url(route))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{route} with the session cookie");
    }
    let mut request = format!("ws://{}/ws", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(&session).unwrap());
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_str(&format!("http://{}", server.addr)).unwrap(),
    );
    assert!(
        connect_async(request).await.is_ok(),
        "the page's socket rides on the cookie"
    );

    // The form works too, and behind a TLS proxy the cookie is Secure.
    let form = http
        .post(server.url("/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert!(
        form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    let forged = http
        .get(server.url("/api/system/metrics"))
        .header("cookie", "vitals_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn failed_attempts_are_rate_limited() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = http
            .get(server.url("/api/system/metrics"))
            .bearer_auth("wrong-token-000000000")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429, 429]);
    let right = http
        .get(server.url("/api/system/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        right.status(),
        429,
        "the address waits, even with the right token"
    );
}

#[tokio::test]
async fn the_emit_token_and_the_access_token_do_not_open_each_others_doors() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    let reading_with_emit = http
        .get(server.url("/api/system/metrics"))
        .bearer_auth(EMIT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reading_with_emit.status(), 401);
    let event = json!({"channel":"jobs/a","event":"step","data":1});
    let emitting_with_access = http
        .post(server.url("/api/internal/ws/emit"))
        .bearer_auth(TOKEN)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(emitting_with_access.status(), 401);
    let emitting = http
        .post(server.url("/api/internal/ws/emit"))
        .bearer_auth(EMIT_TOKEN)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(emitting.status(), 202);
}

async fn gpu_api_text(server: &TestServer) -> String {
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let http = client();
    let mut text = String::new();
    for route in [
        "/api/system/gpus",
        "/api/system/metrics",
        "/api/system/seed",
        "/api/system/history?channel=system/gpu/0",
    ] {
        text += &http
            .get(server.url(route))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    text
}

#[tokio::test]
async fn command_lines_are_absent_unless_enabled() {
    let fake = FakeNvml::start(GPU);
    let hidden = remote_server(false, &fake).await;
    let text = gpu_api_text(&hidden).await;
    assert!(text.contains(r#""pid":1"#), "the process is listed: {text}");
    assert!(
        !text.contains("command_line"),
        "no API shows command lines by default"
    );
    drop(hidden);
    let shown = remote_server(true, &fake).await;
    assert!(
        gpu_api_text(&shown).await.contains("command_line"),
        "--show-command-lines shows them"
    );
}
