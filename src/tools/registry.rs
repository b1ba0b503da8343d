//! The registry of versioned tools.
//!
//! Invariants: a (name, version) pair is registered once; every published
//! input and output schema has an object root; names match `[A-Za-z0-9_.-]`
//! and are at most 64 characters, pinned form (`name.vN`) included.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::ToolCx;
use super::result::{ToolError, ToolOutcome};
use crate::billing::{Counter, Feature};
use crate::identity::Role;
use crate::store::WriteCx;

/// Hints a client may show about a tool (MCP `ToolAnnotations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    pub read_only_hint: bool,
    pub destructive_hint: bool,
    pub idempotent_hint: bool,
    pub open_world_hint: bool,
}

impl Annotations {
    /// A tool that only reads tollgate's own state.
    pub const READ_ONLY: Self =
        Self { read_only_hint: true, destructive_hint: false, idempotent_hint: true, open_world_hint: false };

    /// A tool that changes tollgate's own state (not destructively, not idempotently).
    pub const WRITE: Self =
        Self { read_only_hint: false, destructive_hint: false, idempotent_hint: false, open_world_hint: false };
}

/// What a tool says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub version: u32,
    pub title: &'static str,
    pub description: &'static str,
    pub annotations: Annotations,
    /// Client capabilities the tool cannot work without (e.g. `sampling`).
    pub requires: &'static [&'static str],
    /// Roles that may call it; empty: anyone authenticated.
    pub roles: &'static [Role],
    /// Server modes the tool exists in.
    pub modes: Modes,
    /// The plan feature the tool needs, if any.
    pub feature: Option<Feature>,
    /// Counters a successful call consumes besides `tool_calls`.
    pub charges: &'static [(Counter, u64)],
    /// The result carries a secret: never stored for idempotent replay.
    pub returns_secret: bool,
    /// What the tool may still do when the tenant's billing is not in good standing.
    pub billing: BillingClass,
}

/// How a tool behaves under `past_due` and `canceled` billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingClass {
    /// Under `past_due` only if read-only; never under `canceled`.
    Regular,
    /// Account tools (whoami, plan.get, usage.report): work under both.
    Account,
    /// Safety tools (key.revoke, key.list, audit export): always work.
    Safety,
}

/// In which server modes a tool version exists (the `multi_tenant` kill switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modes {
    Both,
    /// Only when `multi_tenant = true` (tenant management and tenant wording).
    MultiTenant,
    /// Only when `multi_tenant = false` (a version without tenant wording).
    SingleTenant,
}

impl Modes {
    /// Whether the tool exists when `multi_tenant` has this value.
    pub fn includes(self, multi_tenant: bool) -> bool {
        match self {
            Modes::Both => true,
            Modes::MultiTenant => multi_tenant,
            Modes::SingleTenant => !multi_tenant,
        }
    }
}

impl ToolSpec {
    /// A spec with no role, capability or mode restrictions.
    pub const fn open(name: &'static str, version: u32, title: &'static str, description: &'static str) -> Self {
        Self {
            name,
            version,
            title,
            description,
            annotations: Annotations::READ_ONLY,
            requires: &[],
            roles: &[],
            modes: Modes::Both,
            feature: None,
            charges: &[],
            returns_secret: false,
            billing: BillingClass::Regular,
        }
    }
}

/// A tool with typed input and output; its schemas are generated from the types.
///
/// `run` executes inside the commit transaction of the call, together with the
/// call's audit record: its effect and its record are durable together or not
/// at all. It must not check permissions (the gate chain did) and must not
/// write audit records (the commit does).
pub trait Tool: Send + Sync + 'static {
    type Input: DeserializeOwned + JsonSchema + Send;
    type Output: Serialize + JsonSchema;

    fn spec(&self) -> ToolSpec;

    /// Compute and apply the tool's effect.
    fn run(&self, input: Self::Input, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError>;
}

/// A read-only tool: it reads on a read connection and has no effect.
pub trait ReadTool: Send + Sync + 'static {
    type Input: DeserializeOwned + JsonSchema + Send;
    type Output: Serialize + JsonSchema;

    fn spec(&self) -> ToolSpec;

    /// Compute the result from a consistent read-only view of the store.
    fn read(&self, input: Self::Input, cx: &ToolCx, conn: &rusqlite::Connection) -> Result<Self::Output, ToolError>;
}

fn bad_input(e: serde_json::Error) -> ToolError {
    ToolError::invalid_argument("/", e.to_string())
}

/// A typed tool's result as an outcome (structured JSON, or its failure).
fn typed_outcome<O: Serialize>(result: Result<O, ToolError>) -> ToolOutcome {
    match result.and_then(|out| {
        serde_json::to_value(out)
            .map_err(|e| ToolError::new(super::ToolErrorCode::Internal, format!("result could not be encoded: {e}")))
    }) {
        Ok(v) => ToolOutcome::structured(v),
        Err(e) => ToolOutcome::failure(&e),
    }
}

/// A handler that reads on a read connection before the commit.
pub type ReadFn = dyn Fn(Value, &ToolCx, &rusqlite::Connection) -> ToolOutcome + Send + Sync;

/// A handler that runs inside the commit transaction.
pub type TransactionalFn = dyn Fn(Value, &ToolCx, &mut WriteCx<'_>) -> ToolOutcome + Send + Sync;

/// A handler that runs on the runtime before the commit.
pub type StreamingFn = dyn Fn(Value, ToolCx) -> BoxFuture<'static, ToolOutcome> + Send + Sync;

/// How a tool runs.
#[derive(Clone)]
pub enum Handler {
    /// Inside the commit transaction (every typed tool).
    Transactional(Arc<TransactionalFn>),
    /// On the runtime, before the commit (fixtures that stream notifications; no store effect).
    Streaming(Arc<StreamingFn>),
    /// On a read connection, before the commit (long reads; no effect).
    Read(Arc<ReadFn>),
}

/// A tool as the dispatcher sees it.
pub struct RegisteredTool {
    pub spec: ToolSpec,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    validator: jsonschema::Validator,
    handler: Handler,
}

impl std::fmt::Debug for RegisteredTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredTool").field("spec", &self.spec).finish_non_exhaustive()
    }
}

impl RegisteredTool {
    /// The name that pins this version (`name.vN`).
    pub fn pinned_name(&self) -> String {
        format!("{}.v{}", self.spec.name, self.spec.version)
    }

    /// The violation of the input schema to report, if any: an unknown
    /// argument first (a caller that misnamed one fixes that first), else the
    /// first violation.
    pub fn violation<'a>(&'a self, arguments: &'a Value) -> Option<jsonschema::ValidationError<'a>> {
        use jsonschema::error::ValidationErrorKind as Kind;
        let unknown = |e: &jsonschema::ValidationError<'_>| {
            matches!(e.kind(), Kind::AdditionalProperties { .. } | Kind::FalseSchema)
        };
        self.validator.iter_errors(arguments).min_by_key(|e| !unknown(e))
    }

    /// How this tool runs.
    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Whether a principal with `role` may see and call this tool when `multi_tenant` is as given.
    pub fn visible_to(&self, role: Role, multi_tenant: bool) -> bool {
        self.spec.modes.includes(multi_tenant) && (self.spec.roles.is_empty() || self.spec.roles.contains(&role))
    }

    /// The MCP `Tool` object, listed under `listed_name`.
    pub fn descriptor(&self, listed_name: &str) -> Value {
        let mut d = json!({
            "name": listed_name,
            "title": self.spec.title,
            "description": self.spec.description,
            "inputSchema": self.input_schema,
            "annotations": self.spec.annotations,
        });
        if let Some(out) = &self.output_schema {
            d["outputSchema"] = out.clone();
        }
        d
    }
}

/// Why a tool could not be registered (a programming error caught at start-up).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("tool name {0:?} is not a valid MCP tool name ([A-Za-z0-9_.-], at most 64 characters)")]
    BadName(String),
    #[error("tool {0} is registered twice")]
    Duplicate(String),
    #[error("tool {name}: the {which} schema must have an object root")]
    NotObjectRoot { name: String, which: &'static str },
    #[error("tool {name}: the input schema is not a valid JSON Schema: {detail}")]
    BadSchema { name: String, detail: String },
}

/// All tools, by name and version, in a deterministic order.
#[derive(Default)]
pub struct Registry {
    tools: BTreeMap<(&'static str, u32), Arc<RegisteredTool>>,
}

impl Registry {
    /// Register a typed tool; schemas are generated from its types.
    pub fn add_typed<T: Tool>(&mut self, tool: T) -> Result<(), RegistryError> {
        let spec = tool.spec();
        let (input_schema, output_schema) = (schema_of::<T::Input>(), schema_of::<T::Output>());
        let tool = Arc::new(tool);
        let handler = Handler::Transactional(Arc::new(move |args, cx, tx| {
            typed_outcome(serde_json::from_value(args).map_err(bad_input).and_then(|input| tool.run(input, cx, tx)))
        }));
        self.insert(spec, input_schema, Some(output_schema), handler)
    }

    /// Register a read-only tool; it runs on a read connection before the
    /// commit, so a long read (verifying a chain) never holds the writer.
    pub fn add_read<T: ReadTool>(&mut self, tool: T) -> Result<(), RegistryError> {
        let spec = tool.spec();
        let (input_schema, output_schema) = (schema_of::<T::Input>(), schema_of::<T::Output>());
        let tool = Arc::new(tool);
        let handler = Handler::Read(Arc::new(move |args, cx, conn| {
            typed_outcome(serde_json::from_value(args).map_err(bad_input).and_then(|input| tool.read(input, cx, conn)))
        }));
        self.insert(spec, input_schema, Some(output_schema), handler)
    }

    /// Register a tool whose result is free-form content (no output schema).
    pub fn add_raw(&mut self, spec: ToolSpec, input_schema: Value, handler: Handler) -> Result<(), RegistryError> {
        self.insert(spec, input_schema, None, handler)
    }

    fn insert(
        &mut self,
        spec: ToolSpec,
        input_schema: Value,
        output_schema: Option<Value>,
        handler: Handler,
    ) -> Result<(), RegistryError> {
        let pinned = format!("{}.v{}", spec.name, spec.version);
        if !valid_name(spec.name) || !valid_name(&pinned) || split_pinned(spec.name).is_some() {
            return Err(RegistryError::BadName(spec.name.to_owned()));
        }
        for (which, schema) in [("input", Some(&input_schema)), ("output", output_schema.as_ref())] {
            if schema.is_some_and(|s| s.get("type") != Some(&json!("object"))) {
                return Err(RegistryError::NotObjectRoot { name: pinned.clone(), which });
            }
        }
        let validator = jsonschema::validator_for(&input_schema)
            .map_err(|e| RegistryError::BadSchema { name: pinned.clone(), detail: e.to_string() })?;
        let key = (spec.name, spec.version);
        if self.tools.contains_key(&key) {
            return Err(RegistryError::Duplicate(pinned));
        }
        self.tools.insert(key, Arc::new(RegisteredTool { spec, input_schema, output_schema, validator, handler }));
        Ok(())
    }

    /// The latest version of each tool that exists in this mode, in name order.
    pub fn latest(&self, multi_tenant: bool) -> Vec<Arc<RegisteredTool>> {
        let mut out: BTreeMap<&str, Arc<RegisteredTool>> = BTreeMap::new();
        for ((name, _), tool) in &self.tools {
            if tool.spec.modes.includes(multi_tenant) {
                out.insert(name, Arc::clone(tool));
            }
        }
        out.into_values().collect()
    }

    /// Every registered version, in (name, version) order (what `schemas/` holds).
    pub fn all_versions(&self) -> impl Iterator<Item = &Arc<RegisteredTool>> {
        self.tools.values()
    }

    /// Resolve a called name: a plain name is its latest version in this mode
    /// (or, if it exists only in the other mode, its latest there, so the gate
    /// can say why it is refused); `name.vN` pins a version in any mode.
    pub fn resolve(&self, requested: &str, multi_tenant: bool) -> Option<Arc<RegisteredTool>> {
        let mut versions = self.tools.range((requested, 0)..=(requested, u32::MAX)).map(|(_, t)| t).rev().peekable();
        let newest = versions.peek().map(|t| Arc::clone(t));
        if let Some(tool) = versions.find(|t| t.spec.modes.includes(multi_tenant)) {
            return Some(Arc::clone(tool));
        }
        if newest.is_some() {
            return newest;
        }
        let (name, version) = split_pinned(requested)?;
        self.tools.iter().find(|((n, v), _)| *n == name && *v == version).map(|(_, t)| Arc::clone(t))
    }
}

/// Split `name.vN` into its parts.
fn split_pinned(requested: &str) -> Option<(&str, u32)> {
    let (name, v) = requested.rsplit_once(".v")?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.starts_with('0') {
        return None;
    }
    Some((name, v.parse().ok()?))
}

/// MCP tool-name rule.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// JSON Schema (2020-12) of a type, with the root's `$schema` and `title` removed.
pub fn schema_of<T: JsonSchema>() -> Value {
    let mut v = schemars::schema_for!(T).to_value();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &'static str, version: u32) -> ToolSpec {
        ToolSpec::open(name, version, "t", "d")
    }

    fn noop() -> Handler {
        Handler::Streaming(Arc::new(|_, _| Box::pin(async { ToolOutcome::content(vec![]) })))
    }

    fn obj() -> Value {
        json!({"type": "object"})
    }

    #[test]
    fn plain_name_resolves_to_latest_and_pinned_name_to_its_version() {
        let mut r = Registry::default();
        for v in [1, 2] {
            assert!(r.add_raw(spec("demo.tool", v), obj(), noop()).is_ok());
        }
        assert_eq!(r.resolve("demo.tool", true).map(|t| t.spec.version), Some(2));
        assert_eq!(r.resolve("demo.tool.v1", true).map(|t| t.spec.version), Some(1));
        assert!(r.resolve("demo.tool.v3", true).is_none());
        assert!(r.resolve("demo.tool.v01", true).is_none());
        assert_eq!(r.latest(true).len(), 1);
    }

    #[test]
    fn a_plain_name_resolves_within_the_mode_and_pinned_names_in_any() {
        let mut r = Registry::default();
        let both = spec("t", 1);
        let multi = ToolSpec { modes: Modes::MultiTenant, ..spec("t", 2) };
        let single = ToolSpec { modes: Modes::SingleTenant, ..spec("t", 3) };
        for s in [both, multi, single] {
            assert!(r.add_raw(s, obj(), noop()).is_ok());
        }
        assert_eq!(r.resolve("t", true).map(|t| t.spec.version), Some(2));
        assert_eq!(r.resolve("t", false).map(|t| t.spec.version), Some(3));
        assert_eq!(r.resolve("t.v3", true).map(|t| t.spec.version), Some(3), "pinned: the gate refuses it");
        assert_eq!(r.latest(true).iter().map(|t| t.spec.version).collect::<Vec<_>>(), [2]);
        assert_eq!(r.latest(false).iter().map(|t| t.spec.version).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn bad_names_duplicates_and_non_object_schemas_are_refused() {
        let mut r = Registry::default();
        assert!(matches!(r.add_raw(spec("has space", 1), obj(), noop()), Err(RegistryError::BadName(_))));
        assert!(matches!(r.add_raw(spec("x.v2", 1), obj(), noop()), Err(RegistryError::BadName(_))));
        let long: &'static str = Box::leak("a".repeat(62).into_boxed_str());
        assert!(matches!(r.add_raw(spec(long, 1), obj(), noop()), Err(RegistryError::BadName(_))));
        assert!(r.add_raw(spec("ok", 1), obj(), noop()).is_ok());
        assert!(matches!(r.add_raw(spec("ok", 1), obj(), noop()), Err(RegistryError::Duplicate(_))));
        assert!(matches!(
            r.add_raw(spec("arr", 1), json!({"type": "array"}), noop()),
            Err(RegistryError::NotObjectRoot { .. })
        ));
    }
}
