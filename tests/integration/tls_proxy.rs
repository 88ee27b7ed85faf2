//! The README's TLS recipe, tested: nginx (Debian's nginx-light) terminates TLS in front of Vitals on
//! 127.0.0.1 with an access token; the browser flow (sign-in link, Secure cookie, WebSocket upgrade)
//! works through it. curl plays the browser.

use crate::common;

use common::process::{Spawned, free_port, scratch_dir};
use common::server::TestServer;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "tls-proxy-token-0123456789";

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn start_nginx(dir: &Path, port: u16, upstream: &str) -> Spawned {
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(Stdio::null()));
    let d = dir.display();
    // The location block is the README's, with test paths and ports.
    let config = format!(
        "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;\n\
         events {{}}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n  \
         uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n  \
         server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem;\n    \
         location / {{\n      proxy_pass http://{upstream};\n      proxy_set_header Host {upstream};\n      \
         proxy_set_header X-Forwarded-Proto https;\n      \
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      proxy_http_version 1.1;\n      \
         proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection \"upgrade\";\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (Debian package nginx-light; scripts/test installs it)");
    Spawned {
        child,
        dir: dir.to_path_buf(),
    }
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sk", "--http1.1", "-D", "-", "--max-time", "3"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_readme_nginx_recipe_serves_vitals_over_tls() {
    let port = free_port();
    let origin = format!("https://localhost:{port}");
    let allowed = origin.clone();
    let server = TestServer::start(move |cli| {
        cli.token = Some(TOKEN.into());
        cli.allowed_origins = vec![allowed];
    })
    .await;
    let dir = scratch_dir("nginx");
    let _nginx = start_nginx(&dir, port, &server.addr.to_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpListenerProbe::closed(port) {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {:?}",
            std::fs::read_to_string(dir.join("error.log"))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let anonymous = tokio::task::spawn_blocking({
        let url = format!("{origin}/api/system/metrics");
        move || curl(&[&url])
    })
    .await
    .unwrap();
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");

    let sign_in = format!("{origin}/?token={TOKEN}");
    let signed = tokio::task::spawn_blocking(move || curl(&[&sign_in]))
        .await
        .unwrap();
    assert!(signed.starts_with("HTTP/1.1 303"), "{signed}");
    let cookie_line = signed
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(
        cookie_line.contains("; Secure") && cookie_line.contains("HttpOnly"),
        "{cookie_line}"
    );
    let session = cookie_line
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let (page_url, ws_url, cookie, ws_origin) = (
        format!("{origin}/api/system/metrics"),
        format!("{origin}/ws"),
        session.clone(),
        origin.clone(),
    );
    let (metrics, upgrade) = tokio::task::spawn_blocking(move || {
        let header = format!("Cookie: {cookie}");
        let metrics = curl(&["-H", &header, &page_url]);
        let origin_header = format!("Origin: {ws_origin}");
        let upgrade = curl(&[
            "-N",
            "-H",
            &header,
            "-H",
            &origin_header,
            "-H",
            "Connection: Upgrade",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Version: 13",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            &ws_url,
        ]);
        (metrics, upgrade)
    })
    .await
    .unwrap();
    assert!(
        metrics.starts_with("HTTP/1.1 200") && metrics.contains("\"system/cpu\""),
        "{metrics}"
    );
    assert!(
        upgrade.starts_with("HTTP/1.1 101"),
        "the WebSocket upgrades through the proxy: {upgrade}"
    );
    assert!(
        upgrade.contains("\"type\":\"hello\""),
        "and the hello comes through: {upgrade}"
    );
}

/// Starts the proxy in front of `server` and waits until it listens.
async fn proxy_in_front(server: &TestServer) -> (Spawned, String) {
    let port = free_port();
    let dir = scratch_dir(&format!("nginx-{port}"));
    let nginx = start_nginx(&dir, port, &server.addr.to_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpListenerProbe::closed(port) {
        assert!(Instant::now() < deadline, "nginx did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (nginx, format!("https://localhost:{port}"))
}

/// The status of a request through the proxy from one loopback source address.
async fn status_from(source: &'static str, url: String, token: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let header = format!("Authorization: Bearer {token}");
        let response = curl(&["--interface", source, "-H", &header, &url]);
        response
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_wrong_tokens_lock_out_only_their_own_client() {
    let server = TestServer::start(|cli| {
        cli.token = Some(TOKEN.into());
        cli.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (_nginx, origin) = proxy_in_front(&server).await;
    let metrics = format!("{origin}/api/system/metrics");
    let wrong = "wrong-token-0000000000";
    let mut attacker = Vec::new();
    for _ in 0..6 {
        attacker.push(status_from("127.0.0.2", metrics.clone(), wrong).await);
    }
    assert_eq!(attacker[..5], ["401"; 5], "{attacker:?}");
    assert_eq!(attacker[5], "429", "the attacker's own address waits");
    assert_eq!(
        status_from("127.0.0.3", metrics.clone(), wrong).await,
        "401",
        "another client behind the same proxy is not locked out"
    );
    assert_eq!(
        status_from("127.0.0.2", metrics.clone(), TOKEN).await,
        "200",
        "and the right token is served even from the locked-out address"
    );
}

/// Whether nothing listens on the port yet.
struct TcpListenerProbe;

impl TcpListenerProbe {
    fn closed(port: u16) -> bool {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    }
}
