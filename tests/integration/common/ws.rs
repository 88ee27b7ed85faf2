//! A WebSocket client's side of the protocol, for tests that talk to `/ws`.

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vitals::wire::{ClientMessage, ServerMessage};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next server message (text frames only), within 5 seconds.
pub async fn next(socket: &mut Socket) -> ServerMessage {
    loop {
        let frame = timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("socket still open")
            .expect("valid frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("server messages parse");
        }
    }
}

pub async fn send(socket: &mut Socket, message: &ClientMessage) {
    let text = serde_json::to_string(message).unwrap();
    socket.send(Message::Text(text.into())).await.unwrap();
}

/// Subscribes to `channels` and waits for the server to say so.
pub async fn subscribe(socket: &mut Socket, channels: &[&str]) {
    let channels = channels.iter().map(|c| c.to_string()).collect();
    send(
        socket,
        &ClientMessage::Subscribe {
            channels,
            since: Default::default(),
            epoch: None,
        },
    )
    .await;
    // What came before the answer (the hello, on a fresh socket) is passed over.
    while !matches!(next(socket).await, ServerMessage::Subscribed { .. }) {}
}
