//! Alerts: comparisons, severities and states, one alert as it stands, and webhook status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The channel alert events are published on.
pub const CHANNEL_ALERTS: &str = "system/alerts";
/// The event name of an alert's change.
pub const EVENT_ALERT: &str = "alert";

/// Which way a value must go to alert.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertComparison {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<=")]
    AtMost,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    Warning,
    Critical,
}

impl AlertSeverity {
    /// Its name as the wire spells it (`warning`, `critical`).
    pub fn name(self) -> &'static str {
        match self {
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// Pending (past the threshold, not yet for long enough), firing, or resolved (back, or gone).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
    Resolved,
}

/// One alert as it stands after a change: what `system/alerts` carries and the API lists.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Alert {
    pub rule: String,
    /// What it is about, in words.
    pub summary: String,
    /// The series watched, e.g. `gpu/GPU-…/temperature`.
    pub series: String,
    /// What the rule's `*` stood for (a GPU's UUID, a mount point); empty for a plain series.
    pub instance: String,
    pub severity: AlertSeverity,
    pub state: AlertState,
    /// The value that made the change; None when the series went away.
    pub value: Option<f64>,
    /// The threshold of the severity.
    pub threshold: f64,
    /// When it first went past the threshold.
    pub started: DateTime<Utc>,
    /// When its current state began.
    pub since: DateTime<Utc>,
    /// What the value alone does not say, e.g. who holds an idle GPU (for webhooks and the API:
    /// the page says it on the GPU's card, so it does not read it back).
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET /api/system/alerts`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AlertList {
    /// Pending and firing, oldest first.
    pub active: Vec<Alert>,
    /// The latest changes, newest first.
    pub recent: Vec<Alert>,
    /// How delivery to each configured webhook is going.
    #[serde(default)]
    pub webhooks: Vec<WebhookStatus>,
}

/// The body a webhook is sent: Vitals' own JSON, or what a chat or push service takes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Generic,
    Slack,
    Discord,
    Ntfy,
}

/// Deliveries to one webhook since start.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct WebhookStatus {
    /// Scheme and host only: the rest of a webhook's URL is often its secret.
    pub url: String,
    pub format: WebhookFormat,
    pub delivered: u64,
    pub failed_attempts: u64,
    /// Changes dropped because the webhook's queue was full.
    pub dropped: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
