//! The registry of tools, by edition, name and version.
//!
//! Invariants: an (edition, name, version) triple is registered once; a tool
//! is declared once and registered in each edition it exists in; every
//! published input and output schema has an object root; no single-tenant
//! input takes a `tenant_id`; names match `[A-Za-z0-9_.-]` and are at most 64
//! characters, pinned form (`name.vN`) included.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ToolCx;
use super::edition::{self, Edition, EditionKind, Multi, Single};
use super::result::{AfterRead, ToolError, ToolOutcome};
pub use super::spec::{Annotations, BillingClass, ToolSpec};
use crate::identity::Role;
use crate::store::WriteCx;
pub use edition::Editions;

/// A tool with typed input and output, declared once for both editions; its
/// schemas are generated from the types, which may depend on the edition `E`
/// (how roles are written). Its spec says which editions it exists in.
///
/// `run` executes inside the commit transaction of the call, together with the
/// call's audit record: its effect and its record are durable together or not
/// at all. It must not check permissions (the gate chain did) and must not
/// write audit records (the commit does).
pub trait Tool<E: EditionKind>: Send + Sync + 'static {
    type Input: DeserializeOwned + JsonSchema + Send;
    type Output: Serialize + JsonSchema;

    fn spec(&self) -> ToolSpec;

    /// Compute and apply the tool's effect.
    fn run(&self, input: Self::Input, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError>;
}

/// A read-only tool: it reads on a read connection and has no effect.
pub trait ReadTool<E: EditionKind>: Send + Sync + 'static {
    type Input: DeserializeOwned + JsonSchema + Send;
    type Output: Serialize + JsonSchema;

    fn spec(&self) -> ToolSpec;

    /// Compute the result from a consistent read-only view of the store.
    fn read(&self, input: Self::Input, cx: &ToolCx, conn: &crate::store::Db) -> Result<Self::Output, ToolError>;

    /// A note about this call for its commit to keep (see [`AfterRead`]); none by default.
    fn after(&self, _output: &Self::Output, _cx: &ToolCx) -> Option<AfterRead> {
        None
    }
}

/// The input of a tool that takes no arguments of its own (a tenant-scoped
/// one takes `tenant_id` in the multi-tenant edition).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

impl JsonSchema for NoArguments {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NoArguments".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "object", "additionalProperties": false})
    }
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
pub type ReadFn = dyn Fn(Value, &ToolCx, &crate::store::Db) -> ToolOutcome + Send + Sync;

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

/// A tool in one edition, as the dispatcher sees it.
pub struct RegisteredTool {
    pub edition: Edition,
    pub spec: ToolSpec,
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    validator: jsonschema::Validator,
    handler: Handler,
}

impl std::fmt::Debug for RegisteredTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredTool")
            .field("edition", &self.edition)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl RegisteredTool {
    /// The name that pins this version (`name.vN`); the same in both editions.
    pub fn pinned_name(&self) -> String {
        format!("{}.v{}", self.spec.name, self.spec.version)
    }

    /// The contract this is, editions apart (`multi-tenant/name.vN`): what
    /// idempotency scopes and sealed request states are bound to, and the
    /// path of its file in `schemas/` (without `.json`).
    pub fn contract(&self) -> String {
        format!("{}/{}", self.edition.as_str(), self.pinned_name())
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

    /// Whether this edition of the tool takes a `tenant_id` argument.
    pub fn takes_tenant_id(&self) -> bool {
        edition::takes_tenant_id(&self.input_schema)
    }

    /// How this tool runs.
    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Whether a principal with `role` may see and call this tool when `multi_tenant` is as given.
    pub fn visible_to(&self, role: Role, multi_tenant: bool) -> bool {
        self.edition == Edition::of(multi_tenant) && (self.spec.roles.is_empty() || self.spec.roles.contains(&role))
    }

    /// The MCP `Tool` object, listed under `listed_name`.
    pub fn descriptor(&self, listed_name: &str) -> Value {
        let mut d = json!({
            "name": listed_name,
            "title": self.spec.title,
            "description": self.spec.description,
            "inputSchema": self.input_schema,
            "annotations": self.spec.annotations,
            "_meta": { crate::wire::META_TOOL_VERSION: self.spec.version },
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
    #[error("tool {0}: the single-tenant edition must not take a tenant_id")]
    TenantArgument(String),
}

/// All tools, by edition, name and version, in a deterministic order.
#[derive(Default)]
pub struct Registry {
    tools: BTreeMap<(Edition, &'static str, u32), Arc<RegisteredTool>>,
}

impl Registry {
    /// Register a typed tool in each edition its spec names; schemas are
    /// generated from its types.
    pub fn add_typed<T: Tool<Multi> + Tool<Single>>(&mut self, tool: T) -> Result<(), RegistryError> {
        let tool = Arc::new(tool);
        self.add_typed_in::<Multi, T>(Arc::clone(&tool))?;
        self.add_typed_in::<Single, T>(tool)
    }

    fn add_typed_in<E: EditionKind, T: Tool<E>>(&mut self, tool: Arc<T>) -> Result<(), RegistryError> {
        let spec = tool.spec();
        if !spec.editions.includes(E::EDITION) {
            return Ok(());
        }
        let (input, added) = edition::input_schema(input_schema_of::<T::Input>(), E::EDITION, spec.tenant_scoped);
        let handler = Handler::Transactional(Arc::new(move |args, cx, tx| {
            let input = serde_json::from_value(edition::without_tenant_arg(args, added)).map_err(bad_input);
            typed_outcome(input.and_then(|input| tool.run(input, cx, tx)))
        }));
        self.insert(E::EDITION, spec, input, Some(schema_of::<T::Output>()), handler)
    }

    /// Register a read-only tool in each edition its spec names; it runs on a
    /// read connection before the commit, so a long read (verifying a chain)
    /// never holds the writer.
    pub fn add_read<T: ReadTool<Multi> + ReadTool<Single>>(&mut self, tool: T) -> Result<(), RegistryError> {
        let tool = Arc::new(tool);
        self.add_read_in::<Multi, T>(Arc::clone(&tool))?;
        self.add_read_in::<Single, T>(tool)
    }

    fn add_read_in<E: EditionKind, T: ReadTool<E>>(&mut self, tool: Arc<T>) -> Result<(), RegistryError> {
        let spec = tool.spec();
        if !spec.editions.includes(E::EDITION) {
            return Ok(());
        }
        let (input, added) = edition::input_schema(input_schema_of::<T::Input>(), E::EDITION, spec.tenant_scoped);
        let handler = Handler::Read(Arc::new(move |args, cx, conn| {
            let input = serde_json::from_value(edition::without_tenant_arg(args, added)).map_err(bad_input);
            let output = input.and_then(|input| tool.read(input, cx, conn));
            let after = output.as_ref().ok().and_then(|out| tool.after(out, cx));
            let mut outcome = typed_outcome(output);
            outcome.after = after.filter(|_| !outcome.is_error);
            outcome
        }));
        self.insert(E::EDITION, spec, input, Some(schema_of::<T::Output>()), handler)
    }

    /// Register a tool whose result is free-form content (no output schema),
    /// the same in each edition its spec names.
    pub fn add_raw(&mut self, spec: ToolSpec, input_schema: Value, handler: Handler) -> Result<(), RegistryError> {
        for e in Edition::ALL.into_iter().filter(|e| spec.editions.includes(*e)) {
            self.insert(e, spec.clone(), input_schema.clone(), None, handler.clone())?;
        }
        Ok(())
    }

    fn insert(
        &mut self,
        edition: Edition,
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
        if edition == Edition::SingleTenant && edition::takes_tenant_id(&input_schema) {
            return Err(RegistryError::TenantArgument(pinned));
        }
        let validator = jsonschema::validator_for(&input_schema)
            .map_err(|e| RegistryError::BadSchema { name: pinned.clone(), detail: e.to_string() })?;
        let key = (edition, spec.name, spec.version);
        if self.tools.contains_key(&key) {
            return Err(RegistryError::Duplicate(format!("{}/{pinned}", edition.as_str())));
        }
        let tool = RegisteredTool { edition, spec, input_schema, output_schema, validator, handler };
        self.tools.insert(key, Arc::new(tool));
        Ok(())
    }

    /// The latest version of each tool of this mode's edition, in name order.
    pub fn latest(&self, multi_tenant: bool) -> Vec<Arc<RegisteredTool>> {
        let edition = Edition::of(multi_tenant);
        let mut out: BTreeMap<&str, Arc<RegisteredTool>> = BTreeMap::new();
        for ((_, name, _), tool) in self.tools.iter().filter(|((e, _, _), _)| *e == edition) {
            out.insert(name, Arc::clone(tool));
        }
        out.into_values().collect()
    }

    /// Every registered edition and version, in (edition, name, version)
    /// order (what `schemas/` holds).
    pub fn all_versions(&self) -> impl Iterator<Item = &Arc<RegisteredTool>> {
        self.tools.values()
    }

    /// Resolve a called name in this mode's edition: a plain name is its
    /// latest version, `name.vN` pins a version. A name that exists only in
    /// the other edition resolves there, so the gate can say why it is refused.
    pub fn resolve(&self, requested: &str, multi_tenant: bool) -> Option<Arc<RegisteredTool>> {
        let here = Edition::of(multi_tenant);
        let there = Edition::of(!multi_tenant);
        self.find(here, requested).or_else(|| self.find(there, requested))
    }

    fn find(&self, edition: Edition, requested: &str) -> Option<Arc<RegisteredTool>> {
        let latest = self.tools.range((edition, requested, 0)..=(edition, requested, u32::MAX)).next_back();
        if let Some((_, tool)) = latest {
            return Some(Arc::clone(tool));
        }
        let (name, version) = split_pinned(requested)?;
        self.tools.get(&(edition, name, version)).map(Arc::clone)
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

/// The published input schema of a type: without the root's description
/// (the input type's doc comment is for readers of the code; the tool's own
/// description and its fields' say what a caller needs).
fn input_schema_of<T: JsonSchema>() -> Value {
    let mut v = schema_of::<T>();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("description");
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
    fn a_name_resolves_in_the_mode_s_edition_first_then_in_the_other() {
        let mut r = Registry::default();
        let both = spec("t", 1);
        let multi = ToolSpec { editions: Editions::MultiTenantOnly, ..spec("t", 2) };
        for s in [both, multi] {
            assert!(r.add_raw(s, obj(), noop()).is_ok());
        }
        let found = |name: &str, multi_tenant: bool| r.resolve(name, multi_tenant).map(|t| t.contract());
        assert_eq!(found("t", true).as_deref(), Some("multi-tenant/t.v2"));
        assert_eq!(found("t", false).as_deref(), Some("single-tenant/t.v1"));
        assert_eq!(found("t.v1", true).as_deref(), Some("multi-tenant/t.v1"));
        assert_eq!(
            found("t.v2", false).as_deref(),
            Some("multi-tenant/t.v2"),
            "the other edition's: the gate refuses it"
        );
        assert_eq!(r.latest(true).iter().map(|t| t.spec.version).collect::<Vec<_>>(), [2]);
        assert_eq!(r.latest(false).iter().map(|t| t.spec.version).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_single_tenant_input_with_a_tenant_id_is_refused() {
        let mut r = Registry::default();
        let schema = json!({"type": "object", "properties": {"tenant_id": {"type": "string"}}});
        assert!(matches!(r.add_raw(spec("t", 1), schema.clone(), noop()), Err(RegistryError::TenantArgument(_))));
        let multi = ToolSpec { editions: Editions::MultiTenantOnly, ..spec("u", 1) };
        assert!(r.add_raw(multi, schema, noop()).is_ok());
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
