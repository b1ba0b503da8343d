//! The versioned tool registry and the tools themselves.
//!
//! A tool is declared once, as a type with typed input and output; its JSON
//! Schemas are generated from those types (schemars, JSON Schema 2020-12) and
//! published in `schemas/`. Tools compute effects inside the call's commit
//! transaction; they never check permissions, never write audit records and
//! never know which transport or era a call came from.

pub mod audit_export;
pub mod audit_tools;
pub mod billing_tools;
pub mod cert_binding;
pub mod conformance;
pub mod conformance_interactive;
pub mod edition;
pub mod key_revoke_all;
pub mod keys;
pub mod lifecycle;
pub mod registry;
pub mod result;
pub mod server_info;
pub mod spec;
pub mod tenants;
pub mod whoami;

use std::sync::Arc;

pub use edition::Edition;
pub use registry::{RegisteredTool, Registry, Tool, ToolSpec};
pub use result::{ToolError, ToolErrorCode, ToolOutcome};

use crate::clock::Clock;
use crate::config::Config;
use crate::context::SharedContext;
use crate::identity::{Principal, TenantId};

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
    /// Earlier answers, and where to ask for more (see [`crate::interact`]).
    pub input: Arc<crate::interact::Input>,
    /// Events to publish once the call has committed.
    pub announcements: crate::events::Announcements,
}

/// The registry of the tools every tollgate server offers.
pub fn standard() -> Result<Registry, registry::RegistryError> {
    let mut r = Registry::default();
    r.add_typed(whoami::Whoami)?;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn registry() -> Registry {
        standard().unwrap_or_default()
    }

    #[test]
    fn both_editions_list_the_same_versions_of_the_tools_they_share() {
        let r = registry();
        let versions = |multi_tenant: bool| -> BTreeMap<&'static str, u32> {
            r.latest(multi_tenant).iter().map(|t| (t.spec.name, t.spec.version)).collect()
        };
        let (multi, single) = (versions(true), versions(false));
        assert!(!single.is_empty());
        for (name, version) in &single {
            assert_eq!(
                multi.get(name),
                Some(version),
                "{name}: single-tenant v{version}, multi-tenant {:?}",
                multi.get(name)
            );
        }
    }

    #[test]
    fn the_single_tenant_edition_has_no_tenant_id_and_no_tenant_wording() {
        for t in registry().all_versions().filter(|t| t.edition == Edition::SingleTenant) {
            assert!(!t.takes_tenant_id(), "{}", t.contract());
            let published = t.descriptor(t.spec.name).to_string().to_lowercase();
            assert!(!published.contains("tenant"), "{} says tenant: {published}", t.contract());
        }
    }

    #[test]
    fn every_tenant_scoped_tool_takes_a_tenant_id_in_the_multi_tenant_edition() {
        let r = registry();
        let multi: Vec<_> = r.all_versions().filter(|t| t.edition == Edition::MultiTenant).collect();
        for t in &multi {
            assert_eq!(t.takes_tenant_id(), t.spec.tenant_scoped, "{}", t.contract());
        }
        assert!(multi.iter().any(|t| t.spec.name == "key.list" && t.takes_tenant_id()));
    }
}
