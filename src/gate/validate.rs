//! Gate step: validate arguments against the resolved tool's input schema.
//!
//! A violation is the caller's to fix, so it is a tool result
//! (`isError: true`, `{code: "invalid_arguments", field, message}`), never a
//! protocol error (2025-11-25 and 2026-07-28 ask for this so a model can
//! correct itself). Invariant: `field` is a JSON pointer to what is wrong and
//! `message` says in plain words what is wrong with it, naming only what the
//! client sent or the schema publishes — never a validator's own wording.

use futures::future::BoxFuture;
use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
use serde_json::Value;

use super::{Admission, Refusal, Step};
use crate::tools::ToolError;

/// Validates the arguments.
pub struct ValidateArguments;

impl Step for ValidateArguments {
    fn name(&self) -> &'static str {
        "validate_arguments"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            match call.tool()?.violation(&call.arguments) {
                None => Ok(()),
                Some(e) => {
                    let (field, message) = explain(&e, &call.arguments);
                    Err(Refusal::Tool(ToolError::invalid_argument(field, message)))
                }
            }
        })
    }
}

/// The field (a JSON pointer; `/` for the arguments themselves) and a
/// plain-words message for one violation of `arguments`.
pub fn explain(e: &ValidationError<'_>, arguments: &Value) -> (String, String) {
    let at = e.instance_path().to_string();
    let here = if at.is_empty() { "/".to_owned() } else { at.clone() };
    // Object members at the top are the tool's arguments; deeper, fields.
    let noun = if at.is_empty() { "argument" } else { "field" };
    let member = |name: &str| format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
    let unknown = |names: Vec<&str>| {
        let field = match names.as_slice() {
            [one] => member(one),
            _ => here.clone(),
        };
        let plural = if names.len() == 1 { "" } else { "s" };
        (field, format!("unknown {noun}{plural} {}", quoted(names.into_iter())))
    };
    match e.kind() {
        Kind::AdditionalProperties { unexpected } | Kind::UnevaluatedProperties { unexpected } => {
            unknown(unexpected.iter().map(String::as_str).collect())
        }
        // `additionalProperties: false` on an object with no properties: every member is unknown.
        Kind::FalseSchema if e.schema_path().as_str().ends_with("/additionalProperties") => {
            match arguments.pointer(&at).and_then(Value::as_object) {
                Some(members) if !members.is_empty() => unknown(members.keys().map(String::as_str).collect()),
                _ => (here, "unknown argument".to_owned()),
            }
        }
        Kind::FalseSchema => {
            // A member no schema allows: name it as the client sent it.
            let (parent, name) = at.rsplit_once('/').unwrap_or(("", ""));
            let noun = if parent.is_empty() { "argument" } else { "field" };
            let name = name.replace("~1", "/").replace("~0", "~");
            (here, format!("unknown {noun} `{name}`"))
        }
        Kind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            (member(name), format!("missing required {noun} `{name}`"))
        }
        other => (here, describe(other, e.instance())),
    }
}

/// What is wrong with a value, for the kinds that concern the value itself.
fn describe(kind: &Kind, instance: &Value) -> String {
    let number = if instance.is_i64() || instance.is_u64() { "an integer" } else { "a number" };
    match kind {
        Kind::Type { kind } => format!("expected {}", types(kind)),
        Kind::Minimum { limit } => format!("expected {number} ≥ {limit}"),
        Kind::Maximum { limit } => format!("expected {number} ≤ {limit}"),
        Kind::ExclusiveMinimum { limit } => format!("expected {number} > {limit}"),
        Kind::ExclusiveMaximum { limit } => format!("expected {number} < {limit}"),
        Kind::MultipleOf { multiple_of } => format!("expected a multiple of {multiple_of}"),
        Kind::MinLength { limit } => format!("expected at least {limit} character{}", plural(*limit)),
        Kind::MaxLength { limit } => format!("expected at most {limit} character{}", plural(*limit)),
        Kind::Pattern { pattern } => format!("does not have the expected form (`{pattern}`)"),
        Kind::Format { format } => format!("expected a value in the `{format}` format"),
        Kind::Enum { options } => one_of(options.as_array().map(Vec::as_slice).unwrap_or_default()),
        Kind::Constant { expected_value } => format!("expected {}", literal(expected_value)),
        Kind::OneOfNotValid { context } | Kind::AnyOf { context } => alternatives(context),
        Kind::OneOfMultipleValid { .. } => "matches more than one of the allowed forms".to_owned(),
        Kind::MinItems { limit } => format!("expected at least {limit} item{}", plural(*limit)),
        Kind::MaxItems { limit } => format!("expected at most {limit} item{}", plural(*limit)),
        Kind::UniqueItems => "expected items without repeats".to_owned(),
        Kind::MinProperties { limit } => format!("expected at least {limit} field{}", plural(*limit)),
        Kind::MaxProperties { limit } => format!("expected at most {limit} field{}", plural(*limit)),
        _ => "is not valid here".to_owned(),
    }
}

/// "expected one of …" when every alternative is a constant (how enums with
/// documented values are published), else a plain refusal.
fn alternatives(context: &[Vec<ValidationError<'static>>]) -> String {
    let mut allowed = Vec::new();
    for branch in context {
        for e in branch {
            match e.kind() {
                Kind::Constant { expected_value } => allowed.push(expected_value.as_ref().clone()),
                Kind::Enum { options } => allowed.extend(options.as_array().cloned().unwrap_or_default()),
                Kind::Type { .. } => {}
                _ => return "matches none of the allowed forms".to_owned(),
            }
        }
    }
    if allowed.is_empty() { "matches none of the allowed forms".to_owned() } else { one_of(&allowed) }
}

fn one_of(options: &[Value]) -> String {
    format!("expected one of {}", options.iter().map(literal).collect::<Vec<_>>().join(", "))
}

fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn types(kind: &TypeKind) -> String {
    let names: Vec<&str> = match kind {
        TypeKind::Single(t) => vec![t.as_str()],
        TypeKind::Multiple(set) => set.iter().map(|t| t.as_str()).collect(),
    };
    // `null` last: "an integer or null".
    let (nulls, mut names): (Vec<&str>, Vec<&str>) = names.into_iter().partition(|n| *n == "null");
    names.extend(nulls);
    let described: Vec<&str> = names
        .into_iter()
        .map(|n| match n {
            "integer" => "an integer",
            "object" => "an object",
            "array" => "an array",
            "string" => "a string",
            "number" => "a number",
            "boolean" => "a boolean",
            "null" => "null",
            _ => "a value",
        })
        .collect();
    match described.as_slice() {
        [] => "a value".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The (field, message) the first violation of `args` against `schema` gets.
    fn explained(schema: Value, args: Value) -> (String, String) {
        let validator = jsonschema::validator_for(&schema).expect("a valid schema");
        let e = validator.iter_errors(&args).next().expect("a violation");
        let (field, message) = explain(&e, &args);
        // Never the validator's own wording.
        assert_ne!(message, e.to_string());
        (field, message)
    }

    fn pair(field: &str, message: &str) -> (String, String) {
        (field.to_owned(), message.to_owned())
    }

    #[test]
    fn an_unknown_argument_is_named_as_sent() {
        let schema =
            json!({"type": "object", "properties": {"label": {"type": "string"}}, "additionalProperties": false});
        assert_eq!(explained(schema, json!({"colour": "red"})), pair("/colour", "unknown argument `colour`"));
        let none = json!({"type": "object", "additionalProperties": false});
        assert_eq!(explained(none, json!({"tenant_id": "tn_x"})), pair("/tenant_id", "unknown argument `tenant_id`"));
    }

    #[test]
    fn an_unknown_nested_field_is_a_field_at_its_pointer() {
        let schema = json!({"type": "object", "properties": {"limits": {
            "type": "object", "properties": {"tool_calls": {"type": "integer"}}, "additionalProperties": false}}});
        assert_eq!(
            explained(schema, json!({"limits": {"colour": 1}})),
            pair("/limits/colour", "unknown field `colour`")
        );
    }

    #[test]
    fn a_wrong_type_says_what_was_expected() {
        let schema = json!({"type": "object", "properties": {"limits": {"type": "object", "properties": {
            "tool_calls": {"type": ["integer", "null"]}}}}});
        assert_eq!(
            explained(schema, json!({"limits": {"tool_calls": "many"}})),
            pair("/limits/tool_calls", "expected an integer or null")
        );
        let schema = json!({"type": "object", "properties": {"label": {"type": "string"}}});
        assert_eq!(explained(schema, json!({"label": 5})), pair("/label", "expected a string"));
    }

    #[test]
    fn a_number_out_of_range_says_the_bound() {
        let schema = json!({"type": "object", "properties": {"limits": {"type": "object", "properties": {
            "tool_calls": {"type": "integer", "minimum": 1}}}, "grace": {"type": "integer", "maximum": 2592000}}});
        assert_eq!(
            explained(schema.clone(), json!({"limits": {"tool_calls": 0}})),
            pair("/limits/tool_calls", "expected an integer ≥ 1")
        );
        assert_eq!(explained(schema, json!({"grace": 2592001})), pair("/grace", "expected an integer ≤ 2592000"));
    }

    #[test]
    fn a_missing_argument_is_named_at_its_pointer() {
        let schema = json!({"type": "object", "properties": {"slug": {"type": "string"}}, "required": ["slug"]});
        assert_eq!(explained(schema, json!({})), pair("/slug", "missing required argument `slug`"));
    }

    #[test]
    fn an_enum_lists_its_values() {
        let schema = json!({"type": "object", "properties": {"plan": {"type": "string", "enum": ["free", "pro"]}}});
        assert_eq!(explained(schema, json!({"plan": "gold"})), pair("/plan", "expected one of `free`, `pro`"));
        // Documented values are published as oneOf of constants (schemars).
        let schema = json!({"type": "object", "properties": {"role": {"oneOf": [
            {"type": "string", "const": "viewer", "description": "Reads."},
            {"type": "string", "const": "auditor", "description": "Audits."}]}}});
        assert_eq!(explained(schema, json!({"role": "god"})), pair("/role", "expected one of `viewer`, `auditor`"));
    }

    #[test]
    fn a_string_too_long_or_short_says_the_limit() {
        let schema =
            json!({"type": "object", "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 200}}});
        assert_eq!(
            explained(schema.clone(), json!({"label": "x".repeat(201)})),
            pair("/label", "expected at most 200 characters")
        );
        assert_eq!(explained(schema, json!({"label": ""})), pair("/label", "expected at least 1 character"));
    }

    #[test]
    fn arguments_that_are_not_an_object_are_the_root() {
        assert_eq!(explained(json!({"type": "object"}), json!([1])), pair("/", "expected an object"));
    }
}
