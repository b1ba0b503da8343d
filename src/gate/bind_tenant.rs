//! Gate step: bind the effective tenant.
//!
//! Invariant: the effective tenant comes from the principal. A `tenant_id`
//! argument is advisory: naming any tenant other than the caller's own
//! (existing or not) is -31403 `tenant_mismatch`. Only a platform admin may
//! name a tenant explicitly.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Admission, Refusal, Step, forbidden};
use crate::identity::TenantId;

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
            let named = call.arguments.get("tenant_id").and_then(Value::as_str).map(|t| TenantId(t.to_owned()));
            call.tenant = match (principal.is_platform(), principal.tenant, named) {
                // Single-tenant mode: everything acts on the tenant `default`.
                (true, _, _) if !self.multi_tenant => Some(TenantId::default_tenant()),
                (true, _, named) => named,
                (false, Some(own), Some(named)) if named != own => {
                    return Err(forbidden(
                        "tenant_mismatch",
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
