//! History answers: the tiers of the database, a span read from it, and a channel's ring.

use super::socket::{Envelope, Persistence};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The tiers of the history database, finest first: raw samples, 1-minute and 1-hour rollups.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Raw,
    Minute,
    Hour,
}

/// One bucket of one series: `[start ms, min, avg, max]`.
pub type BucketValues = [f64; 4];

/// `GET /api/system/history?from=…&to=…&points=…`: a span read from the history database.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RangeAnswer {
    pub from: i64,
    pub to: i64,
    pub tier: Tier,
    pub bucket_ms: i64,
    /// The newest time the answer covers (the end of its newest tick or rollup), so a page can
    /// draw what came after it from its own live samples; None when the span holds no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<i64>,
    /// Per series, its buckets that hold data, oldest first. A bucket with no data is absent, so
    /// a stretch when Vitals was not running is a gap, never a line across it.
    pub series: BTreeMap<String, Vec<BucketValues>>,
    /// Whether history is being saved now, and if not why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
}

/// `GET /api/system/history`: what the server's ring holds for one channel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChannelHistory {
    pub epoch: u64,
    pub channel: String,
    pub messages: Vec<Envelope>,
}
