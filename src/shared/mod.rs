//! What both sides compute but never send: the metrics store a page seed is cut from (the page
//! keeps one, the server another), the formatting of values for people, JSON reading, and the
//! source the page's server functions read.

pub mod format;
pub mod json;
#[cfg(feature = "ssr")]
pub mod page_source;
pub mod store;
