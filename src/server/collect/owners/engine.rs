//! A container's name and image from the engine that runs it: `GET /containers/<id>/json` of
//! Docker's API, which Podman's compatible socket answers too, over a unix socket. Read-only,
//! bounded in time and size, and never trusted: an answer that is not what the engine sends is an
//! error, not a name.

use serde::Deserialize;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The most of an answer read: an inspect is a few KiB, a hostile socket gets no more.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

/// What the engine says of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: Option<String>,
    pub image: Option<String>,
    /// `namespace/name` of its Kubernetes pod, from the kubelet's labels.
    pub pod: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach {0}")]
    Unreachable(String),
    /// This engine does not run that container (404): another socket may.
    #[error("no such container on this engine")]
    NotFound,
    #[error("the engine took longer than {0:?}")]
    Slow(Duration),
    #[error("the engine's answer is not one it sends: {0}")]
    Garbled(String),
}

/// The parts of an inspect read; everything else is ignored.
#[derive(Deserialize)]
struct Inspect {
    #[serde(rename = "Name", default)]
    name: Option<String>,
    #[serde(rename = "Config", default)]
    config: Option<InspectConfig>,
}

#[derive(Deserialize)]
struct InspectConfig {
    #[serde(rename = "Image", default)]
    image: Option<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<HashMap<String, String>>,
}

/// Asks the engine behind `socket` about container `id` (hex only, checked here), giving up after
/// `timeout` in all.
pub fn inspect(socket: &Path, id: &str, timeout: Duration) -> Result<ContainerFacts, EngineError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(EngineError::Garbled(format!(
            "{id:?} is not a container ID"
        )));
    }
    let deadline = Instant::now() + timeout;
    let unreachable =
        |e: std::io::Error| EngineError::Unreachable(format!("{}: {e}", socket.display()));
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(unreachable)?;
    let request = format!("GET /containers/{id}/json HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(EngineError::Slow(timeout));
        }
        stream.set_read_timeout(Some(left)).map_err(unreachable)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&chunk[..n]);
                if answer.len() as u64 > MAX_ANSWER_BYTES {
                    return Err(EngineError::Garbled("the answer is over 1 MiB".into()));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(EngineError::Slow(timeout));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreachable(e)),
        }
    }
    facts(&answer)
}

/// Reads an HTTP answer to an inspect.
fn facts(answer: &[u8]) -> Result<ContainerFacts, EngineError> {
    let garbled = |why: &str| EngineError::Garbled(why.to_owned());
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| garbled("no end of headers"))?;
    let head =
        std::str::from_utf8(&answer[..split]).map_err(|_| garbled("headers are not text"))?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .filter(|line| line.starts_with("HTTP/1."))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| garbled("no HTTP status line"))?;
    let chunked = lines.any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with("transfer-encoding:") && lower.contains("chunked")
    });
    match status {
        200 => {}
        404 => return Err(EngineError::NotFound),
        other => return Err(EngineError::Garbled(format!("status {other}"))),
    }
    let body = &answer[split + 4..];
    let body = if chunked {
        dechunk(body).ok_or_else(|| garbled("bad chunked body"))?
    } else {
        body.to_vec()
    };
    let inspect: Inspect = serde_json::from_slice(&body)
        .map_err(|e| EngineError::Garbled(format!("not an inspect: {e}")))?;
    let labels = inspect.config.as_ref().and_then(|c| c.labels.as_ref());
    let label = |key: &str| labels.and_then(|l| l.get(key)).filter(|v| !v.is_empty());
    let pod = match (
        label("io.kubernetes.pod.namespace"),
        label("io.kubernetes.pod.name"),
    ) {
        (Some(namespace), Some(name)) => Some(format!("{namespace}/{name}")),
        _ => None,
    };
    let name = label("io.kubernetes.container.name").cloned().or_else(|| {
        inspect
            .name
            .map(|n| n.trim_start_matches('/').to_owned())
            .filter(|n| !n.is_empty())
    });
    Ok(ContainerFacts {
        name: name.map(|n| printable(&n)),
        image: inspect
            .config
            .and_then(|c| c.image)
            .filter(|i| !i.is_empty())
            .map(|i| printable(&i)),
        pod: pod.map(|p| printable(&p)),
    })
}

/// Names are shown on the page and in messages: control characters go, and so does length.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// A chunked body put back together.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nApi-Version: 1.45\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn an_inspect_gives_the_name_and_image() {
        let body =
            r#"{"Id":"3f2a","Name":"/web-llm","Config":{"Image":"vllm/vllm-openai","Labels":{}}}"#;
        let facts = facts(&answer("200 OK", body)).unwrap();
        assert_eq!(facts.name.as_deref(), Some("web-llm"));
        assert_eq!(facts.image.as_deref(), Some("vllm/vllm-openai"));
        assert_eq!(facts.pod, None);
    }

    #[test]
    fn kubelet_labels_name_the_pod_and_container() {
        let body = r#"{"Name":"/k8s_trainer_job-7f_ml_0f1e_0","Config":{"Image":"pytorch/pytorch:2.4","Labels":{"io.kubernetes.pod.namespace":"ml","io.kubernetes.pod.name":"job-7f","io.kubernetes.container.name":"trainer"}}}"#;
        let facts = facts(&answer("200 OK", body)).unwrap();
        assert_eq!(facts.pod.as_deref(), Some("ml/job-7f"));
        assert_eq!(facts.name.as_deref(), Some("trainer"));
    }

    #[test]
    fn chunked_answers_are_read_and_bad_ones_refused() {
        let body = r#"{"Name":"/a","Config":{"Image":"busybox"}}"#;
        let (first, second) = body.split_at(10);
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
            first.len(),
            second.len()
        );
        assert_eq!(
            facts(chunked.as_bytes()).unwrap().name.as_deref(),
            Some("a")
        );
        let cut = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nshort";
        assert!(matches!(
            facts(cut.as_bytes()),
            Err(EngineError::Garbled(_))
        ));
    }

    #[test]
    fn other_answers_are_errors_not_names() {
        assert_eq!(
            facts(&answer(
                "404 Not Found",
                r#"{"message":"No such container"}"#
            )),
            Err(EngineError::NotFound)
        );
        for bad in [
            answer("500 Internal Server Error", "{}"),
            answer("200 OK", "<html>hello</html>"),
            b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(),
            b"\xff\xfe\r\n\r\n".to_vec(),
            Vec::new(),
        ] {
            assert!(
                matches!(facts(&bad), Err(EngineError::Garbled(_))),
                "{bad:?}"
            );
        }
        let hostile = answer(
            "200 OK",
            "{\"Name\":\"/evil\\u001b[31mred\",\"Config\":{\"Image\":\"x\"}}",
        );
        assert_eq!(
            facts(&hostile).unwrap().name.as_deref(),
            Some("evil[31mred")
        );
    }

    #[test]
    fn ids_are_checked_before_they_reach_the_socket() {
        let missing = Path::new("/nonexistent/docker.sock");
        assert!(matches!(
            inspect(missing, "../../version", Duration::from_millis(50)),
            Err(EngineError::Garbled(_))
        ));
        assert!(matches!(
            inspect(missing, "abc123", Duration::from_millis(50)),
            Err(EngineError::Unreachable(_))
        ));
    }
}
