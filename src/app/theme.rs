//! The theme: dark charts when the page is dark, and the toggle that switches the page's theme.

use super::chart_view::DarkCharts;
use leptos::prelude::*;

/// Switches between light and dark, starting from what the system prefers; the page's CSS follows
/// the root's `data-theme`, the charts follow `DarkCharts`.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let chosen = RwSignal::new(None::<&'static str>);
    let dark_charts = use_context::<DarkCharts>();
    let toggle = move |_| {
        let next = match chosen.get_untracked() {
            Some("dark") => "light",
            Some("light") => "dark",
            _ if prefers_dark() => "light",
            _ => "dark",
        };
        chosen.set(Some(next));
        if let Some(DarkCharts(dark)) = dark_charts {
            dark.set(next == "dark");
        }
        page::set_root_theme(next);
    };
    view! {
        <button class="theme" data-testid="theme-toggle" on:click=toggle aria-label="Toggle light or dark theme">
            "◐"
        </button>
    }
}

/// Whether the system asks for a dark page (always false while rendering on the server).
pub fn prefers_dark() -> bool {
    page::prefers_dark()
}

#[cfg(feature = "hydrate")]
mod page {
    pub fn prefers_dark() -> bool {
        web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches())
    }

    pub fn set_root_theme(theme: &str) {
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-theme", theme);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod page {
    pub fn prefers_dark() -> bool {
        false
    }

    pub fn set_root_theme(_theme: &str) {}
}
