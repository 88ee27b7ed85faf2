//! Which NVML queries one GPU answers, and how often they are asked. A query the GPU or driver
//! does not support is not asked again until NVML is opened anew (it reads as absent, as the card
//! meant); one that fails for another reason is logged once, not every tick, and still never
//! stops the rest of the GPU. A query of a slowly changing value (a counter, a mode) that proved
//! slow (some drivers take milliseconds for the energy counter) is asked again only when its
//! answer is old, and its last answer stands in between.

use crate::server::collect::gpu::GpuCost;
use nvml_wrapper::error::NvmlError;
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A query that took longer than this is a slow one.
pub const SLOW_QUERY: Duration = Duration::from_millis(1);

/// The last answer of a slow query, and when it was asked.
type Kept = (Instant, Box<dyn Any + Send>);

#[derive(Default)]
pub struct Queries {
    /// The GPU's index, for the log.
    gpu: u32,
    /// Where each query's time is added.
    cost: Arc<GpuCost>,
    unsupported: HashSet<&'static str>,
    reported: HashSet<&'static str>,
    /// The last answers of the slow queries of slowly changing values.
    kept: HashMap<&'static str, Kept>,
}

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("gpu", &self.gpu)
            .field("unsupported", &self.unsupported)
            .field("kept", &self.kept.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Queries {
    pub fn for_gpu(gpu: u32, cost: Arc<GpuCost>) -> Self {
        Queries {
            gpu,
            cost,
            ..Default::default()
        }
    }

    /// Like [`Queries::read`], for a value that changes slowly: when asking took longer than
    /// [`SLOW_QUERY`], the answer is kept and given again until it is `max_age` old.
    pub fn read_slowly<T: Clone + Send + 'static>(
        &mut self,
        name: &'static str,
        max_age: Duration,
        query: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Result<Option<T>, NvmlError> {
        let now = Instant::now();
        if let Some((at, value)) = self.kept.get(name)
            && now.duration_since(*at) < max_age
            && let Some(value) = value.downcast_ref::<Option<T>>()
        {
            return Ok(value.clone());
        }
        let value = self.ask(name, gpu_is_gone, query)?;
        // Only an answer stands in: a failure (a timeout is slow by nature) is asked again.
        if value.is_some() && now.elapsed() > SLOW_QUERY {
            self.kept.insert(name, (now, Box::new(value.clone())));
        } else {
            self.kept.remove(name);
        }
        Ok(value)
    }

    /// Runs `query` (named `name` in the log) unless the GPU said it does not support it. The
    /// value, None when there is none, or the error that makes the whole GPU unreadable.
    pub fn read<T>(
        &mut self,
        name: &'static str,
        query: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Result<Option<T>, NvmlError> {
        self.ask(name, needs_reinit, query)
    }

    /// Like [`Queries::read`] for a value beyond the first screen: a rarely used query that
    /// answers "unknown error" fails alone; only a GPU that is gone stops the reading.
    pub fn read_extra<T>(
        &mut self,
        name: &'static str,
        query: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Result<Option<T>, NvmlError> {
        self.ask(name, gpu_is_gone, query)
    }

    fn ask<T>(
        &mut self,
        name: &'static str,
        fatal: fn(&NvmlError) -> bool,
        query: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Result<Option<T>, NvmlError> {
        if self.unsupported.contains(name) {
            return Ok(None);
        }
        let started = Instant::now();
        let answer = query();
        self.cost.add_query(name, started.elapsed());
        match answer {
            Ok(value) => Ok(Some(value)),
            Err(error) if fatal(&error) => Err(error),
            Err(error) if unsupported(&error) => {
                self.unsupported.insert(name);
                Ok(None)
            }
            Err(error) => {
                if self.reported.insert(name) {
                    tracing::warn!(
                        "GPU {}: reading its {name} failed ({error}); it shows as absent until it reads again",
                        self.gpu
                    );
                }
                Ok(None)
            }
        }
    }
}

/// Errors that mean the GPU (or the driver under it) is gone, not just that one reading is missing.
pub fn needs_reinit(error: &NvmlError) -> bool {
    matches!(
        error,
        NvmlError::GpuLost
            | NvmlError::Unknown
            | NvmlError::ResetRequired
            | NvmlError::Uninitialized
            | NvmlError::DriverNotLoaded
    )
}

/// Errors that mean the GPU or the driver is gone, whatever was asked.
pub fn gpu_is_gone(error: &NvmlError) -> bool {
    needs_reinit(error) && !matches!(error, NvmlError::Unknown)
}

/// Errors that say the card, its driver or the library cannot answer this query at all.
fn unsupported(error: &NvmlError) -> bool {
    matches!(
        error,
        NvmlError::NotSupported | NvmlError::FailedToLoadSymbol(_) | NvmlError::FunctionNotFound
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn an_unsupported_query_is_not_asked_again() {
        let cost = Arc::new(GpuCost::default());
        let mut queries = Queries::for_gpu(0, cost.clone());
        let asked = Cell::new(0);
        let query = || {
            asked.set(asked.get() + 1);
            Err::<u32, _>(NvmlError::NotSupported)
        };
        assert_eq!(queries.read("fan", query).ok(), Some(None));
        assert_eq!(queries.read("fan", query).ok(), Some(None));
        assert_eq!(asked.get(), 1);
        assert!(queries.unsupported.contains("fan"));
        assert_eq!(
            cost.query_nanos().len(),
            1,
            "timed when asked, not when skipped"
        );
        let missing = || Err::<u32, _>(NvmlError::FailedToLoadSymbol("x".into()));
        assert_eq!(queries.read("pcie", missing).ok(), Some(None));
        assert!(queries.unsupported.contains("pcie"));
    }

    #[test]
    fn other_failures_are_asked_again_and_reported_once() {
        let mut queries = Queries::default();
        let refused = || Err::<u32, _>(NvmlError::NoPermission);
        assert_eq!(queries.read("ecc", refused).ok(), Some(None));
        assert_eq!(queries.read("ecc", || Ok(3)).ok(), Some(Some(3)));
        assert!(!queries.unsupported.contains("ecc"));
        assert_eq!(queries.reported.len(), 1);
        assert!(queries.read("ecc", refused).is_ok());
        assert_eq!(queries.reported.len(), 1, "reported once");
    }

    #[test]
    fn a_slow_answer_stands_in_until_it_is_old_and_a_quick_one_never_does() {
        let mut queries = Queries::default();
        let asked = Cell::new(0);
        let slow = || {
            asked.set(asked.get() + 1);
            std::thread::sleep(SLOW_QUERY * 2);
            Ok(asked.get())
        };
        let long = Duration::from_secs(60);
        assert_eq!(
            queries.read_slowly("energy", long, slow).ok(),
            Some(Some(1))
        );
        assert_eq!(
            queries.read_slowly("energy", long, slow).ok(),
            Some(Some(1))
        );
        assert_eq!(asked.get(), 1, "kept");
        assert_eq!(
            queries.read_slowly("energy", Duration::ZERO, slow).ok(),
            Some(Some(2)),
            "asked again once old"
        );
        let quick = || {
            asked.set(asked.get() + 1);
            Ok(asked.get())
        };
        assert_eq!(
            queries.read_slowly("pstate", long, quick).ok(),
            Some(Some(3))
        );
        assert_eq!(
            queries.read_slowly("pstate", long, quick).ok(),
            Some(Some(4))
        );
    }

    #[test]
    fn an_unknown_error_stops_a_first_screen_reading_but_not_an_extra_one() {
        let mut queries = Queries::default();
        let unknown = || Err::<u32, _>(NvmlError::Unknown);
        assert!(queries.read("utilization", unknown).is_err());
        assert_eq!(queries.read_extra("ECC mode", unknown).ok(), Some(None));
        let long = Duration::from_secs(60);
        assert_eq!(
            queries.read_slowly("energy", long, unknown).ok(),
            Some(None)
        );
        let lost = || Err::<u32, _>(NvmlError::GpuLost);
        assert!(queries.read_extra("ECC mode", lost).is_err());
    }

    #[test]
    fn a_slow_failure_does_not_stand_in() {
        let mut queries = Queries::default();
        let slow_failure = || {
            std::thread::sleep(SLOW_QUERY * 2);
            Err::<u32, _>(NvmlError::Timeout)
        };
        let long = Duration::from_secs(60);
        assert_eq!(
            queries
                .read_slowly("PCIe counters", long, slow_failure)
                .ok(),
            Some(None)
        );
        assert_eq!(
            queries.read_slowly("PCIe counters", long, || Ok(5)).ok(),
            Some(Some(5)),
            "asked again"
        );
    }

    #[test]
    fn a_lost_gpu_stops_the_reading() {
        let mut queries = Queries::default();
        assert!(
            queries
                .read("temperature", || Err::<u32, _>(NvmlError::GpuLost))
                .is_err()
        );
        assert!(needs_reinit(&NvmlError::Unknown));
        assert!(!needs_reinit(&NvmlError::NotSupported));
        assert!(!needs_reinit(&NvmlError::NoPermission));
    }
}
