//! `vitals emit`: publishes one event to a running Vitals from a shell script, with the emit token
//! read from its usual file, so a training script needs no curl line.

use crate::server::config::{Cli, EmitArgs, default_token_file};
use crate::wire::{EmitRequest, EmitResponse};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The default address the server listens on.
const DEFAULT_SERVER: &str = "127.0.0.1:3000";
/// How long `vitals emit` waits for an answer unless told otherwise: a local server answers in
/// milliseconds, and a script must not hang on one that accepts and never answers.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The event's data from `name=value` fields.
pub fn data_of_fields(fields: &[String]) -> Result<Value, String> {
    let mut data = Map::new();
    for field in fields {
        let Some((name, text)) = field.split_once('=') else {
            return Err(format!("'{field}' is not name=value"));
        };
        if name.is_empty() {
            return Err(format!("'{field}' has no name before '='"));
        }
        let value = match name {
            "pids" => Value::Array(
                text.split(',')
                    .map(|pid| {
                        pid.trim()
                            .parse::<u32>()
                            .map(Value::from)
                            .map_err(|_| format!("pids: '{pid}' is not a process id"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "gpus" => Value::Array(text.split(',').map(|g| Value::from(g.trim())).collect()),
            _ => scalar(text),
        };
        data.insert(name.to_owned(), value);
    }
    Ok(Value::Object(data))
}

fn scalar(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or_else(|| Value::from(text)),
    }
}

/// Where to send: the given server, else the address this Vitals would serve on (loopback for a
/// wildcard bind).
pub fn server_url(args: &EmitArgs, cli: &Cli) -> String {
    let address = match (&args.server, cli.bind) {
        (Some(server), _) => server.clone(),
        (None, Some(bind)) if bind.ip().is_unspecified() => format!("127.0.0.1:{}", bind.port()),
        (None, Some(bind)) => bind.to_string(),
        (None, None) => DEFAULT_SERVER.into(),
    };
    let base = if address.contains("://") {
        address
    } else {
        format!("http://{address}")
    };
    format!("{}{}", base.trim_end_matches('/'), super::emit::EMIT_PATH)
}

/// The emit token: given outright, or read from the file the server writes it to (and then the
/// file's path, to name it when the server refuses the token).
fn token(cli: &Cli) -> Result<(String, Option<PathBuf>), String> {
    if let Some(token) = &cli.emit_token {
        return Ok((token.clone(), None));
    }
    let path: PathBuf = cli
        .emit_token_file
        .clone()
        .unwrap_or_else(default_token_file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the emit token from {} ({e}): start Vitals once to create it, point --emit-token-file at it, or set VITALS_EMIT_TOKEN",
            path.display()
        )
    })?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(format!("the emit token file {} is empty", path.display()));
    }
    Ok((token, Some(path)))
}

async fn send(args: &EmitArgs, cli: &Cli) -> Result<EmitResponse, String> {
    let data = match &args.json {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| format!("--json is not valid JSON: {e}"))?
        }
        None => data_of_fields(&args.fields)?,
    };
    let request = EmitRequest {
        channel: args.channel.clone(),
        event: args.event.clone(),
        data,
        heartbeat_seconds: args.heartbeat,
    };
    let (token, token_file) = token(cli)?;
    let url = server_url(args, cli);
    let timeout = timeout_of(args)?;
    let waited = || {
        format!(
            "no answer from {url} within {} s: is Vitals running there and not stuck? (--timeout SECONDS to wait longer)",
            timeout.as_secs_f64()
        )
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let response = client
        .post(&url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&request).map_err(|e| e.to_string())?)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                waited()
            } else {
                format!(
                    "no answer from {url} ({}): is Vitals running there?",
                    e.without_url()
                )
            }
        })?;
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) if e.is_timeout() => return Err(waited()),
        Err(_) => String::new(),
    };
    if status == reqwest::StatusCode::UNAUTHORIZED
        && let Some(file) = token_file
    {
        return Err(format!(
            "{url} refused the token in {} (401): that file belongs to the Vitals that wrote it, which is not this one; start this server with --emit-token-file pointing at a file of its own (or VITALS_EMIT_TOKEN), and give the same --emit-token-file to vitals emit",
            file.display()
        ));
    }
    if !status.is_success() {
        let error = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        return Err(format!("Vitals refused the event ({status}): {error}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("unexpected answer from {url}: {e}"))
}

/// `--timeout`, checked: a positive number of seconds.
fn timeout_of(args: &EmitArgs) -> Result<Duration, String> {
    match args.timeout {
        None => Ok(DEFAULT_TIMEOUT),
        Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => {
            Ok(Duration::from_secs_f64(seconds))
        }
        Some(seconds) => Err(format!(
            "--timeout {seconds}: give a number of seconds above 0 (and at most a day)"
        )),
    }
}

/// Runs `vitals emit`: prints where the event went, or why it did not, and exits accordingly.
pub async fn run(args: &EmitArgs, cli: &Cli) -> ExitCode {
    match send(args, cli).await {
        Ok(sent) => {
            println!(
                "{} {}: seq {}, delivered to {} subscriber(s)",
                args.channel, args.event, sent.seq, sent.delivered
            );
            if let Some(summary) = sent.report {
                println!("{}: {summary}", args.channel);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vitals emit: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(list: &[&str]) -> Vec<String> {
        list.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn fields_become_typed_data() {
        let data = data_of_fields(&fields(&[
            "step=100",
            "loss=0.42",
            "name=resnet 50",
            "pids=4242, 4243",
            "gpus=GPU-a,GPU-b",
            "done=true",
        ]))
        .unwrap();
        assert_eq!(
            data,
            json!({"step": 100.0, "loss": 0.42, "name": "resnet 50", "pids": [4242, 4243],
                   "gpus": ["GPU-a", "GPU-b"], "done": true})
        );
        assert!(
            data_of_fields(&fields(&["loss"]))
                .unwrap_err()
                .contains("name=value")
        );
        assert!(
            data_of_fields(&fields(&["=1"]))
                .unwrap_err()
                .contains("no name")
        );
        assert!(
            data_of_fields(&fields(&["pids=x"]))
                .unwrap_err()
                .contains("pids")
        );
        assert_eq!(
            data_of_fields(&fields(&["x=inf"])).unwrap(),
            json!({"x": "inf"})
        );
    }

    #[test]
    fn the_server_is_the_given_one_or_this_vitals_address() {
        let args = EmitArgs::default();
        let cli = Cli::default();
        assert_eq!(
            server_url(&args, &cli),
            "http://127.0.0.1:3000/api/internal/ws/emit"
        );
        let wide = Cli {
            bind: Some("0.0.0.0:8080".parse().unwrap()),
            ..Cli::default()
        };
        assert_eq!(
            server_url(&args, &wide),
            "http://127.0.0.1:8080/api/internal/ws/emit"
        );
        let given = EmitArgs {
            server: Some("https://box:3000/".into()),
            ..EmitArgs::default()
        };
        assert_eq!(
            server_url(&given, &cli),
            "https://box:3000/api/internal/ws/emit"
        );
    }
}
