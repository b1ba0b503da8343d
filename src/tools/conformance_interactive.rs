//! Interactive fixture tools of the conformance suites (`--conformance` only):
//! elicitation, sampling and roots, asked through [`crate::tools::ask`] so that
//! 2026-07-28 clients get `input_required` results and 2025 clients get
//! server-to-client requests. Keys, messages and schemas follow the suites'
//! source (0.1.16 `tools-call-*`/`elicitation-*`, 0.2.0-alpha.12
//! `input-required-result-*` and `server-stateless`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::ToolCx;
use super::registry::{Handler, RegistryError, ToolSpec};
use super::result::{ToolError, ToolOutcome, text_block};
use crate::events::{Audience, Event};
use crate::tools::Registry;
use crate::tools::ask::{Answer, Question};

type Fixture = fn(&Value, &ToolCx) -> Result<String, ToolError>;

fn spec(name: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec::open(name, 1, name, description)
}

fn handler(f: Fixture) -> Handler {
    Handler::Streaming(Arc::new(move |args, cx: ToolCx| {
        Box::pin(async move {
            match f(&args, &cx) {
                Ok(text) => ToolOutcome::content(vec![text_block(&text)]),
                Err(e) => ToolOutcome::failure(&e),
            }
        })
    }))
}

fn schema(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn name_question(message: &str) -> Question {
    Question::Elicit { message: message.into(), schema: schema(json!({ "name": { "type": "string" } }), &["name"]) }
}

fn sampling(text: &str, max_tokens: u32) -> Question {
    Question::Sample(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
        "maxTokens": max_tokens,
    }))
}

fn accepted(answer: Option<&Answer>, field: &str) -> String {
    match answer {
        Some(Answer::Elicit { content, .. }) => content.get(field).and_then(Value::as_str).unwrap_or("").to_owned(),
        _ => String::new(),
    }
}

fn elicited(answer: Option<&Answer>) -> String {
    match answer {
        Some(Answer::Elicit { action, content }) => {
            format!("action={}, content={}", format!("{action:?}").to_lowercase(), Value::Object(content.clone()))
        }
        _ => "no answer".to_owned(),
    }
}

fn sampled(answer: Option<&Answer>) -> String {
    match answer {
        Some(Answer::Sample { text, .. }) => text.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn roots(answer: Option<&Answer>) -> String {
    match answer {
        Some(Answer::Roots(uris)) => uris.join(", "),
        _ => String::new(),
    }
}

/// A binding that makes answers count only with the state of the round that asked.
const STATEFUL: &str = "conformance-fixture";

fn one(cx: &ToolCx, key: &str, question: Question, bind: Value) -> Result<BTreeMap<String, Answer>, ToolError> {
    cx.input.ask(vec![(key, question)], bind)
}

/// "Please confirm" {ok: boolean}, bound so that only the sealed state of the asking round counts.
fn please_confirm(cx: &ToolCx) -> Result<String, ToolError> {
    let q = Question::Elicit {
        message: "Please confirm".into(),
        schema: schema(json!({ "ok": { "type": "boolean" } }), &["ok"]),
    };
    one(cx, "confirm", q, json!(STATEFUL))?;
    Ok("state-ok: the request state was verified".to_owned())
}

/// Register every interactive fixture.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    let no_args = json!({ "type": "object", "properties": {} });
    let string_arg = |name: &str| json!({ "type": "object", "properties": { name: { "type": "string" } } });
    let fixtures: [(&'static str, &'static str, Value, Fixture); 14] = [
        ("test_sampling", "Asks the client's model to answer a prompt.", string_arg("prompt"), |args, cx| {
            let prompt = args.get("prompt").and_then(Value::as_str).unwrap_or("Hello");
            let got = one(cx, "sampling", sampling(prompt, 100), Value::Null)?;
            Ok(format!("LLM response: {}", sampled(got.get("sampling"))))
        }),
        ("test_elicitation", "Asks the user for a username and an email.", string_arg("message"), |args, cx| {
            let message = args.get("message").and_then(Value::as_str).unwrap_or("Please provide your information");
            let props = json!({
                "username": { "type": "string", "description": "User's response" },
                "email": { "type": "string", "description": "User's email address" },
            });
            let q = Question::Elicit { message: message.into(), schema: schema(props, &["username", "email"]) };
            let got = one(cx, "elicitation", q, Value::Null)?;
            Ok(format!("User response: {}", elicited(got.get("elicitation"))))
        }),
        ("test_elicitation_sep1034_defaults", "Elicits fields that carry defaults.", no_args.clone(), |_, cx| {
            let props = json!({
                "name": { "type": "string", "default": "John Doe" },
                "age": { "type": "integer", "default": 30 },
                "score": { "type": "number", "default": 95.5 },
                "status": { "type": "string", "enum": ["active", "inactive", "pending"], "default": "active" },
                "verified": { "type": "boolean", "default": true },
            });
            let q = Question::Elicit {
                message: "Please review and update the form fields with defaults".into(),
                schema: schema(props, &[]),
            };
            let got = one(cx, "defaults", q, Value::Null)?;
            Ok(format!("Elicitation completed: {}", elicited(got.get("defaults"))))
        }),
        ("test_elicitation_sep1330_enums", "Elicits every kind of enum.", no_args.clone(), |_, cx| {
            let choices = |prefix: &str, titles: [&str; 3]| -> Vec<Value> {
                (1..=3).zip(titles).map(|(i, t)| json!({ "const": format!("{prefix}{i}"), "title": t })).collect()
            };
            let props = json!({
                "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                "titledSingle": { "type": "string", "oneOf": choices("value", ["First Option", "Second Option", "Third Option"]) },
                "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] },
                "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
                "titledMulti": { "type": "array", "items": { "anyOf": choices("value", ["First Choice", "Second Choice", "Third Choice"]) } },
            });
            let q = Question::Elicit {
                message: "Please select options from the enum fields".into(),
                schema: schema(props, &[]),
            };
            let got = one(cx, "enums", q, Value::Null)?;
            Ok(format!("Elicitation completed: {}", elicited(got.get("enums"))))
        }),
        ("test_streaming_elicitation", "Asks the user for a name.", no_args.clone(), |_, cx| {
            let got = one(cx, "user_name", name_question("What is your name?"), Value::Null)?;
            Ok(format!("Hello, {}!", accepted(got.get("user_name"), "name")))
        }),
        ("test_input_required_result_elicitation", "Asks the user for a name.", no_args.clone(), |_, cx| {
            let got = one(cx, "user_name", name_question("What is your name?"), Value::Null)?;
            Ok(format!("Hello, {}!", accepted(got.get("user_name"), "name")))
        }),
        ("test_input_required_result_sampling", "Asks the client's model a question.", no_args.clone(), |_, cx| {
            let got = one(cx, "capital_question", sampling("What is the capital of France?", 100), Value::Null)?;
            Ok(format!("The model said: {}", sampled(got.get("capital_question"))))
        }),
        ("test_input_required_result_list_roots", "Asks the client for its roots.", no_args.clone(), |_, cx| {
            let got = one(cx, "client_roots", Question::Roots, Value::Null)?;
            Ok(format!("Roots: {}", roots(got.get("client_roots"))))
        }),
        (
            "test_input_required_result_request_state",
            "Confirms through a sealed request state.",
            no_args.clone(),
            |_, cx| please_confirm(cx),
        ),
        ("test_input_required_result_multiple_inputs", "Asks three questions at once.", no_args.clone(), |_, cx| {
            let got = cx.input.ask(
                vec![
                    ("user_name", name_question("What is your name?")),
                    ("greeting", sampling("Generate a greeting", 50)),
                    ("client_roots", Question::Roots),
                ],
                json!(STATEFUL),
            )?;
            Ok(format!(
                "name={}, greeting={}, roots={}",
                accepted(got.get("user_name"), "name"),
                sampled(got.get("greeting")),
                roots(got.get("client_roots"))
            ))
        }),
        ("test_input_required_result_multi_round", "Asks two questions, one round each.", no_args.clone(), |_, cx| {
            let first = one(cx, "step1", name_question("Step 1: What is your name?"), json!(STATEFUL))?;
            let color = Question::Elicit {
                message: "Step 2: What is your favorite color?".into(),
                schema: schema(json!({ "color": { "type": "string" } }), &["color"]),
            };
            let second = one(cx, "step2", color, json!(STATEFUL))?;
            Ok(format!("{} likes {}", accepted(first.get("step1"), "name"), accepted(second.get("step2"), "color")))
        }),
        (
            "test_input_required_result_tampered_state",
            "Needs its sealed request state back intact.",
            no_args.clone(),
            |_, cx| please_confirm(cx),
        ),
        (
            "test_input_required_result_capabilities",
            "Asks only what the client can answer.",
            no_args.clone(),
            |_, cx| {
                let got = cx.input.ask(
                    vec![
                        ("user_name", name_question("What is your name?")),
                        ("greeting", sampling("Generate a greeting", 50)),
                    ],
                    Value::Null,
                )?;
                Ok(format!("answered: {}", got.keys().cloned().collect::<Vec<_>>().join(", ")))
            },
        ),
        (
            "test_trigger_tool_change",
            "Announces a tool-list change to the caller's listen streams.",
            no_args,
            |_, cx| {
                cx.announcements.push(Audience::of(&cx.principal), Event::ToolsListChanged);
                Ok("tool list change announced".to_owned())
            },
        ),
    ];
    for (name, description, input, fixture) in fixtures {
        r.add_raw(spec(name, description), input, handler(fixture))?;
    }
    Ok(())
}
