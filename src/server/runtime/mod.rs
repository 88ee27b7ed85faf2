//! Helpers every server folder may use: lock-poison recovery and handing freed heap back.

pub mod heap;
pub mod lock;
