//! What the server answers: the shared state, the router that mounts every capability's routes,
//! the REST reads, the WebSocket, sign-in, and the page shell.

pub mod api;
pub mod auth;
pub mod router;
pub mod shell;
pub mod state;
pub mod ws;
