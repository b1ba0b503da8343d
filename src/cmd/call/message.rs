//! What the client's transports share: the failure that is not a reply, and
//! how to tell a server's request from a response.

use serde_json::Value;

/// Why a request got no reply.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The flags cannot make a connection (a bad URL, an unreadable PEM file).
    #[error("{0}")]
    Usage(String),
    /// No reply: connection refused, TLS failure, a broken or non-JSON answer.
    #[error("{0}")]
    Transport(String),
    /// The stdio server refused the credential at start (its reason).
    #[error("the stdio server refused the credential: {0}")]
    Refused(String),
}

/// What answers a request the server sends to the client.
pub type Answerer<'a> = &'a mut (dyn FnMut(&Value) -> Value + Send);

/// A message with a `method` and an `id`: the server asks the client something.
pub fn is_server_request(message: &Value) -> bool {
    message.get("method").is_some() && message.get("id").is_some_and(|id| !id.is_null())
}

pub fn is_response(message: &Value) -> bool {
    message.get("result").is_some() || message.get("error").is_some()
}
