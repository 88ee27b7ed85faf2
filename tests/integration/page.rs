//! The page as the server renders it: values are there at first paint, before any script runs.

use crate::common;

use common::server::TestServer;
use std::time::Duration;

/// The text of the element carrying `data-testid="{id}"`, tags inside it dropped.
fn text_of(html: &str, id: &str) -> Option<String> {
    let marker = format!("data-testid=\"{id}\"");
    let start = html.find(&marker)?;
    let open_end = start + html[start..].find('>')? + 1;
    let mut depth = 1;
    let mut text = String::new();
    let mut rest = &html[open_end..];
    while depth > 0 && !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>')?;
            let tag_text = &tag[..end];
            if tag_text.starts_with('/') {
                depth -= 1;
            } else if !tag_text.starts_with('!') && !tag_text.ends_with('/') {
                depth += 1;
            }
            rest = &tag[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            text.push_str(&rest[..end]);
            rest = &rest[end..];
        }
    }
    Some(text)
}

#[tokio::test]
async fn the_first_paint_already_shows_the_current_values() {
    let server = TestServer::start(|_| {}).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let response = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();

    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(text_of(&html, "hostname").as_deref(), Some(hostname.trim()));
    let uptime = text_of(&html, "uptime").unwrap();
    assert!(uptime.starts_with("up "), "{uptime:?}");

    let cpu = text_of(&html, "cpu-usage").unwrap();
    let percent: f64 = cpu
        .strip_suffix(" %")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("CPU usage rendered as {cpu:?}"));
    assert!((0.0..=100.0).contains(&percent));
    let memory = text_of(&html, "memory-summary").unwrap();
    assert!(memory.contains("GiB used"), "memory rendered as {memory:?}");
    let last_update = text_of(&html, "last-update").unwrap();
    assert!(last_update.starts_with("last update "), "{last_update:?}");
    let no_gpu = text_of(&html, "no-gpu").unwrap();
    assert!(no_gpu.contains("NVIDIA driver not found"), "{no_gpu:?}");
}

#[tokio::test]
async fn other_paths_get_a_small_not_found_page_without_the_dashboard() {
    let server = TestServer::start(|_| {}).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    for path in ["/nonexistent", "/pkg/missing.js"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let html = response.text().await.unwrap();
        assert!(text_of(&html, "not-found").is_some(), "{path}: {html}");
        assert!(!html.contains("vitals-seed"), "{path} carries no seed");
        assert!(
            !html.contains("vitals.js") && !html.contains("echarts"),
            "{path} loads no app"
        );
        assert!(html.len() < 2_000, "{path}: {} bytes", html.len());
    }
}
