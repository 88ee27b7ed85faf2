//! The integration tests, linked as one binary: each module drives the real server (in process or
//! the built binary), the fake NVML library, a real Prometheus, nginx or systemd's tools. One binary
//! links the crate once instead of once per file; `cargo test --features ssr --test integration
//! fuzz::` runs one module.
#![cfg(feature = "ssr")]

mod common;

mod alerts;
mod cli;
mod collectors_smoke;
mod dashboards;
mod durable_history;
mod emit_cli;
mod fleet;
mod fuzz;
mod gpu_fake_nvml;
mod gpu_profiling;
mod hardening;
mod health;
mod health_metrics;
mod jobs;
mod owners;
mod page;
mod processes;
mod prometheus_rules;
mod prometheus_scrape;
mod remote_access;
mod streaming;
mod systemd_unit;
mod tls_proxy;
mod usage;
mod xid_errors;
