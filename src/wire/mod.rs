//! Wire types: every message and metric the server sends and the browser reads, compiled on both
//! sides, one file per capability, and the series vocabulary (`series`) both sides name values by.
//! Everything is re-exported here, so a type is `crate::wire::Name` wherever it lives.
//!
//! Times are UTC and travel as ISO-8601 strings (chrono's serde). Fields a source cannot provide are
//! `None` and are left out of the JSON, never sent as zero.

pub mod alerts;
pub mod api;
pub mod channels;
pub mod fleet;
pub mod gpu;
pub mod health;
pub mod history;
pub mod job_report;
pub mod jobs;
pub mod metrics;
pub mod owners;
pub mod processes;
pub mod profiling;
pub mod seed;
pub mod series;
pub mod socket;
pub mod usage;

pub use alerts::*;
pub use api::*;
pub use channels::*;
pub use fleet::*;
pub use gpu::*;
pub use health::*;
pub use history::*;
pub use job_report::*;
pub use jobs::*;
pub use metrics::*;
pub use owners::*;
pub use processes::*;
pub use profiling::*;
pub use seed::*;
pub use socket::*;
pub use usage::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn gpu_channels_round_trip() {
        assert_eq!(gpu_channel(3), "system/gpu/3");
        assert_eq!(gpu_index_of("system/gpu/3"), Some(3));
        assert_eq!(gpu_index_of("system/gpu/x"), None);
        assert_eq!(gpu_index_of("system/cpu"), None);
    }

    #[test]
    fn patterns_match_prefixes_only_with_a_star() {
        assert!(pattern_matches(CHANNEL_GPU_ALL, "system/gpu/0"));
        assert!(!pattern_matches(CHANNEL_GPU_ALL, "system/cpu"));
        assert!(pattern_matches("system/cpu", "system/cpu"));
        assert!(!pattern_matches("system/cpu", "system/cpu2"));
    }

    #[test]
    fn server_messages_are_tagged_and_flat() {
        let msg = ServerMessage::Message(Envelope {
            channel: CHANNEL_CPU.into(),
            event: EVENT_METRICS.into(),
            data: serde_json::json!({"usage_percent": 1.0}),
            timestamp: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .into(),
            seq: 7,
        });
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["type"], "message");
        assert_eq!(json["channel"], "system/cpu");
        assert_eq!(json["seq"], 7);
        assert_eq!(json["timestamp"], "2026-01-02T03:04:05Z");
        let back: ServerMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn client_messages_reject_unknown_fields() {
        let ok: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","channels":["system/cpu"]}"#).unwrap();
        assert!(matches!(ok, ClientMessage::Subscribe { .. }));
        assert!(
            serde_json::from_str::<ClientMessage>(r#"{"type":"subscribe","chanels":[]}"#).is_err()
        );
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"dance"}"#).is_err());
    }

    #[test]
    fn unsupported_gpu_fields_are_absent_not_zero() {
        let gpu = GpuMetrics {
            index: 0,
            available: true,
            ..Default::default()
        };
        let json = serde_json::to_value(&gpu).unwrap();
        assert!(json.get("fan_percent").is_none());
        assert!(json.get("temperature_celsius").is_none());
    }
}
