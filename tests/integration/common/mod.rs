//! Helpers shared by the integration tests.

pub mod binary;
pub mod fake_nvml;
pub mod http;
pub mod process;
pub mod prometheus;
pub mod server;
pub mod ws;
