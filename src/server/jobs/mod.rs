//! Jobs: what local processes emit on `jobs/` channels. The convention their messages follow, the
//! emit route that takes them, the job book built from them, a job's fields over time, the emit
//! token file, and the `vitals emit` command that sends them.

pub mod book;
pub mod cli;
pub mod convention;
pub mod emit;
pub mod emit_token;
pub mod fields;

use crate::server::history::Durable;
use crate::server::hub::Hub;
use std::path::Path;
use std::sync::Arc;

/// What the jobs' routes need: the book, the hub they publish on, the history they are saved in,
/// and the emit token with the file it was written to (named when a token is wrong).
#[derive(Clone)]
pub struct Jobs {
    pub book: Arc<book::JobBook>,
    pub hub: Arc<Hub>,
    pub durable: Durable,
    pub emit_token: Arc<str>,
    pub emit_token_file: Arc<Path>,
}
