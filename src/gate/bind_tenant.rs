//! Gate step: bind the effective tenant, before the arguments are validated.
//!
//! Invariant: the effective tenant comes from the principal. In the
//! multi-tenant edition a tool that takes a `tenant_id` reads it as advisory:
//! naming any tenant other than the caller's own (existing or not) is -31403
//! `tenant_mismatch` (a spoof, audited and counted), whatever else the
//! arguments say; only a platform admin may name a tenant explicitly. Where
//! a tool takes no `tenant_id` (the whole single-tenant edition), the
//! argument is not read here: validation refuses it as unknown.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Admission, Refusal, Step, forbidden};
use crate::identity::TenantId;
use crate::tools::edition::TENANT_ARG;
use crate::wire::denial::Forbid;

/// Binds the tenant.
pub struct BindTenant {
    multi_tenant: bool,
}

impl BindTenant {
    pub fn new(multi_tenant: bool) -> Self {
        Self { multi_tenant }
    }
}

impl Step for BindTenant {
    fn name(&self) -> &'static str {
        "bind_tenant"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let principal = call.principal()?.clone();
            let takes_tenant = self.multi_tenant && call.tool()?.takes_tenant_id();
            let named = if takes_tenant { call.arguments.get(TENANT_ARG).and_then(Value::as_str) } else { None };
            let named = named.map(|t| TenantId(t.to_owned()));
            call.tenant = match (principal.is_platform(), principal.tenant, named) {
                // Single-tenant edition: everything acts on the tenant `default`.
                (true, _, _) if !self.multi_tenant => Some(TenantId::default_tenant()),
                (true, _, named) => named,
                (false, Some(own), Some(named)) if named != own => {
                    return Err(forbidden(
                        Forbid::TenantMismatch,
                        "tenant_id names a tenant other than your own",
                        json!({ "tenant_id": named.0 }),
                    ));
                }
                (false, own, _) => own,
            };
            Ok(())
        })
    }
}
