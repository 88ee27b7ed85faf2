//! Vitals: one crate built twice — the server (`ssr`) and the hydrated browser app (`hydrate`).
// The page shell's view type (two documents behind one `AnyView`) is deeper than the default allows.
#![recursion_limit = "256"]
pub mod app;
pub mod shared;
pub mod wire;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point the generated JavaScript calls once the WASM module is loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
