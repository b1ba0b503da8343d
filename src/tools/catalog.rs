//! The standard catalogue: every tool family, registered in one place.
//!
//! Invariant: a tool is offered only if it is registered here (the
//! conformance fixtures are added separately, on loopback only).

use super::registry::{Registry, RegistryError};
use super::{
    admin, audit_export, audit_tools, billing_tools, cert_binding, identity_tools, key_revoke_all, keys, lifecycle,
    server_info, tenants, whoami,
};

/// The registry of the tools every tollgate server offers.
pub fn standard() -> Result<Registry, RegistryError> {
    let mut r = Registry::default();
    r.add_typed(whoami::Whoami)?;
    r.add_typed(server_info::ServerInfoTool)?;
    tenants::register(&mut r)?;
    keys::register(&mut r)?;
    r.add_typed(key_revoke_all::RevokeAll)?;
    cert_binding::register(&mut r)?;
    identity_tools::register(&mut r)?;
    audit_tools::register(&mut r)?;
    audit_export::register(&mut r)?;
    lifecycle::register(&mut r)?;
    billing_tools::register(&mut r)?;
    admin::register(&mut r)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::tools::Edition;

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
