//! Delivering alert changes to webhooks from the config: a generic JSON body, or what Slack,
//! Discord and ntfy accept. Each webhook has a task and a bounded queue of its own, off the
//! sampler's path: a slow or dead webhook drops its own oldest work and delays nothing else. A
//! failed delivery is tried again with a growing pause, each try under a timeout; failures are
//! logged and counted in `GET /api/system/alerts`. Requests carry the alert and nothing of Vitals'
//! own (no token, no cookie).

use crate::server::alerts::rules::RuleError;
use crate::server::runtime::lock::lock;
use crate::shared::format::alert_value;
use crate::wire::{Alert, AlertSeverity, AlertState, WebhookFormat, WebhookStatus};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes a webhook's queue holds; past that, new ones are dropped (and counted).
const QUEUE: usize = 64;
/// Tries per change, and the pause before the second (doubled each time, at most a minute).
const TRIES: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(10);

/// One `[[alerts.webhooks]]` table.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// Checks a webhook's URL: http or https only, nothing else.
pub fn check(config: &WebhookConfig) -> Result<reqwest::Url, RuleError> {
    let fail = |problem: String| RuleError {
        name: format!("webhook {}", shown(&config.url)),
        problem,
    };
    let url = reqwest::Url::parse(&config.url).map_err(|e| fail(format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(fail(
            "only http:// and https:// URLs are delivered to".into(),
        ));
    }
    Ok(url)
}

/// A URL as it may be shown: scheme and host only (Slack and Discord URLs hold their secret in
/// the path).
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => format!("{}://{}", url.scheme(), url.host_str().unwrap_or("")),
        Err(_) => "(not a URL)".into(),
    }
}

/// Why a delivery failed, in words that hold no part of the URL but its scheme and host: reqwest's
/// own text names the whole URL, and a Slack or Discord URL's path is its secret.
fn delivery_error(error: reqwest::Error, url: &reqwest::Url) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut words = vec![kind.to_owned()];
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        words.push(inner.to_string());
        cause = inner.source();
    }
    let mut text = words.join(": ").replace(url.as_str(), &shown(url.as_str()));
    // Whatever of the URL a cause quoted apart from it.
    let parts = [
        url.path(),
        url.query().unwrap_or(""),
        url.password().unwrap_or(""),
        url.username(),
    ];
    for part in parts.into_iter().filter(|part| part.len() > 1) {
        text = text.replace(part, "…");
    }
    text
}

/// The webhooks' queues and their counts.
pub struct Webhooks {
    hooks: Vec<Hook>,
}

struct Hook {
    queue: mpsc::Sender<Alert>,
    status: Arc<Mutex<WebhookStatus>>,
}

impl Webhooks {
    /// Starts a delivery task per webhook (on the current tokio runtime).
    pub fn start(configs: &[(reqwest::Url, WebhookFormat)], host: &str) -> Webhooks {
        // No client (and no TLS roots in memory) for a server without webhooks.
        if configs.is_empty() {
            return Webhooks::none();
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A redirect would post the alert to an address nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vitals/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let hooks = configs
            .iter()
            .map(|(url, format)| {
                let (queue, changes) = mpsc::channel(QUEUE);
                let status = Arc::new(Mutex::new(WebhookStatus {
                    url: shown(url.as_str()),
                    format: *format,
                    ..Default::default()
                }));
                let delivery = Delivery {
                    client: client.clone(),
                    url: url.clone(),
                    format: *format,
                    host: host.to_owned(),
                    status: status.clone(),
                };
                tokio::spawn(delivery.run(changes));
                Hook { queue, status }
            })
            .collect();
        Webhooks { hooks }
    }

    /// No webhooks (tests, and a server without any).
    pub fn none() -> Webhooks {
        Webhooks { hooks: Vec::new() }
    }

    /// Queues a change for every webhook, without waiting.
    pub fn send(&self, alert: &Alert) {
        for hook in &self.hooks {
            if hook.queue.try_send(alert.clone()).is_err() {
                let mut status = lock(&hook.status);
                status.dropped += 1;
                tracing::warn!(
                    "webhook {}: queue full, an alert change was dropped",
                    status.url
                );
            }
        }
    }

    pub fn statuses(&self) -> Vec<WebhookStatus> {
        self.hooks.iter().map(|h| lock(&h.status).clone()).collect()
    }
}

struct Delivery {
    client: reqwest::Client,
    url: reqwest::Url,
    format: WebhookFormat,
    host: String,
    status: Arc<Mutex<WebhookStatus>>,
}

impl Delivery {
    async fn run(self, mut changes: mpsc::Receiver<Alert>) {
        while let Some(alert) = changes.recv().await {
            let mut pause = FIRST_PAUSE;
            for attempt in 1..=TRIES {
                let outcome = self.post(&alert).await;
                if self.count(outcome, attempt) {
                    break;
                }
                if attempt < TRIES {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    /// Counts a try's outcome; true when it was delivered.
    fn count(&self, outcome: Result<(), String>, attempt: u32) -> bool {
        let mut status = lock(&self.status);
        match outcome {
            Ok(()) => {
                status.delivered += 1;
                true
            }
            Err(error) => {
                status.failed_attempts += 1;
                tracing::warn!("webhook {}: try {attempt} of {TRIES}: {error}", status.url);
                status.last_error = Some(error);
                false
            }
        }
    }

    async fn post(&self, alert: &Alert) -> Result<(), String> {
        let request = self.client.post(self.url.clone());
        let request = match self.format {
            WebhookFormat::Generic => request
                .header("content-type", "application/json")
                .body(generic_body(&self.host, alert)),
            WebhookFormat::Slack => request
                .header("content-type", "application/json")
                .body(serde_json::json!({ "text": line(&self.host, alert) }).to_string()),
            WebhookFormat::Discord => request
                .header("content-type", "application/json")
                .body(serde_json::json!({ "content": line(&self.host, alert) }).to_string()),
            WebhookFormat::Ntfy => {
                let (priority, tags) = ntfy_priority(alert);
                request
                    .header(
                        "Title",
                        format!("Vitals on {}: {}", self.host, alert.summary),
                    )
                    .header("Priority", priority)
                    .header("Tags", tags)
                    .body(line(&self.host, alert))
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| delivery_error(e, &self.url))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!(
                "answered {status}: redirects are not followed, configure the address it points to"
            ))
        } else {
            Err(format!("answered {status}"))
        }
    }
}

/// `{"host": …, "alert": {…}}`.
pub fn generic_body(host: &str, alert: &Alert) -> String {
    serde_json::json!({ "host": host, "alert": alert }).to_string()
}

/// One line for chat: "[CRITICAL] vm: GPU temperature (GPU-…) 93 °C, firing since 12:00:01 UTC".
pub fn line(host: &str, alert: &Alert) -> String {
    let level = match (alert.state, alert.severity) {
        (AlertState::Resolved, _) => "RESOLVED",
        (_, AlertSeverity::Critical) => "CRITICAL",
        (_, AlertSeverity::Warning) => "WARNING",
    };
    let state = match alert.state {
        AlertState::Pending => "pending",
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    };
    let instance = if alert.instance.is_empty() {
        String::new()
    } else {
        format!(" ({})", alert.instance)
    };
    let detail = alert
        .detail
        .as_ref()
        .map_or(String::new(), |detail| format!(" — {detail}"));
    format!(
        "[{level}] {host}: {}{instance} {}, {state} since {}{detail}",
        alert.summary,
        alert_value(alert),
        crate::shared::format::clock_utc(alert.since.timestamp_millis())
    )
}

fn ntfy_priority(alert: &Alert) -> (&'static str, &'static str) {
    match (alert.state, alert.severity) {
        (AlertState::Resolved, _) => ("3", "white_check_mark"),
        (_, AlertSeverity::Critical) => ("5", "rotating_light"),
        (_, AlertSeverity::Warning) => ("4", "warning"),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_failed_delivery_names_no_part_of_the_url_but_its_scheme_and_host() {
        // A port nothing listens on: connection refused, with the URL in reqwest's own text.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = reqwest::Url::parse(&format!(
            "http://hook:s3cret-pass@127.0.0.1:{port}/services/T0/B0/s3cret-path?key=s3cret-key"
        ))
        .unwrap();
        let error = reqwest::Client::new()
            .post(url.clone())
            .send()
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("s3cret"),
            "reqwest's own text names it"
        );
        let said = super::delivery_error(error, &url);
        assert!(said.starts_with("cannot connect"), "{said}");
        assert!(!said.contains("s3cret"), "{said}");
    }

    use super::*;
    use chrono::DateTime;

    fn alert() -> Alert {
        Alert {
            rule: "gpu_temperature".into(),
            summary: "GPU temperature".into(),
            series: "gpu/GPU-a/temperature".into(),
            instance: "GPU-a".into(),
            severity: AlertSeverity::Critical,
            state: AlertState::Firing,
            value: Some(93.0),
            threshold: 90.0,
            started: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            since: DateTime::from_timestamp(1_767_225_660, 0).unwrap(),
            detail: None,
        }
    }

    #[test]
    fn each_format_says_what_where_and_how_much() {
        assert_eq!(
            line("vm", &alert()),
            "[CRITICAL] vm: GPU temperature (GPU-a) 93 °C, firing since 00:01:00 UTC"
        );
        let body: serde_json::Value = serde_json::from_str(&generic_body("vm", &alert())).unwrap();
        assert_eq!(body["host"], "vm");
        assert_eq!(body["alert"]["state"], "firing");
        let resolved = Alert {
            state: AlertState::Resolved,
            ..alert()
        };
        assert!(line("vm", &resolved).starts_with("[RESOLVED]"));
        assert_eq!(ntfy_priority(&resolved).0, "3");
    }

    #[test]
    fn only_http_urls_are_taken_and_shown_without_their_secret() {
        let hook = |url: &str| WebhookConfig {
            url: url.into(),
            format: WebhookFormat::Slack,
        };
        assert!(check(&hook("https://hooks.slack.com/services/T0/B0/secret")).is_ok());
        let error = check(&hook("file:///etc/passwd")).unwrap_err().to_string();
        assert!(error.contains("only http:// and https://"), "{error}");
        assert!(check(&hook("not a url")).is_err());
        assert_eq!(
            shown("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
    }
}
