//! The site embedded in a release binary (see build.rs): the WASM, its JS, the CSS, ECharts and
//! the icon, each with its gzip and brotli copies, served from memory with the encoding the
//! browser takes best and an ETag, so `vitals` needs no files beside it. A build that embedded
//! nothing serves the site from disk instead (`site_root`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

/// One file of the site, as the build found it.
pub struct SiteFile {
    /// Its address, e.g. `/pkg/vitals.wasm`.
    pub path: &'static str,
    pub raw: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
    /// A hash of its contents, quoted.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/site.rs"));

/// The embedded file at `path`, if any.
pub fn file(path: &str) -> Option<&'static SiteFile> {
    SITE.iter().find(|file| file.path == path)
}

/// Marks an answer made from the stored copies: the compression layer leaves it as it is, so a
/// browser that takes none of the stored encodings gets the raw file, not one compressed anew on
/// every request.
#[derive(Clone, Copy, Debug)]
pub struct Stored;

/// Whether the compression layer may compress this answer: not one made from the stored copies.
pub fn compressible(
    _: StatusCode,
    _: axum::http::Version,
    _: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> bool {
    extensions.get::<Stored>().is_none()
}

/// The file, in the best encoding `headers` accept, or 304 when the browser has it already; 405
/// for any method but GET and HEAD.
pub fn respond(file: &SiteFile, method: &Method, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .body(Body::empty())
            .unwrap_or_default();
    }
    let mut response = Response::builder()
        .extension(Stored)
        .header(header::ETAG, file.etag)
        // The names carry no hash: the browser asks again each time and mostly gets a 304.
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::VARY, "accept-encoding");
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| held(tags, file.etag));
    if cached {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let accepted = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (encoding, body) = match (file.brotli, file.gzip) {
        (Some(brotli), _) if accepts(accepted, "br") => (Some("br"), brotli),
        // x-gzip is gzip's old name (RFC 9110, 8.4.1.3): some clients still send only that.
        (_, Some(gzip)) if accepts(accepted, "gzip") || accepts(accepted, "x-gzip") => {
            (Some("gzip"), gzip)
        }
        _ => (None, file.raw),
    };
    if let Some(encoding) = encoding {
        response = response.header(header::CONTENT_ENCODING, encoding);
    }
    response
        .header(header::CONTENT_TYPE, content_type(file.path))
        .header(header::CONTENT_LENGTH, HeaderValue::from(body.len()))
        .body(Body::from(body))
        .unwrap_or_default()
}

/// Whether an If-None-Match value names `etag`: `*`, or the tag itself, weak (`W/"…"`, as proxies
/// rewrite it) or strong; If-None-Match compares weakly (RFC 9110, 13.1.2).
fn held(tags: &str, etag: &str) -> bool {
    tags.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || tag.strip_prefix("W/").unwrap_or(tag) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

/// Whether an Accept-Encoding value takes `coding` (named, and not with q=0).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let named = parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(coding));
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        named && !refused
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json" | "webmanifest") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static WASM: SiteFile = SiteFile {
        path: "/pkg/vitals.wasm",
        raw: b"raw bytes",
        gzip: Some(b"gz"),
        brotli: Some(b"br"),
        etag: "\"00000000000000ab\"",
    };

    fn answer(headers: &[(header::HeaderName, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, HeaderValue::from_str(value).unwrap());
        }
        respond(&WASM, &Method::GET, &map)
    }

    fn encoding(response: &Response) -> Option<&str> {
        let value = response.headers().get(header::CONTENT_ENCODING)?;
        value.to_str().ok()
    }

    #[test]
    fn the_best_encoding_the_browser_takes_is_sent() {
        let chrome = answer(&[(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")]);
        assert_eq!(encoding(&chrome), Some("br"));
        assert_eq!(chrome.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(chrome.headers()[header::CONTENT_LENGTH], "2");
        let no_br = answer(&[(header::ACCEPT_ENCODING, "gzip, br;q=0")]);
        assert_eq!(encoding(&no_br), Some("gzip"));
        let plain = answer(&[]);
        assert_eq!(encoding(&plain), None);
        assert_eq!(plain.headers()[header::CONTENT_LENGTH], "9");
        let old_name = answer(&[(header::ACCEPT_ENCODING, "x-gzip")]);
        assert_eq!(encoding(&old_name), Some("gzip"));
        for response in [&chrome, &plain, &old_name] {
            assert!(response.extensions().get::<Stored>().is_some());
        }
    }

    #[test]
    fn only_get_and_head_are_answered() {
        let post = respond(&WASM, &Method::POST, &HeaderMap::new());
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
        let head = respond(&WASM, &Method::HEAD, &HeaderMap::new());
        assert_eq!(head.status(), StatusCode::OK);
    }

    #[test]
    fn a_file_the_browser_holds_is_not_sent_again() {
        let again = answer(&[(header::IF_NONE_MATCH, "\"00000000000000ab\"")]);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let weak = answer(&[(header::IF_NONE_MATCH, "W/\"00000000000000ab\"")]);
        assert_eq!(
            weak.status(),
            StatusCode::NOT_MODIFIED,
            "a proxy's weak tag"
        );
        let listed = answer(&[(header::IF_NONE_MATCH, "\"1\", W/\"00000000000000ab\"")]);
        assert_eq!(listed.status(), StatusCode::NOT_MODIFIED);
        let changed = answer(&[(header::IF_NONE_MATCH, "\"0000000000000000\"")]);
        assert_eq!(changed.status(), StatusCode::OK);
        assert_eq!(changed.headers()[header::ETAG], "\"00000000000000ab\"");
    }
}
