//! Helpers shared by the integration tests.

pub mod binary;
pub mod cgroups;
pub mod engine;
pub mod fake_nvml;
pub mod http;
pub mod process;
pub mod prometheus;
pub mod server;
pub mod webhook;
pub mod ws;
