//! Helpers shared by the integration tests.

// Each test binary includes this module but uses only some of the helpers.
#![allow(dead_code)]

pub mod binary;
pub mod fake_nvml;
pub mod http;
pub mod process;
pub mod prometheus;
pub mod server;
pub mod ws;
