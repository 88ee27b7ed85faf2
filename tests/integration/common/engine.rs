//! A container engine's socket for tests, since no Docker or Podman engine runs on the machines
//! the tests run on: it answers `GET /containers/<id>/json` as Docker's API does (the inspect
//! answer in tests/integration/fixtures, in the shape of Docker Engine API 1.50), or hangs, or
//! answers garbage.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An inspect of a container named `web-llm` from `vllm/vllm-openai`, as Docker Engine 28 sends it.
pub const DOCKER_INSPECT: &str = include_str!("../fixtures/docker_inspect_web_llm.json");

#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers the inspect for `id`, 404 (as Docker words it) for any other.
    Knows(&'static str),
    /// Takes the request and never answers.
    Hangs,
    /// Answers something that is not HTTP.
    Garbage,
}

pub struct FakeEngine {
    pub socket: PathBuf,
    /// Requests taken.
    pub asked: Arc<AtomicUsize>,
}

impl FakeEngine {
    pub fn start(name: &str, behaviour: Behaviour) -> FakeEngine {
        let socket =
            std::env::temp_dir().join(format!("vitals-engine-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).expect("the fake engine's socket binds");
        let asked = Arc::new(AtomicUsize::new(0));
        let counted = asked.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 1024];
                let n = stream.read(&mut request).unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).to_string();
                match behaviour {
                    Behaviour::Hangs => held.push(stream),
                    Behaviour::Garbage => {
                        let _ = stream.write_all(b"\x00\xffnot http at all\r\n\r\n{{{");
                    }
                    Behaviour::Knows(id) => {
                        let (status, body) =
                            if request.starts_with(&format!("GET /containers/{id}/json ")) {
                                ("200 OK", DOCKER_INSPECT.to_owned())
                            } else {
                                let asked = request.split_whitespace().nth(1).unwrap_or("");
                                let other = asked
                                    .trim_start_matches("/containers/")
                                    .trim_end_matches("/json");
                                (
                                    "404 Not Found",
                                    format!("{{\"message\":\"No such container: {other}\"}}\n"),
                                )
                            };
                        let answer = format!(
                            "HTTP/1.1 {status}\r\nApi-Version: 1.50\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/28.2.2 (linux)\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(answer.as_bytes());
                    }
                }
            }
        });
        FakeEngine { socket, asked }
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}
