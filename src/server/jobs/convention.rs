//! The job convention: a channel under `jobs/` is one job, and its `start`, `metrics` and `end`
//! events have a shape the server checks, so a typo in a training script is told at once (422,
//! naming the field) instead of showing up later as a job with nothing in it. Any other event on
//! a job's channel is a note and may carry anything.

use crate::wire::EVENT_JOB_END;
use serde_json::{Map, Value};

/// The prefix of the channels that are jobs.
pub const JOBS_PREFIX: &str = "jobs/";
/// Most numeric fields one `metrics` event may carry.
pub const MAX_METRIC_FIELDS: usize = 32;
/// Most pids or GPUs a `start` may name.
const MAX_LISTED: usize = 64;
/// Longest name, command or message kept.
const MAX_TEXT: usize = 4096;
const MAX_FIELD_NAME: usize = 64;

/// Checks an event on a `jobs/` channel against the convention; other channels pass.
pub fn check(channel: &str, event: &str, data: &Value) -> Result<(), String> {
    if !channel.starts_with(JOBS_PREFIX) {
        return Ok(());
    }
    match event {
        "start" => check_start(object(event, data)?),
        "metrics" => check_metrics(object(event, data)?),
        EVENT_JOB_END => check_end(object(event, data)?),
        _ => Ok(()),
    }
}

fn object<'a>(event: &str, data: &'a Value) -> Result<&'a Map<String, Value>, String> {
    data.as_object()
        .ok_or_else(|| format!("a job's '{event}' data must be a JSON object"))
}

fn check_start(data: &Map<String, Value>) -> Result<(), String> {
    for field in ["name", "command", "description"] {
        optional_text("start", data, field)?;
    }
    if let Some(pids) = data.get("pids") {
        let valid = pids.as_array().is_some_and(|pids| {
            pids.len() <= MAX_LISTED
                && pids.iter().all(|p| {
                    p.as_u64()
                        .is_some_and(|p| p > 0 && p <= u64::from(u32::MAX))
                })
        });
        if !valid {
            return Err(format!(
                "start.pids must be a list of at most {MAX_LISTED} process ids (positive whole numbers)"
            ));
        }
    }
    if let Some(gpus) = data.get("gpus") {
        let valid = gpus.as_array().is_some_and(|gpus| {
            gpus.len() <= MAX_LISTED
                && gpus
                    .iter()
                    .all(|g| g.as_str().is_some_and(|g| !g.is_empty() && g.len() <= 128))
        });
        if !valid {
            return Err(format!(
                "start.gpus must be a list of at most {MAX_LISTED} GPU UUIDs (strings, as nvidia-smi -L prints them)"
            ));
        }
    }
    Ok(())
}

fn check_metrics(data: &Map<String, Value>) -> Result<(), String> {
    if data.is_empty() {
        return Err(
            "metrics needs at least one numeric field, e.g. {\"step\": 100, \"loss\": 0.42}".into(),
        );
    }
    if data.len() > MAX_METRIC_FIELDS {
        return Err(format!(
            "metrics has {} fields: a job may send at most {MAX_METRIC_FIELDS}",
            data.len()
        ));
    }
    for (name, value) in data {
        if !field_name_ok(name) {
            return Err(format!(
                "metrics field '{name}': names are 1–{MAX_FIELD_NAME} characters of a-z, A-Z, 0-9, '_', '.' or '-'"
            ));
        }
        if !value.as_f64().is_some_and(f64::is_finite) {
            return Err(format!(
                "metrics.{name} must be a number (got {value}); send text as a note event instead"
            ));
        }
    }
    Ok(())
}

fn check_end(data: &Map<String, Value>) -> Result<(), String> {
    match data.get("status").and_then(Value::as_str) {
        Some("ok" | "failed") => {}
        _ => return Err("end.status must be \"ok\" or \"failed\"".into()),
    }
    optional_text("end", data, "message")
}

fn optional_text(event: &str, data: &Map<String, Value>, field: &str) -> Result<(), String> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(text)) if text.len() <= MAX_TEXT => Ok(()),
        Some(Value::String(_)) => Err(format!("{event}.{field} is longer than {MAX_TEXT} bytes")),
        Some(_) => Err(format!("{event}.{field} must be text")),
    }
}

fn field_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FIELD_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(event: &str, data: Value) -> String {
        check("jobs/train-1", event, &data).unwrap_err()
    }

    #[test]
    fn well_formed_job_events_pass_and_other_channels_are_not_jobs() {
        let start = json!({"name": "resnet", "command": "python train.py", "pids": [4242], "gpus": ["GPU-a"]});
        assert!(check("jobs/train-1", "start", &start).is_ok());
        assert!(
            check(
                "jobs/train-1",
                "metrics",
                &json!({"step": 100, "loss": 0.42})
            )
            .is_ok()
        );
        assert!(
            check(
                "jobs/train-1",
                "end",
                &json!({"status": "failed", "message": "OOM"})
            )
            .is_ok()
        );
        assert!(
            check("jobs/train-1", "checkpoint", &json!("saved to /ckpt")).is_ok(),
            "a note"
        );
        assert!(check("builds/x", "metrics", &json!("anything")).is_ok());
    }

    #[test]
    fn each_broken_field_is_named() {
        assert!(refused("start", json!([1])).contains("must be a JSON object"));
        assert!(refused("start", json!({"name": 3})).contains("start.name must be text"));
        assert!(refused("start", json!({"pids": [0]})).contains("start.pids"));
        assert!(refused("start", json!({"pids": "4242"})).contains("start.pids"));
        assert!(refused("start", json!({"gpus": [7]})).contains("start.gpus"));
        assert!(refused("metrics", json!({})).contains("at least one"));
        assert!(
            refused("metrics", json!({"loss": "low"})).contains("metrics.loss must be a number")
        );
        assert!(refused("metrics", json!({"bad name": 1})).contains("'bad name'"));
        let many: Map<String, Value> = (0..=MAX_METRIC_FIELDS)
            .map(|i| (format!("f{i}"), json!(i)))
            .collect();
        assert!(refused("metrics", Value::Object(many)).contains("at most 32"));
        assert!(refused("end", json!({})).contains("end.status"));
        assert!(refused("end", json!({"status": "done"})).contains("end.status"));
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(refused("end", json!({"status": "ok", "message": long})).contains("longer than"));
    }
}
