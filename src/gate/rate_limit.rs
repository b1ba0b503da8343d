//! Gate step 2: rate limits per key and per tenant, and loading the tenant's
//! billing state for the steps after it.
//!
//! Every request that authenticates counts, whatever later steps decide: a
//! `tools/call` here, and `initialize`, `tools/list`, `ping`,
//! `logging/setLevel` and `subscriptions/listen` through
//! `Governance::authenticate`, all against the SAME buckets ([`RateLimits`]
//! is one value shared by both). A refusal is -31429 `rate_limited` with
//! `retry_after_ms` (the larger of the key's and the tenant's wait) and is
//! counted in an aggregated audit record per key per window, so a flood
//! cannot grow the log without bound.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::policy;
use super::{Admission, Refusal, Step};
use crate::billing::BillingView;
use crate::billing::plans::PLATFORM_RATE_PER_KEY;
use crate::billing::rate::{Bucket, RateLimiter};
use crate::clock::Clock;
use crate::identity::Principal;
use crate::store::Store;
use crate::store::denials::DenialKey;
use crate::wire::TransportKind;
use crate::wire::denial::Denial;

/// The key and tenant buckets of every authenticated request, shared by the
/// gate step and the methods that are not a `tools/call`.
pub struct RateLimits {
    store: Arc<Store>,
    clock: Clock,
    limiter: RateLimiter,
}

/// Who a request is charged to, for the buckets and for the flood record of a refusal.
pub struct Requester<'a> {
    pub principal: &'a Principal,
    pub transport: TransportKind,
    pub request_id: &'a str,
    /// The method refused, for the flood record (`None`: a `tools/call`).
    pub method: Option<&'a str>,
}

impl RateLimits {
    pub fn new(store: Arc<Store>, clock: Clock) -> Self {
        Self { store, clock, limiter: RateLimiter::default() }
    }

    /// Take one token from the key's bucket and (for a tenant principal) the
    /// tenant's, sized by the tenant's current plan; returns the billing view
    /// read for it. A refusal is counted in the flood-denial windows.
    pub fn admit(&self, requester: &Requester<'_>) -> Result<Option<BillingView>, Denial> {
        let principal = requester.principal;
        let tenant = principal.tenant.as_ref().map(|t| t.0.as_str());
        let billing = policy::billing_view(&self.store, tenant)?;
        // With N instances on one database each enforces its 1/N share of a
        // bucket (rounded up): balanced traffic gets the whole rate, and the
        // deployment never admits more than rate + N - 1 per minute.
        let n = u32::try_from(self.store.live_instances()).unwrap_or(1).max(1);
        let share = |per_minute: u32| per_minute.div_ceil(n).max(1);
        let mut buckets = vec![Bucket {
            key: format!("key:{}", principal.id),
            per_minute: share(billing.as_ref().map_or(PLATFORM_RATE_PER_KEY, |b| b.limits.rate_per_key)),
        }];
        if let (Some(t), Some(b)) = (&principal.tenant, &billing) {
            buckets.push(Bucket { key: format!("tenant:{}", t.0), per_minute: share(b.limits.rate_per_account) });
        }
        let now = self.clock.now();
        self.limiter.check(&buckets, now).map_err(|wait_ms| {
            let denial = Denial::RateLimited { retry_after_ms: wait_ms };
            let chain = principal.tenant.as_ref().map_or(crate::audit::SYSTEM_CHAIN.to_owned(), |t| t.0.clone());
            let key = DenialKey {
                chain,
                principal: principal.id.clone(),
                reason: denial.reason().into(),
                tool: requester.method.map(str::to_owned),
                transport: requester.transport.as_str().into(),
            };
            self.store.denials.note(key, now, requester.request_id);
            denial
        })?;
        Ok(billing)
    }
}

/// Checks the buckets of a `tools/call`.
pub struct RateLimit {
    limits: Arc<RateLimits>,
}

impl RateLimit {
    pub fn new(limits: Arc<RateLimits>) -> Self {
        Self { limits }
    }
}

impl Step for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let principal = call.principal()?.clone();
            let requester = Requester {
                principal: &principal,
                transport: call.context.transport,
                request_id: &call.context.request_id,
                method: None,
            };
            call.billing = self.limits.admit(&requester).map_err(Refusal::Deny)?;
            Ok(())
        })
    }
}
