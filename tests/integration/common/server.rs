//! Starts the real server on an ephemeral loopback port for integration tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use vitals::server::config::Cli;

pub const EMIT_TOKEN: &str = "integration-test-emit-token";

pub struct TestServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// A server sampling every 0.25 s with no NVIDIA library, unless `adjust` says otherwise.
    pub async fn start(adjust: impl FnOnce(&mut Cli)) -> TestServer {
        let mut cli = Cli {
            bind: Some("127.0.0.1:0".parse().unwrap()),
            interval: Some(0.25),
            emit_token: Some(EMIT_TOKEN.into()),
            nvml_library: Some(PathBuf::from("/nonexistent/libnvidia-ml.so.1")),
            // Tests that keep history on disk give a data directory of their own.
            no_persist: true,
            ..Default::default()
        };
        adjust(&mut cli);
        let running = vitals::server::boot::start(cli)
            .await
            .expect("server starts");
        let addr = running.addr;
        let task = tokio::spawn(async move {
            let _ = running.serve().await;
        });
        TestServer { addr, task }
    }

    /// Where to reach the server: its address, or 127.0.0.1 and its port when it is bound to
    /// every address (tests only ever talk to it through loopback).
    pub fn authority(&self) -> String {
        if self.addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.addr.port())
        } else {
            self.addr.to_string()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority())
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.authority())
    }
}

impl super::http::Get for TestServer {
    fn url(&self, path: &str) -> String {
        TestServer::url(self, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
