//! The server bound to every address (0.0.0.0) with an access token, reached through 127.0.0.1:
//! no test traffic leaves loopback.

use crate::common;

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

async fn remote_server(show_command_lines: bool, fake: &FakeNvml) -> TestServer {
    let library = fake.library().to_path_buf();
    TestServer::start(move |cli| {
        cli.bind = Some((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0).into());
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

const ROUTES: [&str; 8] = [
    "/",
    "/api/system/metrics",
    "/api/system/gpus",
    "/api/system/seed",
    "/api/system/history?channel=system/cpu",
    "/metrics",
    "/api/fleet",
    "/fleet",
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
    assert!(server.addr.ip().is_unspecified());
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
    let url = server.ws_url();
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
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(&session).unwrap());
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_str(&format!("http://{}", server.authority())).unwrap(),
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

async fn status_with(http: &reqwest::Client, server: &TestServer, bearer: &str) -> u16 {
    http.get(server.url("/api/system/metrics"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_tokens_are_limited_but_the_right_one_is_always_served() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    let mut statuses = Vec::new();
    for i in 0..7 {
        // A claimed address is never believed without --trusted-proxy.
        let response = http
            .get(server.url("/api/system/metrics"))
            .bearer_auth("wrong-token-000000000")
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429, 429], "wrong tries wait a minute");
    assert_eq!(
        status_with(&http, &server, TOKEN).await,
        200,
        "the right token is served whatever came before from this address"
    );
    let signed = http
        .get(server.url(&format!("/?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "and so is the sign-in link");
    let form = http
        .post(server.url("/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303, "and the sign-in form");
}

#[tokio::test]
async fn a_stale_session_cookie_is_not_a_wrong_token() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    for _ in 0..10 {
        // What an open tab sends after the server restarted.
        let stale = http
            .get(server.url("/api/system/metrics"))
            .header("cookie", "vitals_session=from-before-the-restart")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 401);
        let body: Value = stale.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("sign in again"));
    }
    let page = http
        .get(server.url("/"))
        .header("cookie", "vitals_session=from-before-the-restart")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    assert!(page.text().await.unwrap().contains("action=\"/sign-in\""));
    assert_eq!(
        status_with(&http, &server, "wrong-token-000000000").await,
        401,
        "none of those counted as a failure"
    );
}

#[tokio::test]
async fn the_right_token_in_a_query_string_is_never_a_failure() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    for _ in 0..6 {
        let post = http
            .post(server.url(&format!("/api/system/metrics?token={TOKEN}")))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 400);
        let body: Value = post.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("Authorization"));
    }
    let head = http
        .head(server.url(&format!("/?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 303, "HEAD signs in like GET");
    assert_eq!(
        status_with(&http, &server, "wrong-token-000000000").await,
        401,
        "not one of them counted"
    );
}

#[tokio::test]
async fn the_sign_in_redirect_never_leaves_this_server() {
    let fake = FakeNvml::start(GPU);
    let server = remote_server(false, &fake).await;
    let http = client();
    for path in ["//evil.example/", "/\\evil.example/", "///evil.example/x"] {
        let response = http
            .get(server.url(&format!("{path}?token={TOKEN}&a=1")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with('/') && !location.starts_with("//") && !location.contains('\\'),
            "{path} redirected to {location}"
        );
        assert!(location.ends_with("?a=1"), "{location}");
    }
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
