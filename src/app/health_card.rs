//! The dashboard's Health card. The server draws it (`/health/card`: "All 14 checks pass", or
//! each thing wrong with what to do); the page puts that HTML in place on load and every
//! [`REFRESH_MS`] while it is visible, so the WASM carries none of the list.

use leptos::prelude::*;

/// How often the card is asked again: the checks change with SMART reads and alerts, not ticks.
#[cfg(feature = "hydrate")]
const REFRESH_MS: u32 = 10_000;

#[component]
pub fn HealthCard() -> impl IntoView {
    let slot = NodeRef::<leptos::html::Section>::new();
    #[cfg(feature = "hydrate")]
    {
        let live = expect_context::<crate::app::live::Live>();
        Effect::new(move |_| {
            leptos::task::spawn_local(async move {
                loop {
                    if live.page_visible.get_untracked() {
                        fill(slot).await;
                    }
                    gloo_timers::future::TimeoutFuture::new(REFRESH_MS).await;
                    if slot.get_untracked().is_none() {
                        break;
                    }
                }
            });
        });
    }
    view! { <section class="card health" node_ref=slot data-testid="health-slot"></section> }
}

/// Puts the server's card in the slot; a failed request leaves the last one.
#[cfg(feature = "hydrate")]
async fn fill(slot: NodeRef<leptos::html::Section>) {
    if let Some(section) = slot.get_untracked() {
        crate::app::server_html::fill(&section, "/health/card").await;
    }
}
