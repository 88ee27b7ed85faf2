//! Where XID errors go: each new one is published on its GPU's channel and saved with the
//! history, and those saved are taken back at start, so a restart does not forget them.

use crate::server::collect::gpu::xid::XidLog;
use crate::server::history::events::SavedEvent;
use crate::server::history::writer::Recorder;
use crate::server::hub::Hub;
use crate::wire::{EVENT_XID, XidReport, gpu_channel};
use std::sync::Arc;

/// Sends every new XID error to the hub and, when history is saved, to the database.
pub fn connect(log: &XidLog, hub: Arc<Hub>, recorder: Option<Arc<Recorder>>) {
    log.set_sink(Box::new(move |gpu_index, gpu_uuid, error| {
        let report = XidReport {
            gpu_index,
            gpu_uuid: gpu_uuid.to_owned(),
            error: error.clone(),
        };
        let Ok(data) = serde_json::to_value(&report) else {
            return;
        };
        let channel = gpu_channel(gpu_index);
        if let Some(recorder) = &recorder {
            recorder.record_event(SavedEvent {
                at_ms: error.at.timestamp_millis(),
                channel: channel.clone(),
                event: EVENT_XID.into(),
                data: data.to_string(),
            });
        }
        let _ = hub.publish(&channel, EVENT_XID, data, error.at);
    }));
}

/// Takes back the XID errors among events saved before this start.
pub fn restore(log: &XidLog, saved: &[SavedEvent]) {
    for event in saved.iter().filter(|e| e.event == EVENT_XID) {
        if let Ok(report) = serde_json::from_str::<XidReport>(&event.data) {
            log.restore(&report.gpu_uuid, report.error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuMetrics, XidError};
    use chrono::Utc;

    #[test]
    fn an_error_is_published_on_its_gpu_channel_and_restored_from_what_was_saved() {
        let hub = Hub::new(1, std::time::Duration::from_secs(60), 8, 1 << 20);
        let log = XidLog::default();
        connect(&log, hub.clone(), None);
        let error = XidError {
            code: 79,
            at: Utc::now(),
            meaning: "GPU has fallen off the bus".into(),
        };
        log.record(2, "GPU-c", error.clone());
        let frames = hub.history("system/gpu/2", 0, None).unwrap();
        assert_eq!(frames.len(), 1);
        assert!(frames[0].as_str().contains(r#""event":"xid""#));
        assert!(frames[0].as_str().contains(r#""gpu_uuid":"GPU-c""#));

        let saved = SavedEvent {
            at_ms: error.at.timestamp_millis(),
            channel: "system/gpu/2".into(),
            event: EVENT_XID.into(),
            data: serde_json::to_string(&XidReport {
                gpu_index: 2,
                gpu_uuid: "GPU-c".into(),
                error,
            })
            .unwrap(),
        };
        let other = SavedEvent {
            event: "metrics".into(),
            ..saved.clone()
        };
        let restarted = XidLog::default();
        restore(&restarted, &[saved, other]);
        let mut gpu = GpuMetrics {
            uuid: "GPU-c".into(),
            ..Default::default()
        };
        restarted.attach(&mut gpu);
        assert_eq!(gpu.xid_count, Some(1));
        assert_eq!(gpu.xid_errors[0].code, 79);
    }
}
