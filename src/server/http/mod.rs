//! HTTP plumbing every route shares, knowing nothing of the capabilities it serves: JSON errors,
//! bounded bodies, query parsing, the Host check and security headers, the listener and its
//! connection cap, the embedded site, and bearer tokens.

pub mod body;
pub mod error;
pub mod guard;
pub mod listen;
pub mod query;
pub mod server_page;
pub mod site;
pub mod token;
