//! The one reader of `/proc`: process names, users and command lines (`info`), a process's
//! `stat`, `status` and `io` files (`stat`), shared by the GPU processes, the jobs and the table,
//! and who owns a local TCP connection (`sockets`).

pub mod info;
pub mod sockets;
pub mod stat;
