//! The questions a tool can put to the person behind the client, and how
//! each becomes a request (`elicitation/create`, `sampling/createMessage`).
//!
//! Invariant: a question knows its own wire form; answers are parsed in `answers`.

use serde_json::{Value, json};

/// One question a tool can put to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// `elicitation/create` in form mode: a message and a flat object schema.
    Elicit { message: String, schema: Value },
    /// `sampling/createMessage` with these params (messages, maxTokens, ...).
    Sample(Value),
    /// `roots/list`.
    Roots,
}

impl Question {
    /// A yes/no confirmation: an elicitation with one required boolean `confirm`.
    pub fn confirm(message: impl Into<String>) -> Self {
        Question::Elicit {
            message: message.into(),
            schema: json!({
                "type": "object",
                "properties": { "confirm": { "type": "boolean", "title": "Confirm", "description": "true to go ahead" } },
                "required": ["confirm"],
            }),
        }
    }

    /// The JSON-RPC method the client answers.
    pub fn method(&self) -> &'static str {
        match self {
            Question::Elicit { .. } => "elicitation/create",
            Question::Sample(_) => "sampling/createMessage",
            Question::Roots => "roots/list",
        }
    }

    /// The client capability the method needs.
    pub fn capability(&self) -> &'static str {
        match self {
            Question::Elicit { .. } => "elicitation",
            Question::Sample(_) => "sampling",
            Question::Roots => "roots",
        }
    }

    /// The request's params.
    pub fn params(&self) -> Value {
        match self {
            Question::Elicit { message, schema } => json!({ "message": message, "requestedSchema": schema }),
            Question::Sample(params) => params.clone(),
            Question::Roots => json!({}),
        }
    }

    /// The `{method, params}` object of an `inputRequests` entry.
    pub fn request(&self) -> Value {
        json!({ "method": self.method(), "params": self.params() })
    }
}
