//! Where collected values go: the sampler thread and its latest snapshot, the process-table scans,
//! the pages' typed history, XID events, and the prefill of a demo history.

pub mod latest;
pub mod page_history;
pub mod prefill;
pub mod process_watch;
pub mod sampler;
pub mod xid_events;
