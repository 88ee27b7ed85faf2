//! A job's own fields over its run: the first, last, lowest and highest value of each, and the
//! rate of those that only grow, so "steps per second" comes from whichever field counts them.

use crate::wire::FieldRun;
use serde_json::Value;
use std::collections::BTreeMap;

/// Field names that count a run's progress, taken first when several only grow.
const COUNTER_NAMES: [&str; 8] = [
    "step",
    "steps",
    "global_step",
    "iteration",
    "iter",
    "batch",
    "samples",
    "tokens",
];

/// Each numeric field of the `metrics` sent (time in ms, data), oldest first; the field that
/// counts steps, and its rate per second.
pub fn field_runs(sent: &[(i64, Value)]) -> (BTreeMap<String, FieldRun>, Option<(String, f64)>) {
    let mut points: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for (t, data) in sent {
        for (name, value) in data.as_object().into_iter().flatten() {
            if let Some(value) = value.as_f64().filter(|v| v.is_finite()) {
                points.entry(name).or_default().push((*t, value));
            }
        }
    }
    let fields: BTreeMap<String, FieldRun> = points
        .iter()
        .map(|(name, points)| ((*name).to_owned(), run_of(points)))
        .collect();
    let counters = || fields.iter().filter(|(_, f)| f.rate_per_second.is_some());
    let named = |kin: &str| counters().find(|(name, _)| name.eq_ignore_ascii_case(kin));
    let counter = COUNTER_NAMES
        .iter()
        .find_map(|kin| named(kin))
        .or_else(|| counters().next())
        .and_then(|(name, field)| Some((name.clone(), field.rate_per_second?)));
    (fields, counter)
}

fn run_of(points: &[(i64, f64)]) -> FieldRun {
    let (first_t, first) = points[0];
    let (last_t, last) = points[points.len() - 1];
    let grows = points.windows(2).all(|w| w[1].1 >= w[0].1) && last > first;
    let seconds = (last_t - first_t) as f64 / 1000.0;
    FieldRun {
        first,
        last,
        min: points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
        max: points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
        count: points.len(),
        rate_per_second: (grows && seconds > 0.0).then(|| (last - first) / seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_summed_up_and_the_step_counter_gives_the_rate() {
        let sent: Vec<(i64, Value)> = (0..=10)
            .map(|i| {
                let data = json!({"loss": 1.0 / (i + 1) as f64, "samples": i * 64, "step": i * 5, "note": "x"});
                (i * 2000, data)
            })
            .collect();
        let (fields, counter) = field_runs(&sent);
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["loss", "samples", "step"]
        );
        let loss = &fields["loss"];
        assert_eq!(
            (loss.first, loss.last, loss.max, loss.count),
            (1.0, 1.0 / 11.0, 1.0, 11)
        );
        assert_eq!(loss.rate_per_second, None, "a falling loss is no counter");
        // "samples" comes first in order, but both count and a step is what a run is timed by.
        assert_eq!(counter, Some(("step".to_owned(), 2.5)));
        assert_eq!(fields["step"].rate_per_second, Some(2.5));
    }
}
