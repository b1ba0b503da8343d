//! Gate step 2: rate limits per key and per tenant, and loading the tenant's
//! billing state for the steps after it.
//!
//! Every call that reaches this step counts, whatever later steps decide. A
//! refusal is -31429 `rate_limited` with `retry_after_ms` (the larger of the
//! key's and the tenant's wait) and is counted in an aggregated audit record
//! per key per window, so a flood cannot grow the log without bound.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;

use super::{Admission, Refusal, Step};
use crate::billing::BillingView;
use crate::billing::plans::PLATFORM_RATE_PER_KEY;
use crate::billing::rate::{Bucket, RateLimiter};
use crate::clock::Clock;
use crate::store::denials::DenialKey;
use crate::store::{Store, billing};
use crate::wire::errors::{RATE_LIMITED, RpcError};

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

fn unavailable(detail: String) -> Refusal {
    Refusal::Deny(RpcError::unavailable(detail))
}

impl Step for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let principal = call.principal()?.clone();
            let billing = match &principal.tenant {
                None => None,
                Some(t) => {
                    let row = self.store.read(|c| billing::get(c, &t.0)).map_err(|e| unavailable(e.to_string()))?;
                    let row = row.ok_or_else(|| unavailable("the caller's tenant has no billing state".into()))?;
                    Some(BillingView::from_row(&row).map_err(unavailable)?)
                }
            };
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
                Refusal::Deny(
                    RpcError::new(RATE_LIMITED, "Rate limited: too many calls; retry after retry_after_ms")
                        .with_data(json!({ "reason": "rate_limited", "retry_after_ms": wait_ms })),
                )
            })
        })
    }
}
