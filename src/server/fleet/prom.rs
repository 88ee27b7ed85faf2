//! The Prometheus HTTP API as the fleet page reads it: instant and range queries, answered with
//! each series' labels and values. Every failure is a sentence naming what to check.

use reqwest::Url;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The most one refresh's answers may hold, all its queries together (they run at once): a
/// fleet of 500 hosts with 8 GPUs each answers in under 10 MiB.
pub const MAX_REFRESH_BYTES: usize = 16 << 20;
/// The most series one refresh may parse, all its queries together: that fleet has about
/// 45,000. A parsed series takes a few times its text, so with the byte budget this bounds what
/// a huge or hostile Prometheus can make the server hold.
pub const MAX_REFRESH_SERIES: usize = 100_000;

/// What is left of one refresh's `MAX_REFRESH_BYTES` and `MAX_REFRESH_SERIES`, shared by its
/// queries.
#[derive(Debug)]
pub struct ReadBudget {
    bytes: std::sync::atomic::AtomicUsize,
    series: std::sync::atomic::AtomicUsize,
}

impl ReadBudget {
    pub fn new() -> ReadBudget {
        ReadBudget {
            bytes: std::sync::atomic::AtomicUsize::new(MAX_REFRESH_BYTES),
            series: std::sync::atomic::AtomicUsize::new(MAX_REFRESH_SERIES),
        }
    }

    /// Takes `bytes` from what is left; false (taking nothing) when there is not that much.
    fn take(&self, bytes: usize) -> bool {
        take(&self.bytes, bytes)
    }

    fn take_series(&self, series: usize) -> bool {
        take(&self.series, series)
    }
}

fn take(left: &std::sync::atomic::AtomicUsize, amount: usize) -> bool {
    use std::sync::atomic::Ordering;
    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
        left.checked_sub(amount)
    })
    .is_ok()
}

impl Default for ReadBudget {
    fn default() -> Self {
        ReadBudget::new()
    }
}

pub type Labels = BTreeMap<String, String>;

/// One series of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// One series of a range query: (unix seconds, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

/// How to prove who we are to that Prometheus (or the proxy in front of it).
#[derive(Clone, PartialEq)]
pub enum Credentials {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::None => "None",
            Credentials::Bearer(_) => "Bearer(…)",
            Credentials::Basic { .. } => "Basic(…)",
        })
    }
}

pub struct Prometheus {
    client: reqwest::Client,
    /// The API root, ending in `/api/v1/`.
    api: Url,
    shown: String,
    credentials: Credentials,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Answer<T> {
    status: String,
    data: Option<Data<T>>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<T> {
    result: Vec<T>,
}

#[derive(Deserialize)]
struct InstantRow {
    metric: Labels,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RangeRow {
    metric: Labels,
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// `base` is what the user gave (`http://prometheus:9090`, or with a path prefix).
    pub fn new(base: &Url, credentials: Credentials, timeout: Duration) -> Prometheus {
        let mut api = base.clone();
        let path = format!("{}/api/v1/", base.path().trim_end_matches('/'));
        api.set_path(&path);
        Prometheus {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            api,
            shown: shown(base),
            credentials,
            timeout,
        }
    }

    /// The address as it may be shown: without credentials.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub async fn instant(&self, query: &str, budget: &ReadBudget) -> Result<Vec<Sample>, String> {
        let rows: Vec<InstantRow> = self
            .get("query", &[("query", query.to_owned())], budget)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let value = number(&row.value.1)?;
                Some(Sample {
                    labels: row.metric,
                    value,
                })
            })
            .collect())
    }

    pub async fn range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: f64,
        budget: &ReadBudget,
    ) -> Result<Vec<Series>, String> {
        let rows: Vec<RangeRow> = self
            .get(
                "query_range",
                &[
                    ("query", query.to_owned()),
                    ("start", format!("{start:.3}")),
                    ("end", format!("{end:.3}")),
                    ("step", format!("{step}")),
                ],
                budget,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| Series {
                labels: row.metric,
                points: row
                    .values
                    .into_iter()
                    .filter_map(|(at, value)| Some((at, number(&value)?)))
                    .collect(),
            })
            .collect())
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        endpoint: &str,
        params: &[(&str, String)],
        budget: &ReadBudget,
    ) -> Result<Vec<T>, String> {
        let url = self.api.join(endpoint).map_err(|e| e.to_string())?;
        let request = self.client.get(url).query(params);
        let request = match &self.credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
        };
        let mut response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        // Kept as the chunks that came, parsed through a reader: no contiguous copy, so what
        // the budget counts is what is held.
        let mut chunks = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(&e))? {
            if !budget.take(chunk.len()) {
                return Err(format!(
                    "Prometheus at {} answered more than {} MiB for one refresh of the fleet: the fleet page reads fleets of a few thousand hosts; point it at a Prometheus that holds fewer",
                    self.shown,
                    MAX_REFRESH_BYTES >> 20
                ));
            }
            chunks.push(chunk);
        }
        let reader = Chunks {
            chunks: &chunks,
            at: 0,
        };
        let answer: Answer<T> = serde_json::from_reader(reader).map_err(|_| {
            let first: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).take(120).collect();
            let start = String::from_utf8_lossy(&first).into_owned();
            format!(
                "{} at {} is not Prometheus' HTTP API (HTTP {status}: {start:?}); --fleet-prometheus names Prometheus' own address, e.g. http://prometheus:9090",
                self.shown,
                shown(&self.api)
            )
        })?;
        match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) if !budget.take_series(data.result.len()) => Err(format!(
                "Prometheus at {} answered more than {MAX_REFRESH_SERIES} series for one refresh of the fleet: the fleet page reads fleets of a few thousand hosts; point it at a Prometheus that holds fewer",
                self.shown
            )),
            ("success", Some(data)) => Ok(data.result),
            _ => Err(format!(
                "Prometheus at {} answered HTTP {status}: {}",
                self.shown,
                answer
                    .error
                    .unwrap_or_else(|| "an error without a message".into())
            )),
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            format!(
                "Prometheus at {} did not answer within {} s",
                self.shown,
                self.timeout.as_secs_f64()
            )
        } else {
            // The innermost cause says it best ("Connection refused").
            let mut cause: &dyn std::error::Error = error;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            format!("cannot reach Prometheus at {}: {cause}", self.shown)
        }
    }
}

/// An answer's chunks read one after another, without copying them into one buffer.
struct Chunks<'a, C> {
    chunks: &'a [C],
    /// How far into the first chunk left.
    at: usize,
}

impl<C: AsRef<[u8]>> std::io::Read for Chunks<'_, C> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while let Some((first, rest)) = self.chunks.split_first() {
            let left = &first.as_ref()[self.at..];
            if left.is_empty() {
                self.chunks = rest;
                self.at = 0;
                continue;
            }
            let n = left.len().min(out.len());
            out[..n].copy_from_slice(&left[..n]);
            self.at += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// Prometheus writes values as strings, including "NaN" and "+Inf": only finite ones count.
fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_keeps_a_path_prefix_and_hides_credentials() {
        let base = Url::parse("https://me:secret@example.org/prometheus/").unwrap();
        let prometheus = Prometheus::new(&base, Credentials::None, Duration::from_secs(1));
        assert_eq!(
            prometheus.api.as_str(),
            "https://me:secret@example.org/prometheus/api/v1/"
        );
        assert_eq!(prometheus.shown(), "https://example.org/prometheus");
        let plain = Url::parse("http://127.0.0.1:9090").unwrap();
        let prometheus = Prometheus::new(&plain, Credentials::None, Duration::from_secs(1));
        assert_eq!(prometheus.api.as_str(), "http://127.0.0.1:9090/api/v1/");
    }

    #[test]
    fn chunks_read_as_one_stream() {
        use std::io::Read;
        let chunks = [&b"ab"[..], b"", b"cde", b"f"];
        let mut text = String::new();
        Chunks {
            chunks: &chunks,
            at: 0,
        }
        .read_to_string(&mut text)
        .unwrap();
        assert_eq!(text, "abcdef");
    }

    #[test]
    fn only_finite_values_are_numbers() {
        assert_eq!(number("1.5"), Some(1.5));
        assert_eq!(number("NaN"), None);
        assert_eq!(number("+Inf"), None);
        assert_eq!(number("x"), None);
    }

    #[test]
    fn credentials_never_print() {
        let shown = format!("{:?}", Credentials::Bearer("secret".into()));
        assert!(!shown.contains("secret"));
    }
}
