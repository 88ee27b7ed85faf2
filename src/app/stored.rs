//! Spans of history read from the server's database (`/api/system/history?from=…`): the long
//! ranges and zoomed spans that the browser store does not hold. Only the span on screen is kept,
//! so the page's memory stays flat whatever the range.

use crate::shared::store::Millis;
use crate::wire::RangeAnswer;
use crate::wire::series;
use std::collections::HashMap;

/// The series the time charts draw; GPUs by pattern, whichever GPUs the span saw (their detail,
/// kept for alerts and `/metrics`, is not fetched).
pub const DRAWN_SERIES: [&str; 12] = [
    series::CPU_USAGE,
    series::CPU_TEMPERATURE,
    series::DISK_READ,
    series::DISK_WRITE,
    series::NET_RX,
    series::NET_TX,
    "gpu/*/utilization",
    "gpu/*/memory_utilization",
    "gpu/*/temperature",
    "gpu/*/power",
    "gpu/*/memory_used",
    "gpu/*/clock_event/*",
];

/// A span of history as the charts draw it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StoredSpan {
    pub from: Millis,
    pub to: Millis,
    /// The time one point stands for.
    pub bucket_ms: Millis,
    /// The newest time the database had data for: what came later is drawn from the live store.
    pub through: Option<Millis>,
    /// Each bucket's highest value at its start, as the live charts keep peaks: a spike shows
    /// at any range.
    pub series: HashMap<String, Vec<(Millis, f64)>>,
}

impl StoredSpan {
    pub fn of(answer: &RangeAnswer) -> StoredSpan {
        StoredSpan {
            from: answer.from,
            to: answer.to,
            bucket_ms: answer.bucket_ms.max(1),
            through: answer.through,
            series: answer
                .series
                .iter()
                .map(|(name, buckets)| {
                    let peaks = buckets
                        .iter()
                        .map(|&[start, _min, _avg, max]| (start as Millis, max));
                    (name.clone(), peaks.collect())
                })
                .collect(),
        }
    }

    pub fn points(&self, name: &str) -> &[(Millis, f64)] {
        self.series.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The request for a span at a budget of points per series, of the series the charts draw.
pub fn query_url(from: Millis, to: Millis, points: usize) -> String {
    format!(
        "/api/system/history?from={from}&to={to}&points={points}&series={}",
        DRAWN_SERIES.join(",").replace('*', "%2A")
    )
}

/// Reads a span from the server, or says why it cannot.
#[cfg(feature = "hydrate")]
pub async fn fetch(from: Millis, to: Millis, points: usize) -> Result<RangeAnswer, String> {
    use crate::shared::json::from_text;
    use crate::wire::ApiError;
    let response = gloo_net::http::Request::get(&query_url(from, to, points))
        .send()
        .await
        .map_err(|e| format!("the server did not answer: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !response.ok() {
        return Err(from_text::<ApiError>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|| format!("the server answered {status}")));
    }
    from_text(&text).ok_or_else(|| "the server's answer was not a span of history".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Tier;

    #[test]
    fn a_span_keeps_each_buckets_peak_at_its_start() {
        let answer = RangeAnswer {
            from: 0,
            to: 120_000,
            tier: Tier::Minute,
            bucket_ms: 60_000,
            through: Some(119_999),
            series: [(
                "cpu.usage".to_owned(),
                vec![[0.0, 1.0, 2.0, 9.0], [60_000.0, 3.0, 4.0, 5.0]],
            )]
            .into(),
            persistence: None,
        };
        let span = StoredSpan::of(&answer);
        assert_eq!(span.points("cpu.usage"), [(0, 9.0), (60_000, 5.0)]);
        assert_eq!(span.points("gpu/x/power"), []);
        assert_eq!(span.through, Some(119_999));
    }

    #[test]
    fn the_query_names_the_drawn_series() {
        assert_eq!(
            query_url(1, 2, 240),
            "/api/system/history?from=1&to=2&points=240&series=cpu.usage,cpu.temperature,disk.read,disk.write,network.rx,network.tx,gpu/%2A/utilization,gpu/%2A/memory_utilization,gpu/%2A/temperature,gpu/%2A/power,gpu/%2A/memory_used,gpu/%2A/clock_event/%2A"
        );
    }
}
