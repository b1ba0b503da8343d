//! Gate steps that allow every call until the billing issue fills them:
//! rate limit, entitlement, idempotency replay and quota reserve.
//!
//! They hold their place in the chain so the order is final; each says so in
//! its name and is listed as a stub in docs/security.md.

use futures::future::BoxFuture;

use super::{Admission, Refusal, Step};

macro_rules! allow_step {
    ($ty:ident, $name:literal) => {
        #[doc = concat!("Stub: `", $name, "` allows every call (the billing issue fills it).")]
        pub struct $ty;

        impl Step for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn check<'a>(&'a self, _call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
                Box::pin(async { Ok(()) })
            }
        }
    };
}

allow_step!(RateLimit, "rate_limit (stub)");
allow_step!(Entitlement, "entitlement (stub)");
allow_step!(IdempotencyReplay, "idempotency_replay (stub)");
allow_step!(QuotaReserve, "quota_reserve (stub)");
