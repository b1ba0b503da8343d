//! Gate step 2: rate limits per key and per tenant, and loading the tenant's
//! billing state for the steps after it.
//!
//! Every call that reaches this step counts, whatever later steps decide. A
//! refusal is -31429 `rate_limited` with `retry_after_ms` (the larger of the
//! key's and the tenant's wait) and is counted in an aggregated audit record
//! per key per window, so a flood cannot grow the log without bound.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::policy;
use super::{Admission, Refusal, Step};
use crate::billing::plans::PLATFORM_RATE_PER_KEY;
use crate::billing::rate::{Bucket, RateLimiter};
use crate::clock::Clock;
use crate::store::Store;
use crate::store::denials::DenialKey;
use crate::wire::denial::Denial;

/// Checks the buckets.
pub struct RateLimit {
    store: Arc<Store>,
    clock: Clock,
    limiter: RateLimiter,
}

impl RateLimit {
    pub fn new(store: Arc<Store>, clock: Clock) -> Self {
        Self { store, clock, limiter: RateLimiter::default() }
    }
}

impl Step for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let principal = call.principal()?.clone();
            let tenant = principal.tenant.as_ref().map(|t| t.0.as_str());
            let billing = policy::billing_view(&self.store, tenant).map_err(Refusal::Deny)?;
            let mut buckets = vec![Bucket {
                key: format!("key:{}", principal.id),
                per_minute: billing.as_ref().map_or(PLATFORM_RATE_PER_KEY, |b| b.limits.rate_per_key),
            }];
            if let (Some(t), Some(b)) = (&principal.tenant, &billing) {
                buckets.push(Bucket { key: format!("tenant:{}", t.0), per_minute: b.limits.rate_per_account });
            }
            call.billing = billing;
            let now = self.clock.now();
            self.limiter.check(&buckets, now).map_err(|wait_ms| {
                let chain = principal.tenant.as_ref().map_or(crate::audit::SYSTEM_CHAIN.to_owned(), |t| t.0.clone());
                let key = DenialKey {
                    chain,
                    principal: principal.id.clone(),
                    reason: "rate_limited".into(),
                    tool: None,
                    transport: call.context.transport.as_str().into(),
                };
                self.store.denials.note(key, now, &call.context.request_id);
                Refusal::Deny(Denial::RateLimited { retry_after_ms: wait_ms })
            })
        })
    }
}
