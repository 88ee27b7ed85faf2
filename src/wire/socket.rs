//! What travels over the WebSocket: envelopes, the hello, and the messages each way.

use super::gpu::GpuStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One message on one channel: a metrics sample or an event a local process emitted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Envelope {
    pub channel: String,
    pub event: String,
    pub data: Value,
    pub timestamp: DateTime<Utc>,
    /// Increases by one per message on this channel within one server epoch.
    pub seq: u64,
}

/// Sent first on every socket: what the server is and what it publishes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Hello {
    pub protocol: u32,
    pub server_version: String,
    /// Changes when the server restarts, so a client can tell a restart from a gap.
    pub epoch: u64,
    pub interval_seconds: f64,
    pub history_seconds: u64,
    pub server_time: DateTime<Utc>,
    pub hostname: String,
    /// When the machine booted, for the uptime the header shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<DateTime<Utc>>,
    pub channels: Vec<String>,
    pub gpu_status: GpuStatus,
    /// Whether history is kept on disk; absent when the server runs with --no-persist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
}

/// Whether the server is saving its history to disk, where, and if not, why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Persistence {
    pub saving: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong, in words a person can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What the server sends over the socket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    /// A channel message (metrics or an emitted event).
    Message(Envelope),
    /// The subscription now covers these patterns.
    Subscribed {
        channels: Vec<String>,
    },
    Unsubscribed {
        channels: Vec<String>,
    },
    /// The missed messages of a channel could not be replayed: drop what you hold of it and refetch.
    Reset {
        channel: String,
        reason: String,
    },
    /// The client sent something the server could not use; the socket stays open.
    Error {
        message: String,
    },
    Pong,
    /// Whether history is being saved changed (say, the disk filled up): sent to every client.
    Persistence(Persistence),
}

/// What the browser (or any client) sends over the socket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Subscribe to channels or patterns; `since` maps a channel to the last seq the client holds, and
    /// `epoch` is the server epoch that seq belongs to.
    Subscribe {
        channels: Vec<String>,
        #[serde(default)]
        since: BTreeMap<String, u64>,
        #[serde(default)]
        epoch: Option<u64>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Ping,
}
