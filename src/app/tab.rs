//! What a pinned tab shows on its own: the machine's name and CPU in the title, and a favicon that
//! is a CPU gauge in the colour of the connection's state.

use super::connection::ConnectionState;
use super::live::Live;
use leptos::prelude::*;
use leptos_meta::Title;

/// `vm · 55 % CPU · Vitals`.
pub fn tab_title(hostname: &str, cpu_percent: Option<f32>) -> String {
    match (hostname.is_empty(), cpu_percent) {
        (false, Some(cpu)) => format!("{hostname} · {cpu:.0} % CPU · Vitals"),
        (false, None) => format!("{hostname} · Vitals"),
        (true, _) => "Vitals".into(),
    }
}

/// A 16×16 SVG as a data URL: a bar as tall as the CPU's use, green while live, amber while the
/// page reconnects or polls, red when it is offline.
pub fn favicon(state: ConnectionState, cpu_percent: f32) -> String {
    let colour = match state {
        ConnectionState::Live => "%2316a34a",
        ConnectionState::Offline { .. } => "%23dc2626",
        _ => "%23d97706",
    };
    let height = (cpu_percent.clamp(0.0, 100.0) / 100.0 * 12.0)
        .round()
        .max(1.0);
    format!(
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E\
         %3Crect width='16' height='16' rx='3' fill='%23334155'/%3E\
         %3Crect x='3' y='{y}' width='10' height='{height}' rx='1' fill='{colour}'/%3E%3C/svg%3E",
        y = 14.0 - height
    )
}

/// The title (rendered with the page, so it is right before any script runs) and, in the browser,
/// the favicon, changed only when what it draws changes.
#[component]
pub fn TabStatus() -> impl IntoView {
    let live = expect_context::<Live>();
    let cpu = Memo::new(move |_| {
        live.store
            .with(|s| s.cpu.as_ref().map(|c| c.usage_percent.round()))
    });
    let title = move || {
        let hostname = live
            .hello
            .with(|h| h.as_ref().map(|h| h.hostname.clone()).unwrap_or_default());
        tab_title(&hostname, cpu.get())
    };
    #[cfg(feature = "hydrate")]
    {
        let icon = Memo::new(move |_| favicon(live.state.get(), cpu.get().unwrap_or(0.0)));
        Effect::new(move |_| set_favicon(&icon.get()));
    }
    view! { <Title text=title /> }
}

#[cfg(feature = "hydrate")]
fn set_favicon(href: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(Some(link)) = document.query_selector("link[rel='icon']") {
        let _ = link.set_attribute("href", href);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_names_the_machine_and_its_cpu() {
        assert_eq!(tab_title("vm", Some(55.4)), "vm · 55 % CPU · Vitals");
        assert_eq!(tab_title("vm", None), "vm · Vitals");
        assert_eq!(tab_title("", Some(3.0)), "Vitals");
    }

    #[test]
    fn the_favicon_is_a_cpu_gauge_in_the_states_colour() {
        let live = favicon(ConnectionState::Live, 50.0);
        assert!(live.starts_with("data:image/svg+xml,"));
        assert!(
            live.contains("height='6'") && live.contains("y='8'"),
            "{live}"
        );
        assert!(live.contains("%2316a34a"));
        let offline = favicon(ConnectionState::Offline { attempt: 3 }, 0.0);
        assert!(offline.contains("%23dc2626") && offline.contains("height='1'"));
        assert!(
            !live.contains('#') && !live.contains('<'),
            "encoded for a URL"
        );
    }
}
