//! Reports of ended runs, kept once their history is all saved: an ended run's figures no longer
//! change, so the Jobs card asking every few seconds reads the database once.

use crate::server::jobs::book::MAX_JOBS;
use crate::server::runtime::lock::lock;
use crate::wire::JobReport;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct ReportCache {
    /// By channel: the run's end (a channel started again is another run) and its report.
    reports: Mutex<HashMap<String, (i64, Arc<JobReport>)>>,
}

impl ReportCache {
    /// The kept report of the run of `channel` that ended at `ended_ms`.
    pub fn get(&self, channel: &str, ended_ms: i64) -> Option<Arc<JobReport>> {
        let reports = lock(&self.reports);
        let (ended, report) = reports.get(channel)?;
        (*ended == ended_ms).then(|| report.clone())
    }

    /// Keeps an ended run's report; past as many as the book keeps jobs, the oldest run goes.
    pub fn keep(&self, ended_ms: i64, report: Arc<JobReport>) {
        let mut reports = lock(&self.reports);
        if !reports.contains_key(&report.channel) && reports.len() >= MAX_JOBS {
            let oldest = reports
                .iter()
                .min_by_key(|(_, (ended, _))| *ended)
                .map(|(channel, _)| channel.clone());
            if let Some(oldest) = oldest {
                reports.remove(&oldest);
            }
        }
        reports.insert(report.channel.clone(), (ended_ms, report));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_kept_by_its_end_and_the_cache_is_bounded() {
        let cache = ReportCache::default();
        let report = |channel: &str| {
            let mut report: JobReport = serde_json::from_value(serde_json::json!({
                "channel": channel, "status": "ok", "from_ms": 0, "to_ms": 1,
                "duration_seconds": 0.0, "resolution": "raw samples", "gpus": [],
                "energy_kwh": 0.0, "throttled_seconds": {}, "host": {"cpu_saturated_seconds": 0.0, "swap_grew_bytes": 0.0},
                "fields": {}, "gaps": [], "missing": [], "summary": ""
            }))
            .unwrap();
            report.summary = channel.into();
            Arc::new(report)
        };
        cache.keep(10, report("jobs/a"));
        assert!(cache.get("jobs/a", 10).is_some());
        assert!(cache.get("jobs/a", 20).is_none(), "the channel ran again");
        for i in 0..MAX_JOBS as i64 {
            cache.keep(100 + i, report(&format!("jobs/n{i}")));
        }
        assert!(
            cache.get("jobs/a", 10).is_none(),
            "the oldest run made room"
        );
        assert_eq!(lock(&cache.reports).len(), MAX_JOBS);
    }
}
