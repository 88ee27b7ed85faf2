//! Shared by the benchmarks of this crate: `vitals-load` (fan-out under load) and `vitals-soak`
//! (many clients for a long time, with churn and emits).

pub mod options;
pub mod process;
