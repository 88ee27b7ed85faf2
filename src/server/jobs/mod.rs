//! Jobs: what local processes emit on `jobs/` channels. The convention their messages follow, the
//! emit route that takes them, the job book built from them, a job's fields over time, its run
//! report, the emit token file, and the `vitals emit` command that sends them.

pub mod book;
pub mod cli;
pub mod convention;
pub mod emit;
pub mod emit_token;
pub mod fields;
pub mod report;

use crate::server::history::Durable;
use crate::server::hub::Hub;
use crate::wire::GpuMetrics;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The GPUs as last sampled, read through a function so jobs/ depends on no part of the pipeline
/// (the pipeline's sampler feeds the book, so the reverse import would close a circle).
pub type GpusNow = Arc<dyn Fn() -> Vec<GpuMetrics> + Send + Sync>;

/// What the jobs' routes need: the book, the hub they publish on, the history they are saved in,
/// the emit token with the file it was written to (named when a token is wrong), and for the run
/// reports the GPUs now, the turn history reads take, the ended runs' reports and their settings.
#[derive(Clone)]
pub struct Jobs {
    pub book: Arc<book::JobBook>,
    pub hub: Arc<Hub>,
    pub durable: Durable,
    pub emit_token: Arc<str>,
    pub emit_token_file: Arc<Path>,
    pub gpus_now: GpusNow,
    pub history_reads: Arc<Semaphore>,
    pub reports: Arc<report::cache::ReportCache>,
    pub report_settings: Arc<report::ReportSettings>,
}
