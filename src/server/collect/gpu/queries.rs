//! Which NVML queries one GPU answers. A query the GPU or driver does not support is not asked
//! again until NVML is opened anew (it reads as absent, as the card meant); one that fails for
//! another reason is logged once, not every tick, and still never stops the rest of the GPU.

use nvml_wrapper::error::NvmlError;
use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct Queries {
    /// The GPU's index, for the log.
    gpu: u32,
    unsupported: HashSet<&'static str>,
    reported: HashSet<&'static str>,
}

impl Queries {
    pub fn for_gpu(gpu: u32) -> Self {
        Queries {
            gpu,
            ..Default::default()
        }
    }

    /// Runs `query` (named `name` in the log) unless the GPU said it does not support it. The
    /// value, None when there is none, or the error that makes the whole GPU unreadable.
    pub fn read<T>(
        &mut self,
        name: &'static str,
        query: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Result<Option<T>, NvmlError> {
        if self.unsupported.contains(name) {
            return Ok(None);
        }
        match query() {
            Ok(value) => Ok(Some(value)),
            Err(error) if needs_reinit(&error) => Err(error),
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
        let mut queries = Queries::default();
        let asked = Cell::new(0);
        let query = || {
            asked.set(asked.get() + 1);
            Err::<u32, _>(NvmlError::NotSupported)
        };
        assert_eq!(queries.read("fan", query).ok(), Some(None));
        assert_eq!(queries.read("fan", query).ok(), Some(None));
        assert_eq!(asked.get(), 1);
        assert!(queries.unsupported.contains("fan"));
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
