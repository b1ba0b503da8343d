//! The versioned tool registry and the tools themselves.
//!
//! A tool is declared once, as a type with typed input and output; its JSON
//! Schemas are generated from those types (schemars, JSON Schema 2020-12) and
//! published in `schemas/`. Tools compute effects inside the call's commit
//! transaction; they never check permissions, never write audit records and
//! never know which transport or era a call came from.

pub mod ask;
pub mod audit_export;
pub mod audit_tools;
pub mod billing_tools;
pub mod cert_binding;
pub mod conformance;
pub mod conformance_interactive;
pub mod context;
pub mod key_revoke_all;
pub mod keys;
pub mod lifecycle;
pub mod registry;
pub mod result;
pub mod schemas;
pub mod server_info;
pub mod tenants;
pub mod whoami;

use std::sync::Arc;

pub use registry::{RegisteredTool, Registry, Tool, ToolSpec};
pub use result::{ToolError, ToolErrorCode, ToolOutcome};

use crate::clock::Clock;
use crate::config::Config;
use crate::identity::{Principal, TenantId};
use crate::tools::context::SharedContext;

/// What an admitted call gives its tool.
#[derive(Clone)]
pub struct ToolCx {
    pub call: SharedContext,
    /// Who is calling (authenticated by the gate chain).
    pub principal: Principal,
    /// The effective tenant, bound by the gate chain from the principal (or,
    /// for a platform admin, from an explicit `tenant_id`).
    pub tenant: Option<TenantId>,
    pub clock: Clock,
    pub config: Arc<Config>,
    /// The keys the server trusts for its own checkpoints (current signing
    /// key first, then retired keys from the keyring), for verification tools.
    pub audit_keys: Arc<[crate::audit::PublicKey]>,
    /// The caller's tenant's plan and limits (absent for platform principals).
    pub billing: Option<crate::billing::BillingView>,
    /// Earlier answers, and where to ask for more (see [`crate::tools::ask`]).
    pub input: Arc<crate::tools::ask::Input>,
    /// Events to publish once the call has committed.
    pub announcements: crate::events::Announcements,
}

/// The registry of the tools every tollgate server offers.
pub fn standard() -> Result<Registry, registry::RegistryError> {
    let mut r = Registry::default();
    r.add_typed(whoami::Whoami::<crate::identity::Role>::new())?;
    r.add_typed(whoami::Whoami::<crate::identity::AccountRole>::new())?;
    r.add_typed(whoami::WhoamiTenant)?;
    r.add_typed(server_info::ServerInfoTool)?;
    tenants::register(&mut r)?;
    keys::register(&mut r)?;
    r.add_typed(key_revoke_all::RevokeAll)?;
    cert_binding::register(&mut r)?;
    audit_tools::register(&mut r)?;
    audit_export::register(&mut r)?;
    lifecycle::register(&mut r)?;
    billing_tools::register(&mut r)?;
    Ok(r)
}
