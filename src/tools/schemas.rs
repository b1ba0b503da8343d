//! Published tool schemas: generation, drift check, and the compatibility
//! rules for published versions.
//!
//! Invariant: a published (edition, name, version) keeps its input schema
//! exactly and its output schema up to new optional fields; anything else
//! needs a new version of that edition. `schemas/` is the record of what was
//! published: `schemas/<edition>/<name>.v<N>.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::tools::Registry;

/// One file per edition and tool version: `{edition}/{name}.v{N}.json`.
pub fn generate(registry: &Registry) -> BTreeMap<String, Value> {
    registry
        .all_versions()
        .map(|t| {
            let doc = json!({
                "name": t.spec.name,
                "edition": t.edition.as_str(),
                "version": t.spec.version,
                "title": t.spec.title,
                "description": t.spec.description,
                "annotations": t.spec.annotations,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
            });
            (format!("{}.json", t.contract()), doc)
        })
        .collect()
}

/// Text of a schema file (pretty, newline-terminated, stable).
pub fn render(doc: &Value) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
    s.push('\n');
    s
}

/// Why `schemas/` does not match the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file would be written differently (regenerate with `tollgate schemas --out schemas`).
    Drift { file: String },
    /// A published version changed incompatibly; `rule` names what it broke.
    Incompatible { file: String, rule: &'static str, detail: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Drift { file } => {
                write!(f, "{file}: differs from the code; run `tollgate schemas --out schemas` and commit it")
            }
            Problem::Incompatible { file, rule, detail } => {
                write!(f, "{file}: incompatible change ({rule}): {detail}; publish a new tool version instead")
            }
        }
    }
}

/// Read every `*.json` in `dir` and in its edition folders, keyed by their
/// path below `dir` (`multi-tenant/whoami.v1.json`).
pub fn read_dir(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    read_into(dir, "", &mut out)?;
    Ok(out)
}

fn read_into(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if path.is_dir() && prefix.is_empty() {
            read_into(&path, &format!("{name}/"), out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.insert(format!("{prefix}{name}"), std::fs::read_to_string(&path)?);
        }
    }
    Ok(())
}

/// Compare committed files against the code: incompatibilities first, then drift.
pub fn check(committed: &BTreeMap<String, String>, generated: &BTreeMap<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (file, text) in committed {
        let published: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(Problem::Incompatible { file: file.clone(), rule: "unreadable", detail: e.to_string() });
                continue;
            }
        };
        match generated.get(file) {
            None => problems.push(Problem::Incompatible {
                file: file.clone(),
                rule: "version_removed",
                detail: "a published tool version no longer exists".to_owned(),
            }),
            Some(current) => {
                problems.extend(
                    compatibility(&published, current).into_iter().map(|(rule, detail)| Problem::Incompatible {
                        file: file.clone(),
                        rule,
                        detail,
                    }),
                );
                if render(current) != *text {
                    problems.push(Problem::Drift { file: file.clone() });
                }
            }
        }
    }
    for file in generated.keys().filter(|f| !committed.contains_key(*f)) {
        problems.push(Problem::Drift { file: file.clone() });
    }
    problems
}

/// The rules a published version's schemas must keep.
pub fn compatibility(published: &Value, current: &Value) -> Vec<(&'static str, String)> {
    let mut broken = Vec::new();
    if published.get("inputSchema") != current.get("inputSchema") {
        broken.push(("input_schema_changed", "the input schema of a published version must not change".to_owned()));
    }
    let (old, new) = (published.get("outputSchema"), current.get("outputSchema"));
    match (old, new) {
        (Some(Value::Object(old)), Some(Value::Object(new))) => broken.extend(output_rules(old, new)),
        (o, n) if o != n => {
            broken.push(("output_schema_changed", "the output schema was added, removed or retyped".to_owned()));
        }
        _ => {}
    }
    broken
}

fn output_rules(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let props = |s: &Map<String, Value>| s.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
    let required = |s: &Map<String, Value>| -> Vec<String> {
        s.get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let (old_props, new_props) = (props(old), props(new));
    let new_required = required(new);
    let mut broken = Vec::new();
    for (name, schema) in &old_props {
        match new_props.get(name) {
            None => broken.push(("output_field_removed", format!("output field {name:?} was removed"))),
            Some(s) if s != schema => broken.push(("output_field_changed", format!("output field {name:?} changed"))),
            Some(_) => {}
        }
    }
    for name in new_props.keys().filter(|n| !old_props.contains_key(*n)) {
        if new_required.contains(name) {
            broken.push(("output_required_field_added", format!("new output field {name:?} is required")));
        }
    }
    // Definitions may be added (new optional fields bring their types), never changed or removed.
    let defs = |s: &Map<String, Value>| s.get("$defs").and_then(Value::as_object).cloned().unwrap_or_default();
    let new_defs = defs(new);
    for (name, def) in defs(old) {
        if new_defs.get(&name) != Some(&def) {
            broken.push(("output_definition_changed", format!("output definition {name:?} changed or was removed")));
        }
    }
    // Everything else must stay (new optional fields are absent from `required`).
    let old_names: Vec<&String> = old_props.keys().collect();
    let strip = |s: &Map<String, Value>| {
        let mut s = s.clone();
        s.remove("properties");
        s.remove("$defs");
        if let Some(Value::Array(req)) = s.get_mut("required") {
            req.retain(|v| v.as_str().is_some_and(|n| old_names.iter().any(|k| *k == n)));
        }
        s
    };
    if strip(old) != strip(new) {
        broken.push(("output_schema_changed", "the output schema changed outside its fields".to_owned()));
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(input: Value, output: Value) -> Value {
        json!({"name": "t", "version": 1, "inputSchema": input, "outputSchema": output})
    }

    fn out(props: Value, required: Value) -> Value {
        json!({"type": "object", "properties": props, "required": required})
    }

    fn rules(published: &Value, current: &Value) -> Vec<&'static str> {
        compatibility(published, current).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn a_new_optional_output_field_is_compatible() {
        let input = json!({"type": "object"});
        let old = tool(input.clone(), out(json!({"a": {"type": "string"}}), json!(["a"])));
        let new = tool(input, out(json!({"a": {"type": "string"}, "b": {"type": "integer"}}), json!(["a"])));
        assert_eq!(rules(&old, &new), Vec::<&str>::new());
    }

    #[test]
    fn a_new_optional_field_may_bring_a_new_definition_but_not_change_one() {
        let input = json!({"type": "object"});
        let mut old_out = out(json!({"a": {"$ref": "#/$defs/A"}}), json!(["a"]));
        old_out["$defs"] = json!({"A": {"type": "string"}});
        let mut new_out = out(json!({"a": {"$ref": "#/$defs/A"}, "b": {"$ref": "#/$defs/B"}}), json!(["a"]));
        new_out["$defs"] = json!({"A": {"type": "string"}, "B": {"type": "integer"}});
        assert_eq!(
            rules(&tool(input.clone(), old_out.clone()), &tool(input.clone(), new_out.clone())),
            Vec::<&str>::new()
        );
        new_out["$defs"]["A"] = json!({"type": "integer"});
        assert_eq!(rules(&tool(input.clone(), old_out), &tool(input, new_out)), ["output_definition_changed"]);
    }

    #[test]
    fn each_incompatible_change_names_its_rule() {
        let input = json!({"type": "object", "properties": {"x": {"type": "string"}}});
        let base = tool(input.clone(), out(json!({"a": {"type": "string"}}), json!(["a"])));
        let cases = [
            (
                tool(json!({"type": "object"}), out(json!({"a": {"type": "string"}}), json!(["a"]))),
                "input_schema_changed",
            ),
            (tool(input.clone(), out(json!({}), json!([]))), "output_field_removed"),
            (tool(input.clone(), out(json!({"a": {"type": "integer"}}), json!(["a"]))), "output_field_changed"),
            (
                tool(input.clone(), out(json!({"a": {"type": "string"}, "b": {"type": "string"}}), json!(["a", "b"]))),
                "output_required_field_added",
            ),
            (tool(input.clone(), out(json!({"a": {"type": "string"}}), json!([]))), "output_schema_changed"),
            (tool(input, Value::Null), "output_schema_changed"),
        ];
        for (current, rule) in cases {
            assert!(rules(&base, &current).contains(&rule), "{rule}: got {:?}", rules(&base, &current));
        }
    }

    #[test]
    fn a_removed_version_and_an_uncommitted_one_are_reported() {
        let committed = BTreeMap::from([("gone.v1.json".to_owned(), render(&tool(json!({}), json!({}))))]);
        let generated = BTreeMap::from([("new.v1.json".to_owned(), tool(json!({}), json!({})))]);
        let problems = check(&committed, &generated);
        assert!(problems.iter().any(|p| matches!(p, Problem::Incompatible { rule: "version_removed", .. })));
        assert!(problems.iter().any(|p| matches!(p, Problem::Drift { file } if file == "new.v1.json")));
    }
}
