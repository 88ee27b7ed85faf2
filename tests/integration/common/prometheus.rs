//! A real Prometheus (Debian's package; scripts/test installs it) with a config of the test's own.

use super::process::{Spawned, free_port, scratch_dir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Prometheus {
    process: Spawned,
    pub port: u16,
    pub url: String,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`) every second, as job `vitals`.
    pub fn scraping(name: &str, target: &str) -> Prometheus {
        Prometheus::start(
            name,
            &format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: vitals\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
    }

    /// Asks until the query has a result (the first scrapes take a moment); fails after 40 s.
    pub async fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
        loop {
            let response = reqwest::Client::new()
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", promql)])
                .send()
                .await;
            let body = match response {
                Ok(response) => response.json::<serde_json::Value>().await.ok(),
                Err(_) => None,
            };
            let result = body
                .and_then(|b| b["data"]["result"].as_array().cloned())
                .unwrap_or_default();
            if !result.is_empty() {
                return result;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Prometheus never answered {promql}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// Starts Prometheus on a free loopback port with `config` (YAML) as its configuration.
    pub fn start(name: &str, config: &str) -> Prometheus {
        let dir = scratch_dir(name);
        let port = free_port();
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        Prometheus {
            process: Spawned {
                child: spawn(&dir, port),
                dir,
            },
            port,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Kills it, keeping its data and port.
    pub fn stop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }

    /// Starts it again on the same port, with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.process.child = spawn(&self.process.dir, self.port);
    }
}

fn spawn(dir: &Path, port: u16) -> Child {
    let data: PathBuf = dir.join("data");
    Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the `prometheus` binary (Debian package prometheus; scripts/test installs it)")
}
