//! The process table's collection: one scan of `/proc` with rates, its rows, and the busiest.

pub mod rows;
pub mod scan;
pub mod top;
