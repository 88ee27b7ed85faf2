//! The page's seed travels inside the page: the server renders it as a JSON data block in the head
//! (never executed, so the page's script policy is untouched) and the browser reads it back before
//! the dashboard hydrates. Both sides then start from the same store and render the same values.

use crate::wire::PageSeed;

/// The id of the `<script type="application/json">` element holding the seed.
pub const SEED_ELEMENT_ID: &str = "vitals-seed";

/// The seed as text safe inside a `<script>` element: JSON can only hold `<` inside strings, where
/// `\u003c` means the same, so no `</script>` or `<!--` can end the block early.
pub fn embeddable_json(seed: &PageSeed) -> Option<String> {
    serde_json::to_string(seed)
        .ok()
        .map(|json| json.replace('<', "\\u003c"))
}

/// The seed this page starts from: on the server, the one the shell computed for this request; in
/// the browser, the one the page carries. None when there is none (the dashboard then starts empty
/// and fills from the socket).
pub fn page_seed() -> Option<PageSeed> {
    #[cfg(feature = "hydrate")]
    {
        let text = web_sys::window()?
            .document()?
            .get_element_by_id(SEED_ELEMENT_ID)?
            .text_content()?;
        crate::shared::json::from_text(&text)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        leptos::prelude::use_context::<PageSeed>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GpuStatus, Hello, StoreSeed};

    #[test]
    fn embedded_json_cannot_close_its_script_and_reads_back_the_same() {
        let seed = PageSeed {
            hello: Hello {
                protocol: 1,
                server_version: "0".into(),
                epoch: 1,
                interval_seconds: 2.0,
                history_seconds: 3600,
                server_time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                hostname: "</script><script>alert(1)</script><!--".into(),
                boot_time: None,
                channels: vec![],
                gpu_status: GpuStatus::Available {
                    driver_version: None,
                    cuda_version: None,
                    count: 0,
                },
                persistence: None,
            },
            history: StoreSeed {
                window_ms: 60_000,
                ..Default::default()
            },
            alerts: Vec::new(),
        };
        let json = embeddable_json(&seed).unwrap();
        assert!(!json.contains('<'), "{json}");
        let back: PageSeed = serde_json::from_str(&json).unwrap();
        assert_eq!(back, seed);
    }
}
