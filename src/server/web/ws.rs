//! The WebSocket route: hello, subscriptions with replay, fan-out from the hub, keepalive and limits.

use crate::server::http::error::HttpError;
use crate::server::http::guard::origin_allowed;
use crate::server::hub::{Frame, Subscriber, frame};
use crate::server::web::state::AppState;
use crate::wire::{
    CHANNEL_GPU_PREFIX, ClientMessage, HOST_CHANNELS, Hello, PROTOCOL_VERSION, ServerMessage,
};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chrono::Utc;
use futures_util::SinkExt;
use std::time::Duration;
use tokio::time::{Instant, interval};

/// Largest message a client may send; subscriptions are tiny.
pub const MAX_INBOUND_BYTES: usize = 64 * 1024;
const READ_BUFFER_BYTES: usize = 4 * 1024;
const PING_EVERY: Duration = Duration::from_secs(20);
/// A client that has said nothing (not even a pong) for this long is gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn upgrade(
    State(app): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, HttpError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !origin_allowed(origin, host, &app.config.allowed_origins) {
        return Err(HttpError::Forbidden(format!(
            "WebSocket from origin '{}' refused: only pages served by this server may connect (or add it with --allow-origin)",
            origin.unwrap_or_default()
        )));
    }
    let subscriber = app.hub.register().ok_or_else(|| {
        HttpError::ServiceUnavailable(format!(
            "too many live connections (limit {}); try again later",
            app.config.max_clients
        ))
    })?;
    // Clients send only small control messages: a small read buffer keeps each socket's memory
    // low (tungstenite's default is 128 KiB a connection).
    Ok(ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_INBOUND_BYTES)
        .max_frame_size(MAX_INBOUND_BYTES)
        .on_upgrade(move |socket| serve(socket, subscriber, app)))
}

pub fn hello(app: &AppState) -> Hello {
    let mut channels: Vec<String> = HOST_CHANNELS.iter().map(|c| c.to_string()).collect();
    channels.extend(
        app.hub
            .channel_names()
            .into_iter()
            .filter(|c| c.starts_with(CHANNEL_GPU_PREFIX)),
    );
    Hello {
        protocol: PROTOCOL_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        epoch: app.hub.epoch(),
        interval_seconds: app.config.interval.as_secs_f64(),
        history_seconds: app.hub.history_window().as_secs(),
        server_time: Utc::now(),
        hostname: app.hostname.to_string(),
        boot_time: chrono::DateTime::from_timestamp(sysinfo::System::boot_time() as i64, 0),
        channels,
        gpu_status: app.latest.gpu_status(),
        persistence: app.durable.status(),
    }
}

async fn serve(mut socket: WebSocket, mut subscriber: Subscriber, app: AppState) {
    if socket
        .send(Message::Text(frame(&ServerMessage::Hello(hello(&app)))))
        .await
        .is_err()
    {
        return;
    }
    let mut keepalive = interval(PING_EVERY);
    keepalive.reset();
    let mut last_heard = Instant::now();
    let close_reason = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let incoming = match incoming {
                    Some(Ok(incoming)) => incoming,
                    Some(Err(error)) => match close_code_for(error) {
                        Some(close) => break close,
                        None => return,
                    },
                    None => return,
                };
                last_heard = Instant::now();
                let replies = match incoming {
                    Message::Text(body) => answer(&app, &subscriber, body.as_str()),
                    Message::Binary(_) => vec![error_frame("binary messages are not understood: send JSON text")],
                    Message::Close(_) => return,
                    Message::Ping(_) | Message::Pong(_) => Vec::new(),
                };
                for frame in replies {
                    if socket.send(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
            }
            frame = subscriber.frames.recv() => match frame {
                Some(frame) => {
                    // A tick's frames for this client go out in one write, not one system call each.
                    if socket.feed(Message::Text(frame)).await.is_err() {
                        return;
                    }
                    while let Ok(more) = subscriber.frames.try_recv() {
                        if socket.feed(Message::Text(more)).await.is_err() {
                            return;
                        }
                    }
                    if socket.flush().await.is_err() {
                        return;
                    }
                }
                None => break if subscriber.was_dropped_for_lag() {
                    (close_code::AGAIN, "client too slow: reconnect and resync")
                } else {
                    (close_code::AWAY, "server shutting down")
                },
            },
            _ = keepalive.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    break (close_code::POLICY, "idle timeout: no message or pong for 60 s");
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    };
    let (code, reason) = close_reason;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// The close frame owed to a client whose frame could not be read: too large (1009), not valid
/// WebSocket (1002) or not UTF-8 text (1007). Other errors (the connection broke) get none.
fn close_code_for(error: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::Error;
    let error = error.into_inner().downcast::<Error>().ok()?;
    match *error {
        Error::Capacity(_) => Some((
            close_code::SIZE,
            "message too large: at most 64 KiB per message",
        )),
        Error::Protocol(_) => Some((close_code::PROTOCOL, "not a valid WebSocket frame")),
        Error::Utf8(_) => Some((close_code::INVALID, "text frames must be UTF-8")),
        _ => None,
    }
}

fn error_frame(message: impl Into<String>) -> Frame {
    frame(&ServerMessage::Error {
        message: message.into(),
    })
}

/// What to send back for one client message. A message we cannot use gets an error naming the
/// problem and changes nothing.
fn answer(app: &AppState, subscriber: &Subscriber, body: &str) -> Vec<Frame> {
    let message = match serde_json::from_str::<ClientMessage>(body) {
        Ok(message) => message,
        Err(e) => {
            return vec![error_frame(format!(
                "could not read your message ({e}); expected e.g. {{\"type\":\"subscribe\",\"channels\":[\"system/cpu\",\"system/gpu/*\"]}}"
            ))];
        }
    };
    match message {
        ClientMessage::Subscribe {
            channels,
            since,
            epoch,
        } => match app.hub.subscribe(subscriber.id, &channels, &since, epoch) {
            Ok(frames) => frames,
            Err(e) => vec![error_frame(e.to_string())],
        },
        ClientMessage::Unsubscribe { channels } => {
            let remaining = app.hub.unsubscribe(subscriber.id, &channels);
            vec![frame(&ServerMessage::Unsubscribed {
                channels: remaining,
            })]
        }
        ClientMessage::Ping => vec![frame(&ServerMessage::Pong)],
    }
}
