//! The one reader of `/proc`: process names, users and command lines (`info`), and a process's
//! `stat`, `status` and `io` files (`stat`), shared by the GPU processes, the jobs and the table.

pub mod info;
pub mod stat;
