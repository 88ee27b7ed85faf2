//! Reading JSON in the browser. Everything goes through a `serde_json::Value` first: the types the
//! page reads then deserialize from one kind of input only, so the bundle holds one copy of their
//! code instead of one per input kind (that halved serde's share of the .wasm).

use serde::de::DeserializeOwned;

/// Parses JSON text into `T`, or None if it is not valid JSON or not a `T`.
pub fn from_text<T: DeserializeOwned>(text: &str) -> Option<T> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    from_value(&value)
}

/// Reads a `T` out of an already parsed value.
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Option<T> {
    T::deserialize(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ServerMessage;

    #[test]
    fn reads_valid_messages_and_refuses_the_rest() {
        let error: Option<ServerMessage> = from_text(r#"{"type":"error","message":"bad"}"#);
        assert_eq!(
            error,
            Some(ServerMessage::Error {
                message: "bad".into()
            })
        );
        assert_eq!(from_text::<ServerMessage>("{not json"), None);
        assert_eq!(from_text::<ServerMessage>(r#"{"type":"nope"}"#), None);
    }
}
