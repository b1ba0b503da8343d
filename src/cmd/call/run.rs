//! `tollgate call` and `tollgate tools`: one tool call (with its questions
//! asked on the terminal) or the caller's tool list, ending in an
//! [`Outcome`].
//!
//! Invariant: a confirmation is never given on the person's behalf; a call
//! that needs one and cannot ask ends with exit 4 and the question printed.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::ask::Prompter;
use super::conversation::{Conversation, refuse};
use super::options::Connect;
use super::outcome::Outcome;
use crate::wire::META_IDEMPOTENCY_KEY;

/// Rounds of questions one call may take before the client gives up.
const MAX_ROUNDS: usize = 8;

/// Where the arguments come from.
#[derive(Debug, Clone)]
pub enum ArgsSource {
    None,
    Inline(String),
    File(PathBuf),
}

/// `tollgate call`'s request.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub tool: String,
    pub args: ArgsSource,
    pub idempotency_key: Option<String>,
}

/// The arguments as a JSON object.
pub fn arguments(source: &ArgsSource) -> Result<Value, String> {
    let (text, from) = match source {
        ArgsSource::None => return Ok(json!({})),
        ArgsSource::Inline(t) => (t.clone(), "--args".to_owned()),
        ArgsSource::File(p) => (
            std::fs::read_to_string(p).map_err(|e| format!("--args-file {}: {e}", p.display()))?,
            format!("--args-file {}", p.display()),
        ),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(format!("{from}: the arguments must be a JSON object, like '{{\"key_id\": \"…\"}}'")),
        Err(e) => Err(format!("{from}: not valid JSON ({e})")),
    }
}

/// Run one `tools/call`.
pub async fn call(connect: &Connect, request: &CallRequest) -> Outcome {
    let arguments = match arguments(&request.args) {
        Ok(a) => a,
        Err(m) => return Outcome::Usage(m),
    };
    let mut conversation = match connect.open() {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    let outcome = drive(&mut conversation, request, arguments).await.unwrap_or_else(Outcome::from);
    conversation.close().await;
    outcome
}

async fn drive(
    conversation: &mut Conversation,
    request: &CallRequest,
    arguments: Value,
) -> Result<Outcome, super::message::LinkError> {
    let meta = match &request.idempotency_key {
        Some(k) => json!({ META_IDEMPOTENCY_KEY: k }),
        None => json!({}),
    };
    let mut prompter = Prompter::terminal();
    let mut params = json!({ "name": request.tool, "arguments": arguments });
    for _ in 0..MAX_ROUNDS {
        // A 2025 server asks on the open exchange; the answer goes back at once.
        let mut answer = |m: &Value| match m.get("method").and_then(Value::as_str) {
            Some("elicitation/create") => {
                let result = prompter.elicit(&m["params"]).unwrap_or_else(|| json!({"action": "cancel"}));
                json!({"jsonrpc": "2.0", "id": m.get("id"), "result": result})
            }
            _ => refuse(m),
        };
        let reply = conversation.request("tools/call", params.clone(), meta.clone(), &mut answer).await?;
        if !prompter.unasked.is_empty() {
            return Ok(Outcome::Unasked(std::mem::take(&mut prompter.unasked)));
        }
        let result = match split(reply) {
            Ok(result) => result,
            Err(denied) => return Ok(denied),
        };
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return Ok(finished(result));
        }
        // 2026-07-28: answer what can be answered and retry with the sealed state.
        let mut responses = Map::new();
        let requests = result.get("inputRequests").and_then(Value::as_object).cloned().unwrap_or_default();
        for (key, question) in &requests {
            match question.get("method").and_then(Value::as_str) {
                Some("elicitation/create") => {
                    if let Some(answer) = prompter.elicit(&question["params"]) {
                        responses.insert(key.clone(), answer);
                    }
                }
                // Never declared, so never expected; but never guessed at either.
                other => prompter.unasked.push(format!(
                    "{} (this client answers only elicitation/create)",
                    other.unwrap_or("a request without a method")
                )),
            }
        }
        if !prompter.unasked.is_empty() {
            return Ok(Outcome::Unasked(std::mem::take(&mut prompter.unasked)));
        }
        params["inputResponses"] = Value::Object(responses);
        params["requestState"] = result.get("requestState").cloned().unwrap_or(Value::Null);
    }
    Ok(Outcome::Transport(format!("the server still asked after {MAX_ROUNDS} rounds")))
}

/// A reply's result, or the denial its error is.
fn split(mut reply: Value) -> Result<Value, Outcome> {
    if let Some(error) = reply.get_mut("error") {
        return Err(Outcome::Denied(error.take()));
    }
    match reply.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err(Outcome::Transport(format!("not a JSON-RPC response: {reply}"))),
    }
}

fn finished(result: Value) -> Outcome {
    if result.get("isError") == Some(&Value::Bool(true)) {
        Outcome::ToolFailed(result)
    } else {
        Outcome::Success(result)
    }
}

/// `tollgate tools`: every page of `tools/list`, as `{tools: [{name, version, description}]}`.
pub async fn tools(connect: &Connect) -> Outcome {
    let mut conversation = match connect.open() {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    let outcome = list(&mut conversation).await.unwrap_or_else(Outcome::from);
    conversation.close().await;
    outcome
}

async fn list(conversation: &mut Conversation) -> Result<Outcome, super::message::LinkError> {
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let reply = conversation.request("tools/list", params, json!({}), &mut refuse).await?;
        let result = match split(reply) {
            Ok(r) => r,
            Err(denied) => return Ok(denied),
        };
        for tool in result.get("tools").and_then(Value::as_array).into_iter().flatten() {
            let description = tool.get("description").and_then(Value::as_str).unwrap_or_default();
            tools.push(json!({
                "name": tool.get("name"),
                "version": tool.get("_meta").and_then(|m| m.get(crate::wire::META_TOOL_VERSION)),
                "description": description.lines().next().unwrap_or_default(),
            }));
        }
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) if tools.len() < 10_000 => cursor = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(Outcome::Success(json!({ "tools": tools })))
}

/// The tool list for a person: one line per tool.
pub fn tool_lines(list: &Value) -> String {
    let tools = list.get("tools").and_then(Value::as_array).cloned().unwrap_or_default();
    let width = tools.iter().filter_map(|t| t["name"].as_str()).map(str::len).max().unwrap_or(0);
    tools
        .iter()
        .map(|t| {
            let version = t["version"].as_u64().map(|v| format!("v{v}")).unwrap_or_else(|| "-".into());
            format!(
                "{:width$}  {version:>3}  {}",
                t["name"].as_str().unwrap_or(""),
                t["description"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_must_be_a_json_object() {
        assert_eq!(arguments(&ArgsSource::None), Ok(json!({})));
        assert_eq!(arguments(&ArgsSource::Inline(r#"{"a":1}"#.into())), Ok(json!({"a": 1})));
        assert!(arguments(&ArgsSource::Inline("[1]".into())).is_err_and(|e| e.contains("JSON object")));
        assert!(arguments(&ArgsSource::Inline("{".into())).is_err_and(|e| e.contains("not valid JSON")));
        let missing = ArgsSource::File(PathBuf::from("/nonexistent/args.json"));
        assert!(arguments(&missing).is_err_and(|e| e.contains("--args-file")));
    }

    #[test]
    fn a_reply_is_a_result_or_a_denial() {
        let denied = split(json!({"error": {"code": -31403, "message": "no"}}));
        assert!(matches!(denied, Err(Outcome::Denied(e)) if e["code"] == -31403));
        assert_eq!(finished(json!({"isError": true})).exit_code(), 1);
        assert_eq!(finished(json!({"structuredContent": {}})).exit_code(), 0);
    }

    #[test]
    fn tool_lines_show_name_version_and_description() {
        let list = json!({"tools": [{"name": "whoami", "version": 1, "description": "Who you are"}]});
        assert_eq!(tool_lines(&list), "whoami   v1  Who you are");
    }
}
