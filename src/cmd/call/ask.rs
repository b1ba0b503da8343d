//! Asking the person at the terminal what a tool wants to know (a
//! confirmation, in form mode): the one place the client reads stdin.
//!
//! Invariant: nothing is ever answered on the person's behalf. When stdin is
//! not a terminal the question is kept (to be printed, exit 4) and the server
//! gets `cancel`, which no tool treats as consent.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Map, Value, json};

/// Answers elicitations on a terminal, or records that it could not.
pub struct Prompter {
    interactive: bool,
    /// The questions that could not be asked, in order.
    pub unasked: Vec<String>,
}

impl Prompter {
    /// Interactive exactly when stdin is a terminal.
    pub fn terminal() -> Self {
        Self { interactive: std::io::stdin().is_terminal(), unasked: Vec::new() }
    }

    /// The `ElicitResult` for one `elicitation/create` (its params), or
    /// `None` when it could not be asked (the question is kept).
    pub fn elicit(&mut self, params: &Value) -> Option<Value> {
        let message = params.get("message").and_then(Value::as_str).unwrap_or("the tool asks for input").to_owned();
        if !self.interactive {
            self.unasked.push(message);
            return None;
        }
        let schema = params.get("requestedSchema").cloned().unwrap_or_else(|| json!({}));
        Some(tokio::task::block_in_place(|| ask_form(&message, &schema)))
    }
}

/// Ask every field of a form-mode schema; Ctrl-D cancels.
fn ask_form(message: &str, schema: &Value) -> Value {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{message}");
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let mut content = Map::new();
    for (name, field) in properties {
        let kind = field.get("type").and_then(Value::as_str).unwrap_or("string");
        let label = field.get("title").or_else(|| field.get("description")).and_then(Value::as_str).unwrap_or(name);
        let hint = if kind == "boolean" { " [y/N]" } else { "" };
        let _ = write!(err, "  {label}{hint}: ");
        let _ = err.flush();
        let Some(line) = read_line() else {
            let _ = writeln!(err);
            return json!({"action": "cancel"});
        };
        let line = line.trim();
        let value = match kind {
            "boolean" => json!(matches!(line.to_ascii_lowercase().as_str(), "y" | "yes")),
            "integer" => line.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(line)),
            "number" => line
                .parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .unwrap_or_else(|| json!(line)),
            _ => json!(line),
        };
        content.insert(name.clone(), value);
    }
    json!({"action": "accept", "content": content})
}

fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line),
    }
}
