//! JSON-RPC 2.0 framing: classifying an incoming message and building replies.
//!
//! Invariant: any byte sequence maps to exactly one [`Incoming`] or to an
//! [`RpcError`] with the id we could recover; nothing here panics.

use serde_json::{Map, Value, json};

use super::errors::RpcError;

/// A request id as the client sent it (a string or a number, never null).
pub type Id = Value;

/// One parsed JSON-RPC message from a client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A call that expects an answer.
    Request(Request),
    /// A message that expects none.
    Notification(Notification),
    /// The client's answer to a request the server sent.
    Response { id: Id, outcome: Result<Value, Value> },
    /// Several messages in one array (2025-03-26 only).
    Batch(Vec<Value>),
}

/// A JSON-RPC request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Id,
    pub method: String,
    /// Always an object (absent params become `{}`).
    pub params: Map<String, Value>,
}

/// A JSON-RPC notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Map<String, Value>,
}

/// Why a message could not be classified, with the id to answer to if one was readable.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub id: Id,
    pub error: RpcError,
}

/// Parse raw bytes into a message.
pub fn parse(bytes: &[u8]) -> Result<Incoming, Rejected> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Rejected { id: Value::Null, error: RpcError::parse(e) })?;
    classify(value)
}

/// Classify an already-parsed JSON value (also used for each batch element).
pub fn classify(value: Value) -> Result<Incoming, Rejected> {
    let mut obj = match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(invalid(Value::Null, "an empty batch is not a request"));
            }
            return Ok(Incoming::Batch(items));
        }
        Value::Object(obj) => obj,
        _ => return Err(invalid(Value::Null, "a JSON-RPC message must be an object")),
    };
    let id = obj.remove("id");
    let reply_id = match &id {
        Some(v @ (Value::String(_) | Value::Number(_))) => v.clone(),
        _ => Value::Null,
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(reply_id, "\"jsonrpc\" must be \"2.0\""));
    }
    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(invalid(reply_id, "\"method\" must be a string"));
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(invalid(reply_id, "\"params\" must be an object")),
        };
        return match id {
            None => Ok(Incoming::Notification(Notification { method, params })),
            Some(Value::String(_) | Value::Number(_)) => {
                Ok(Incoming::Request(Request { id: reply_id, method, params }))
            }
            Some(_) => Err(invalid(Value::Null, "\"id\" must be a string or a number")),
        };
    }
    match (id, obj.remove("result"), obj.remove("error")) {
        (Some(id), Some(result), None) => Ok(Incoming::Response { id, outcome: Ok(result) }),
        (Some(id), None, Some(error)) => Ok(Incoming::Response { id, outcome: Err(error) }),
        _ => Err(invalid(reply_id, "a message needs a \"method\", or a \"result\" or \"error\" with an \"id\"")),
    }
}

fn invalid(id: Id, message: &str) -> Rejected {
    Rejected { id, error: RpcError::invalid_request(format!("Invalid request: {message}")) }
}

/// A success response.
pub fn success(id: &Id, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// An error response.
pub fn failure(id: &Id, error: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

/// A notification from the server.
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::errors::{INVALID_REQUEST, PARSE_ERROR};

    #[test]
    fn invalid_json_is_a_parse_error_with_null_id() {
        let err = parse(b"{not json").err();
        assert_eq!(err.map(|r| (r.id, r.error.code)), Some((Value::Null, PARSE_ERROR)));
    }

    #[test]
    fn request_notification_response_and_batch_are_told_apart() {
        let req = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#);
        assert!(matches!(req, Ok(Incoming::Request(Request { ref method, .. })) if method == "tools/list"));
        let note = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(matches!(note, Ok(Incoming::Notification(_))));
        let resp = parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#);
        assert!(matches!(resp, Ok(Incoming::Response { .. })));
        let batch = parse(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#);
        assert!(matches!(batch, Ok(Incoming::Batch(ref v)) if v.len() == 1));
    }

    #[test]
    fn malformed_envelopes_are_invalid_requests_keeping_a_readable_id() {
        for (raw, id) in [
            (r#"{"id":1,"method":"x"}"#, json!(1)),
            (r#"{"jsonrpc":"2.0","id":"k","method":5}"#, json!("k")),
            (r#"{"jsonrpc":"2.0","id":2,"method":"x","params":[1]}"#, json!(2)),
            (r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#, Value::Null),
            (r#"[]"#, Value::Null),
            (r#"42"#, Value::Null),
        ] {
            let rejected = parse(raw.as_bytes()).err();
            assert_eq!(rejected.map(|r| (r.id, r.error.code)), Some((id, INVALID_REQUEST)), "{raw}");
        }
    }
}
