//! Helpers every server folder may use: lock-poison recovery, handing freed heap back, and
//! heavy answers built in turn off the async workers.

pub mod heap;
pub mod lock;
pub mod turns;
