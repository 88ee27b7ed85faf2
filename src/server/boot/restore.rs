//! What a start restores from the history database before it serves: the saved ticks and events
//! of the last history window, published again (in this epoch) so the channels, the pages, the
//! job book and the XID log start where the last run left off; and the demo prefill.

use crate::server::collect::Snapshot;
use crate::server::config::Config;
use crate::server::history::{self, Durable, Row, events::SavedEvent};
use crate::server::jobs::book::JobBook;
use crate::server::pipeline::prefill;
use crate::server::pipeline::sampler::{self, Outlets};
use std::sync::Arc;
use std::time::Duration;

/// The saved ticks and events of the last history window.
pub(super) struct Saved {
    pub(super) events: Vec<SavedEvent>,
    ticks: Vec<Row>,
}

impl Saved {
    /// Read once at start; a database that cannot be read is named and skipped.
    pub(super) fn read(durable: &Durable, epoch: u64, window: Duration) -> Saved {
        let since = epoch as i64 - window.as_millis() as i64;
        let Some(db) = &durable.db else {
            return Saved {
                events: Vec::new(),
                ticks: Vec::new(),
            };
        };
        let events = db.recent_events(since).unwrap_or_else(|error| {
            tracing::warn!("cannot read the saved events: {error}");
            Vec::new()
        });
        let ticks = db.recent(since).unwrap_or_else(|error| {
            tracing::warn!("cannot read the saved history: {error}");
            Vec::new()
        });
        Saved { events, ticks }
    }

    /// Each saved tick published again (its shape taken from the priming sample), then each
    /// saved event, which also rebuilds the job book.
    pub(super) fn republish(self, primed: &Snapshot, outlets: &Outlets, jobs: &JobBook) {
        for (at, values) in self.ticks {
            let snapshot = history::series::snapshot_of(primed, at, &values);
            sampler::publish(&outlets.hub, &outlets.page_history, &Arc::new(snapshot));
        }
        for saved in self.events {
            let (Ok(data), Some(at)) = (
                serde_json::from_str(&saved.data),
                chrono::DateTime::from_timestamp_millis(saved.at_ms),
            ) else {
                continue;
            };
            jobs.record(&saved.channel, &saved.event, &data, at, None);
            let _ = outlets.hub.publish(&saved.channel, &saved.event, data, at);
        }
    }
}

/// `--prefill-database-hours` and `--prefill-history`: a made-up past, for demos and benchmarks.
pub(super) fn prefill(config: &Config, primed: &Snapshot, outlets: &Outlets) {
    if let (Some(window), Some(recorder)) = (config.prefill_database, &outlets.durable.recorder) {
        let outage = prefill::outage(primed, window);
        for sample in prefill::samples(primed, window, config.interval) {
            if outage.contains(&sample.timestamp.timestamp_millis()) {
                continue;
            }
            if let Err(stopped) = recorder.record_waiting(&Arc::new(sample)) {
                tracing::warn!("prefilling the history database: {stopped}");
                break;
            }
        }
    }
    if config.prefill_history {
        for sample in prefill::samples(primed, config.history, config.interval) {
            sampler::publish(&outlets.hub, &outlets.page_history, &Arc::new(sample));
        }
    }
}
