//! What a tool says about itself: name, version, wording, who may call it,
//! in which editions it exists, what it charges.
//!
//! Invariant: a spec is data only; the gate reads it (roles, feature, flag,
//! billing class, charges), the registry publishes it, nothing else decides.

use serde::Serialize;

use super::edition::Editions;
use crate::billing::{Counter, Feature};
use crate::config::Flag;
use crate::identity::Role;

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

/// What a tool says about itself, in one edition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub name: &'static str,
    /// The version of this edition's contract.
    pub version: u32,
    pub title: &'static str,
    pub description: &'static str,
    pub annotations: Annotations,
    /// Client capabilities the tool cannot work without (e.g. `sampling`).
    pub requires: &'static [&'static str],
    /// Roles that may call it; empty: anyone authenticated.
    pub roles: &'static [Role],
    /// The editions the tool exists in.
    pub editions: Editions,
    /// The tool acts on one tenant: in the multi-tenant edition it takes an
    /// optional `tenant_id` (added to its input schema unless it declares
    /// one), which the gate binds before the arguments are validated.
    pub tenant_scoped: bool,
    /// The plan feature the tool needs, if any.
    pub feature: Option<Feature>,
    /// The server flag that switches the tool off, if any (`multi_tenant`
    /// acts through `editions` instead).
    pub flag: Option<Flag>,
    /// Counters a successful call consumes besides `tool_calls`.
    pub charges: &'static [(Counter, u64)],
    /// The result carries a secret: never stored for idempotent replay.
    pub returns_secret: bool,
    /// What the tool may still do when the tenant's billing is not in good standing.
    pub billing: BillingClass,
    /// The tool reads a whole audit chain (verification, an export): the
    /// server runs only a few at once per tenant.
    pub heavy: bool,
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

impl ToolSpec {
    /// A spec with no role, capability, edition or tenant restrictions.
    pub const fn open(name: &'static str, version: u32, title: &'static str, description: &'static str) -> Self {
        Self {
            name,
            version,
            title,
            description,
            annotations: Annotations::READ_ONLY,
            requires: &[],
            roles: &[],
            editions: Editions::Both,
            tenant_scoped: false,
            feature: None,
            flag: None,
            charges: &[],
            returns_secret: false,
            billing: BillingClass::Regular,
            heavy: false,
        }
    }
}
