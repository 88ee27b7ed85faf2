//! Errors as JSON bodies and as the page reads a failed server function.

use serde::{Deserialize, Serialize};

/// Why a server function (`/api/system/metrics`, `/gpus`, `/seed`) failed, as the page reads it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum ServerFnFailure {
    /// The server answered but could not produce the value (its state was missing).
    Server(String),
    /// The request or its answer did not get through (network, encoding).
    Request(String),
}

impl std::fmt::Display for ServerFnFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerFnFailure::Server(message) => write!(f, "the server failed: {message}"),
            ServerFnFailure::Request(message) => write!(f, "the request failed: {message}"),
        }
    }
}

/// Every JSON error body: one sentence a person can act on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ApiError {
    pub error: String,
}
