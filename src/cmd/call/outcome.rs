//! How a client command ends: one [`Outcome`] per run, printed once, with the
//! exit code scripts build on.
//!
//! Invariant: the exit codes are stable — 0 success, 1 the tool failed
//! (`isError`), 2 usage error, 3 the server refused the request (a JSON-RPC
//! error: a denial), 4 a question that could not be asked, 5 no answer
//! (transport). Nothing printed contains the credential.

use std::io::Write;

use serde_json::{Value, json};

use super::message::LinkError;

/// The end of one `tollgate call` or `tollgate tools`.
#[derive(Debug)]
pub enum Outcome {
    /// The tool's result (or the tool list).
    Success(Value),
    /// A result with `isError: true`.
    ToolFailed(Value),
    /// The command could not be formed (flags, arguments, environment).
    Usage(String),
    /// A JSON-RPC error from the server: the error object.
    Denied(Value),
    /// The tool asked something and stdin is not a terminal: the questions.
    Unasked(Vec<String>),
    /// No answer: connection, TLS or a broken reply.
    Transport(String),
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Success(_) => 0,
            Outcome::ToolFailed(_) => 1,
            Outcome::Usage(_) => 2,
            Outcome::Denied(_) => 3,
            Outcome::Unasked(_) => 4,
            Outcome::Transport(_) => 5,
        }
    }

    /// Print: results on stdout, everything else on stderr (`--json`: one JSON document on stdout too).
    pub fn print(&self, as_json: bool, out: &mut dyn Write, err: &mut dyn Write) {
        if as_json {
            let doc = match self {
                Outcome::Success(v) | Outcome::ToolFailed(v) => v.clone(),
                Outcome::Denied(e) => json!({ "error": e }),
                Outcome::Unasked(q) => json!({ "unasked": q }),
                Outcome::Usage(m) => json!({ "usage_error": m }),
                Outcome::Transport(m) => json!({ "transport_error": m }),
            };
            let _ = writeln!(out, "{doc}");
        }
        match self {
            Outcome::Success(v) if !as_json => {
                let _ = writeln!(out, "{}", readable(v));
            }
            Outcome::Success(_) => {}
            Outcome::ToolFailed(v) => {
                let failure = failure_of(v);
                let code = failure.get("code").and_then(Value::as_str).unwrap_or("tool_error");
                let message = failure.get("message").and_then(Value::as_str).unwrap_or("the tool failed");
                let _ = writeln!(err, "tollgate: the tool failed: {code}: {message}");
            }
            Outcome::Denied(e) => {
                let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
                let message = e.get("message").and_then(Value::as_str).unwrap_or("refused");
                let reason = e.get("data").and_then(|d| d.get("reason")).and_then(Value::as_str);
                let reason = reason.map(|r| format!(", reason {r}")).unwrap_or_default();
                let _ = writeln!(err, "tollgate: refused: {message} (code {code}{reason})");
            }
            Outcome::Unasked(questions) => {
                for q in questions {
                    let _ = writeln!(err, "tollgate: the tool asks: {q}");
                }
                let _ =
                    writeln!(err, "tollgate: stdin is not a terminal, so nothing was answered; run it in a terminal");
            }
            Outcome::Usage(m) | Outcome::Transport(m) => {
                let _ = writeln!(err, "tollgate: {m}");
            }
        }
    }
}

impl From<LinkError> for Outcome {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Usage(m) => Outcome::Usage(m),
            LinkError::Transport(m) => Outcome::Transport(m),
            LinkError::Refused(reason) => Outcome::Denied(json!({
                "code": crate::wire::errors::UNAUTHENTICATED,
                "message": "the stdio server refused the credential",
                "data": { "reason": reason },
            })),
        }
    }
}

/// A result for a person: its structured content, else its text blocks.
fn readable(result: &Value) -> String {
    if let Some(s) = result.get("structuredContent") {
        return serde_json::to_string_pretty(s).unwrap_or_default();
    }
    if let Some(blocks) = result.get("content").and_then(Value::as_array) {
        let texts: Vec<&str> = blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect();
        if !texts.is_empty() {
            return texts.join("\n");
        }
    }
    serde_json::to_string_pretty(result).unwrap_or_default()
}

/// The `{code, message}` of a tool failure (its structured content or JSON text block).
fn failure_of(result: &Value) -> Value {
    result
        .get("structuredContent")
        .cloned()
        .or_else(|| {
            let text = result.get("content")?.get(0)?.get("text")?.as_str()?;
            serde_json::from_str(text).ok()
        })
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_its_own_exit_code() {
        let codes: Vec<u8> = [
            Outcome::Success(json!({})),
            Outcome::ToolFailed(json!({})),
            Outcome::Usage(String::new()),
            Outcome::Denied(json!({})),
            Outcome::Unasked(vec![]),
            Outcome::Transport(String::new()),
        ]
        .iter()
        .map(Outcome::exit_code)
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_refused_stdio_key_is_a_denial_with_its_reason() {
        let outcome = Outcome::from(LinkError::Refused("key_revoked".into()));
        assert_eq!(outcome.exit_code(), 3);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        outcome.print(false, &mut out, &mut err);
        assert!(String::from_utf8_lossy(&err).contains("reason key_revoked"));
    }

    #[test]
    fn a_tool_failure_prints_its_code_and_message() {
        let result = json!({"isError": true, "content": [{"type": "text", "text": "{\"code\":\"not_found\",\"message\":\"no such key\"}"}]});
        let (mut out, mut err) = (Vec::new(), Vec::new());
        Outcome::ToolFailed(result).print(false, &mut out, &mut err);
        assert_eq!(String::from_utf8_lossy(&err).trim(), "tollgate: the tool failed: not_found: no such key");
        assert!(out.is_empty());
    }
}
