//! The gate chain: the one place that decides whether a `tools/call` runs,
//! its steps listed in order.
//!
//! Invariants: steps run in the order [`Chain::standard`] lists them; the
//! first refusal ends the call (and is audited by the server's call); steps
//! never call each other; anything a step cannot decide is a refusal.

use std::sync::Arc;

use super::admission::{Admission, Permit, Refusal, Step};
use super::authenticate::Authenticate;
use super::credentials::Authenticator;
use super::flags::Flags;
use super::{billing_status, bind_tenant, capabilities, entitlement, idempotency, rate_limit, resolve, role, validate};
use crate::clock::Clock;
use crate::tools::Registry;

/// The ordered list of steps.
pub struct Chain {
    steps: Vec<Box<dyn Step>>,
}

impl Chain {
    /// The policy, top to bottom.
    pub fn standard(
        registry: Arc<Registry>,
        authenticator: Arc<Authenticator>,
        clock: Clock,
        flags: Flags,
        rate_limits: Arc<rate_limit::RateLimits>,
    ) -> Self {
        let multi_tenant = flags.multi_tenant();
        Self {
            steps: vec![
                Box::new(Authenticate::new(authenticator)),
                Box::new(rate_limit::RateLimit::new(rate_limits)),
                Box::new(resolve::ResolveTool::new(registry, flags)),
                // Before validation: a foreign `tenant_id` is a spoof on every tool that takes one.
                Box::new(bind_tenant::BindTenant::new(multi_tenant)),
                Box::new(validate::ValidateArguments),
                Box::new(role::RequireRole),
                Box::new(capabilities::ClientCapabilities),
                Box::new(billing_status::BillingStatus::new(clock)),
                Box::new(entitlement::Entitlement),
                Box::new(idempotency::IdempotencyReplay),
            ],
        }
    }

    /// Names of the steps, in order.
    pub fn step_names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name()).collect()
    }

    /// Run every step in order; the first refusal wins. Admitted, the call
    /// gets a [`Permit`] holding everything later layers need.
    pub async fn admit(&self, call: &mut Admission) -> Result<Permit, Refusal> {
        for step in &self.steps {
            step.check(call).await?;
        }
        call.take_permit()
    }
}
