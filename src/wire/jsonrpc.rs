//! JSON-RPC 2.0 framing: classifying an incoming message and building replies.
//!
//! Invariants: any byte sequence maps to exactly one [`Incoming`] or to an
//! [`RpcError`] with the id we could recover; nothing here panics; a reply
//! carries the request's id byte for byte as the client wrote it (a
//! 30-digit number, `-0`, an escaped string), because the id is kept as raw
//! JSON text, never re-encoded through a float.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::errors::RpcError;

/// A request id exactly as the client sent it (a string or a number; `null`
/// when none was readable), with its parsed value for matching and keys.
#[derive(Debug, Clone)]
pub struct Id {
    raw: Box<RawValue>,
    value: Value,
}

impl Id {
    /// `null`: the id of a reply to a message whose id could not be read.
    pub fn null() -> Self {
        Self::from_value(Value::Null)
    }

    /// An id the server makes itself (its text is its value's JSON).
    pub fn from_value(value: Value) -> Self {
        let raw = RawValue::from_string(value.to_string()).unwrap_or_else(|_| null_raw());
        Self { raw, value }
    }

    /// The client's text and its value; `None` if the text is not a string or number.
    fn from_raw(raw: &RawValue) -> Option<Self> {
        let value: Value = serde_json::from_str(raw.get()).ok()?;
        matches!(value, Value::String(_) | Value::Number(_)).then(|| Self { raw: raw.to_owned(), value })
    }

    /// The parsed value (a large number may have lost precision: use it to
    /// match and key, never to echo).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The id's JSON text as the client wrote it.
    pub fn raw(&self) -> &str {
        self.raw.get()
    }
}

fn null_raw() -> Box<RawValue> {
    // `null` is valid JSON, so this never falls back in practice.
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| Box::<RawValue>::default())
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get()
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.raw.get())
    }
}

/// Serialized as the client's text (through `serde_json`'s raw values).
impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

/// One parsed JSON-RPC message from a client.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// A call that expects an answer.
    Request(Request),
    /// A message that expects none.
    Notification(Notification),
    /// The client's answer to a request the server sent.
    Response { id: Value, outcome: Result<Value, Value> },
    /// Several messages in one array (2025-03-26 only), each as its text.
    Batch(Vec<Box<RawValue>>),
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

/// A reply to one request, its id as the client wrote it.
#[derive(Debug, Clone)]
pub struct Reply {
    id: Id,
    outcome: Result<Value, RpcError>,
}

impl Reply {
    /// The error, if this reply is one.
    pub fn error(&self) -> Option<&RpcError> {
        self.outcome.as_ref().err()
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("jsonrpc", "2.0")?;
        m.serialize_entry("id", &self.id)?;
        match &self.outcome {
            Ok(result) => m.serialize_entry("result", result)?,
            Err(error) => m.serialize_entry("error", error)?,
        }
        m.end()
    }
}

/// What the server writes on a connection: its own messages (notifications,
/// a 2025 client's questions) and replies, in the order they were sent.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Message(Value),
    Reply(Reply),
    /// The replies to a batch, as one array.
    Replies(Vec<Reply>),
}

/// A channel for server-to-client messages about one in-flight request
/// (notifications, and a 2025 client's questions).
pub type NotificationSink = tokio::sync::mpsc::UnboundedSender<Outgoing>;

impl From<Value> for Outgoing {
    fn from(v: Value) -> Self {
        Outgoing::Message(v)
    }
}

impl From<Reply> for Outgoing {
    fn from(r: Reply) -> Self {
        Outgoing::Reply(r)
    }
}

impl Serialize for Outgoing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Outgoing::Message(v) => v.serialize(s),
            Outgoing::Reply(r) => r.serialize(s),
            Outgoing::Replies(rs) => rs.serialize(s),
        }
    }
}

/// The JSON text of a message (ids raw); a message that cannot be encoded
/// becomes an internal error with a null id.
pub fn to_text<T: Serialize + ?Sized>(message: &T) -> String {
    serde_json::to_string(message).unwrap_or_else(|_| {
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32603, "message": "unencodable reply"}}).to_string()
    })
}

/// Parse raw bytes into a message.
pub fn parse(bytes: &[u8]) -> Result<Incoming, Rejected> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Rejected { id: Id::null(), error: RpcError::parse(e) })?;
    match value {
        // Each element again from its text, so that its id stays raw.
        Value::Array(items) if !items.is_empty() => {
            let items: Vec<Box<RawValue>> =
                serde_json::from_slice(bytes).map_err(|e| Rejected { id: Id::null(), error: RpcError::parse(e) })?;
            Ok(Incoming::Batch(items))
        }
        value => classify(value, raw_id(bytes)),
    }
}

/// The text of a message's top-level `"id"`, if it has exactly one.
fn raw_id(bytes: &[u8]) -> Option<Id> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    let envelope: Envelope<'_> = serde_json::from_slice(bytes).ok()?;
    envelope.id.and_then(Id::from_raw)
}

/// Classify a parsed message; `raw` is its id as written, when it was read.
fn classify(value: Value, raw: Option<Id>) -> Result<Incoming, Rejected> {
    let mut obj = match value {
        Value::Array(_) => return Err(invalid(Id::null(), "an empty batch is not a request")),
        Value::Object(obj) => obj,
        _ => return Err(invalid(Id::null(), "a JSON-RPC message must be an object")),
    };
    let id = obj.remove("id");
    let reply_id = match &id {
        Some(v @ (Value::String(_) | Value::Number(_))) => {
            raw.filter(|r| r.value() == v).unwrap_or_else(|| Id::from_value(v.clone()))
        }
        _ => Id::null(),
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
            Some(_) => Err(invalid(Id::null(), "\"id\" must be a string or a number")),
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
pub fn success(id: &Id, result: Value) -> Reply {
    Reply { id: id.clone(), outcome: Ok(result) }
}

/// An error response.
pub fn failure(id: &Id, error: &RpcError) -> Reply {
    Reply { id: id.clone(), outcome: Err(error.clone()) }
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
        assert_eq!(err.map(|r| (r.id.value().clone(), r.error.code)), Some((Value::Null, PARSE_ERROR)));
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
            assert_eq!(rejected.map(|r| (r.id.value().clone(), r.error.code)), Some((id, INVALID_REQUEST)), "{raw}");
        }
    }

    #[test]
    fn ids_are_echoed_exactly_as_written_in_replies_and_errors() {
        for id in ["123456789012345678901234567890", "-0", "-1.0E+2", "1.50", r#""\u0041b""#, "7"] {
            let raw = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
            let Ok(Incoming::Request(req)) = parse(raw.as_bytes()) else { panic!("{raw}") };
            assert_eq!(req.id.raw(), id);
            let ok = to_text(&success(&req.id, json!({})));
            assert_eq!(ok, format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#));
            let bad = format!(r#"{{"jsonrpc":"1.0","id":{id},"method":"ping"}}"#);
            let rejected = parse(bad.as_bytes()).err().map(|r| to_text(&failure(&r.id, &r.error)));
            assert!(rejected.is_some_and(|t| t.contains(&format!(r#""id":{id},"#))), "{bad}");
        }
        let batch = parse(br#"[{"jsonrpc":"2.0","id":-0,"method":"ping"}]"#);
        let Ok(Incoming::Batch(items)) = batch else { panic!("a batch") };
        let Ok(Incoming::Request(req)) = parse(items[0].get().as_bytes()) else { panic!("an element") };
        assert_eq!(req.id.raw(), "-0");
    }
}
