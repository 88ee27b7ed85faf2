//! The server side, one folder per capability. `boot` wires them together at start; `web` serves
//! them (state, router, REST, WebSocket, sign-in, page shell) over the plumbing in `http`.
//! Collection (`collect`) feeds the `pipeline` (sampler, process scans, page history), which
//! publishes to the `hub`, the `history` database and the `alerts`; `jobs`, `fleet` and
//! `prometheus` are capabilities of their own. `runtime` holds the few helpers every folder uses.

pub mod alerts;
pub mod boot;
pub mod collect;
pub mod config;
pub mod fleet;
pub mod health;
pub mod history;
pub mod http;
pub mod hub;
pub mod jobs;
pub mod pipeline;
pub mod prometheus;
pub mod runtime;
pub mod usage;
pub mod web;
