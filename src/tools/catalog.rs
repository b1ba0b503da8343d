//! The standard catalogue: every tool family, registered in one place.
//!
//! Invariant: a tool is offered only if it is registered here (the
//! conformance fixtures are added separately, on loopback only).

use super::registry::{Registry, RegistryError};
use super::{
    audit_export, audit_tools, billing_tools, cert_binding, key_revoke_all, keys, lifecycle, server_info, tenants,
    whoami,
};

/// The registry of the tools every tollgate server offers.
pub fn standard() -> Result<Registry, RegistryError> {
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
