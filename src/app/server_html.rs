//! Parts of the dashboard the server draws (the Health card, a job's run report): their HTML
//! fetched and put in place, so the WASM carries none of what they show.

/// Puts the HTML the server answers at `url` into `slot`; a failed request leaves what is there.
#[cfg(feature = "hydrate")]
pub async fn fill(slot: &web_sys::Element, url: &str) {
    let Ok(response) = gloo_net::http::Request::get(url).send().await else {
        return;
    };
    if !response.ok() {
        return;
    }
    if let Ok(html) = response.text().await {
        // Our own server's HTML, every value escaped as it was drawn.
        slot.set_inner_html(&html);
    }
}
