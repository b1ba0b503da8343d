//! Gate step: the tenant's billing status allows this tool.
//!
//! `past_due` (and an ended trial) keeps read-only tools working; `canceled`
//! keeps only account tools (whoami, plan.get, usage.report). Safety tools
//! (key.revoke, key.list, the audit export) always work, so a leaked key
//! stays revocable. Platform principals are not billed.

use futures::future::BoxFuture;
use serde_json::json;

use super::{Admission, Refusal, Step, forbidden};
use crate::billing::Status;
use crate::clock::Clock;
use crate::tools::registry::BillingClass;

/// Checks the billing status.
pub struct BillingStatus {
    clock: Clock,
}

impl BillingStatus {
    pub fn new(clock: Clock) -> Self {
        Self { clock }
    }
}

impl Step for BillingStatus {
    fn name(&self) -> &'static str {
        "billing_status"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let Some(billing) = &call.billing else { return Ok(()) };
            let tool = call.tool()?;
            let status = billing.effective_status(self.clock.now());
            let allowed = match (status, tool.spec.billing) {
                (Status::Active | Status::Trialing, _) => true,
                (_, BillingClass::Safety | BillingClass::Account) => true,
                (Status::PastDue, BillingClass::Regular) => tool.spec.annotations.read_only_hint,
                (Status::Canceled, BillingClass::Regular) => false,
            };
            if allowed {
                Ok(())
            } else {
                Err(forbidden(
                    "billing_status",
                    "the account's billing status does not allow this tool",
                    json!({ "status": status.as_str() }),
                ))
            }
        })
    }
}
