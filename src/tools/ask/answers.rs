//! Checking what a client answered: each answer must be a valid result of
//! the request it answers (`ElicitResult`, `CreateMessageResult`,
//! `ListRootsResult`), and an accepted elicitation must fit its schema.

use serde_json::{Map, Value};

use super::question::Question;

/// What the person or agent behind the client chose in an elicitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElicitAction {
    Accept,
    Decline,
    Cancel,
}

/// A checked answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// An elicitation result; `content` is present (and fits the schema) when accepted.
    Elicit { action: ElicitAction, content: Map<String, Value> },
    /// A sampling result: the message's text, if it is text.
    Sample { text: Option<String>, model: Option<String> },
    /// The client's roots (their URIs).
    Roots(Vec<String>),
}

impl Answer {
    /// A confirmation: accepted with `confirm: true`.
    pub fn confirmed(&self) -> bool {
        matches!(self, Answer::Elicit { action: ElicitAction::Accept, content } if content.get("confirm") == Some(&Value::Bool(true)))
    }
}

/// Check `raw` as the answer to `question`; the error says what is wrong.
pub fn parse(question: &Question, raw: &Value) -> Result<Answer, String> {
    let obj = raw.as_object().ok_or("must be an object (the result of the request)")?;
    match question {
        Question::Elicit { schema, .. } => {
            let action = match obj.get("action").and_then(Value::as_str) {
                Some("accept") => ElicitAction::Accept,
                Some("decline") => ElicitAction::Decline,
                Some("cancel") => ElicitAction::Cancel,
                _ => return Err("action must be \"accept\", \"decline\" or \"cancel\"".to_owned()),
            };
            let content = match obj.get("content") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(c)) => c.clone(),
                Some(_) => return Err("content must be an object".to_owned()),
            };
            if action == ElicitAction::Accept {
                let validator =
                    jsonschema::validator_for(schema).map_err(|e| format!("the requested schema is invalid: {e}"))?;
                if let Some(e) = validator.iter_errors(&Value::Object(content.clone())).next() {
                    return Err(format!("content does not fit the requested schema: {e}"));
                }
            }
            Ok(Answer::Elicit { action, content })
        }
        Question::Sample(_) => {
            if obj.get("role").and_then(Value::as_str).is_none() {
                return Err("a sampling result needs a string role".to_owned());
            }
            let content = obj.get("content").ok_or("a sampling result needs content")?;
            let text = match content {
                Value::Object(block) => block.get("text").and_then(Value::as_str).map(str::to_owned),
                Value::Array(blocks) => {
                    blocks.iter().find_map(|b| b.get("text").and_then(Value::as_str)).map(str::to_owned)
                }
                _ => return Err("content must be a content block or an array of them".to_owned()),
            };
            Ok(Answer::Sample { text, model: obj.get("model").and_then(Value::as_str).map(str::to_owned) })
        }
        Question::Roots => {
            let roots = obj.get("roots").and_then(Value::as_array).ok_or("a roots result needs a roots array")?;
            roots
                .iter()
                .map(|r| r.get("uri").and_then(Value::as_str).map(str::to_owned).ok_or("every root needs a string uri"))
                .collect::<Result<Vec<_>, _>>()
                .map(Answer::Roots)
                .map_err(str::to_owned)
        }
    }
}
