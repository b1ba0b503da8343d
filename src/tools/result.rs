//! What a tool call produces: a result, or a tool's own failure that an agent
//! can read and recover from (`isError: true`), never a protocol error.

use serde::Serialize;
use serde_json::{Value, json};

/// Stable codes of a tool's own failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolErrorCode {
    /// The arguments do not match the tool's input schema.
    InvalidArguments,
    /// The object does not exist (or the caller may not know it does).
    NotFound,
    /// The request conflicts with the current state (duplicate, stale version).
    Conflict,
    /// The state does not allow this now.
    FailedPrecondition,
    /// The tool failed in a way the caller cannot fix.
    Internal,
    /// An idempotency key was reused with other arguments.
    IdempotencyKeyReused,
    /// The first result carried a secret, so it cannot be replayed.
    NotReplayable,
    /// A call with the same idempotency key is still running: retry shortly for its result.
    InProgress,
    /// The tool needs input from the client (turned into an input request by the era layer).
    InputRequired,
    /// The tool needs input the client declared no capability for.
    ClientCapabilityMissing,
    /// The client declined or cancelled what the tool asked.
    Declined,
    /// The key was already replaced by a rotation: rotate its replacement instead.
    KeyAlreadyRotated,
}

/// A tool's own failure, reported inside the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolError {
    pub code: ToolErrorCode,
    pub message: String,
    /// The argument at fault, as a JSON pointer, where one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ToolError {
    pub fn new(code: ToolErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None }
    }

    pub fn invalid_argument(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: ToolErrorCode::InvalidArguments, message: message.into(), field: Some(field.into()) }
    }
}

/// A store failure inside a tool is the tool's `internal` failure (the
/// caller cannot fix it; the call's audit record still says so).
impl From<crate::store::StoreError> for ToolError {
    fn from(e: crate::store::StoreError) -> Self {
        ToolError::new(ToolErrorCode::Internal, e.to_string())
    }
}

/// The outcome of a tool call, in MCP's `CallToolResult` shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// Content blocks (text, image, audio, resource...).
    pub content: Vec<Value>,
    /// Structured result; always an object when present.
    pub structured: Option<Value>,
    pub is_error: bool,
    /// What a read-only tool (which has no write connection) leaves for its
    /// call's commit; applied in that transaction, only if the call succeeded.
    pub after: Option<AfterRead>,
}

/// A note about a read-only tool's own call, kept in the call's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRead {
    /// `audit.verify` ran: its chain's last verification (the console's release gate reads it).
    ChainVerified(crate::store::verifications::Verification),
}

impl AfterRead {
    /// Store the note (inside the commit transaction of the call).
    pub fn apply(&self, conn: &crate::store::Db) -> Result<(), crate::store::StoreError> {
        match self {
            AfterRead::ChainVerified(v) => crate::store::verifications::put(conn, v),
        }
    }
}

impl ToolOutcome {
    /// A structured result with the same JSON as a text block, as the spec asks.
    pub fn structured(value: Value) -> Self {
        Self { content: vec![text_block(&value.to_string())], structured: Some(value), is_error: false, after: None }
    }

    /// A tool failure: `{code, message}` as JSON text, no structured content
    /// (our output schemas describe successes only).
    pub fn failure(error: &ToolError) -> Self {
        let body = serde_json::to_value(error).unwrap_or_else(|_| json!({ "code": "internal" }));
        Self { content: vec![text_block(&body.to_string())], structured: None, is_error: true, after: None }
    }

    /// Content blocks only.
    pub fn content(content: Vec<Value>) -> Self {
        Self { content, structured: None, is_error: false, after: None }
    }

    /// The stable code of a tool failure (`not_found`, …), read back from its JSON text.
    pub fn error_code(&self) -> Option<String> {
        let text = self.content.first()?.get("text")?.as_str()?;
        let v: Value = serde_json::from_str(text).ok()?;
        v.get("code")?.as_str().map(str::to_owned)
    }

    /// The `CallToolResult` body (without era decoration).
    pub fn into_result(self) -> Value {
        let mut out = json!({ "content": self.content });
        if let Some(s) = self.structured {
            out["structuredContent"] = s;
        }
        if self.is_error {
            out["isError"] = json!(true);
        }
        out
    }
}

/// A text content block.
pub fn text_block(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}
