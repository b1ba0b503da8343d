//! Token buckets per key and per tenant (GCRA), on the one settable clock.
//!
//! Hand-written rather than `governor` because each call's bucket size comes
//! from the tenant's current plan (it changes with `plan.set`) and time must
//! come from the test-settable clock; governor fixes a quota per limiter.
//! Invariant: a call is admitted only if both its key's and its tenant's
//! bucket have room, and then it takes from both; a refusal takes from
//! neither and says how long to wait (the larger wait).

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// One bucket to check: a key and its size in calls per minute.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub key: String,
    pub per_minute: u32,
}

/// All buckets.
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Theoretical arrival time per bucket key.
    tat: Mutex<HashMap<String, OffsetDateTime>>,
}

const PERIOD: Duration = Duration::minutes(1);

impl RateLimiter {
    /// Admit one call against every bucket, or return the wait in milliseconds.
    pub fn check(&self, buckets: &[Bucket], now: OffsetDateTime) -> Result<(), u64> {
        let Ok(mut tat) = self.tat.lock() else { return Err(1000) };
        if tat.len() > 100_000 {
            tat.retain(|_, t| *t > now);
        }
        let mut wait = Duration::ZERO;
        let mut next = Vec::with_capacity(buckets.len());
        for b in buckets {
            let increment = PERIOD / b.per_minute.max(1);
            let tolerance = PERIOD - increment;
            let current = tat.get(&b.key).copied().unwrap_or(now).max(now);
            let ahead = current - now;
            if ahead > tolerance {
                wait = wait.max(ahead - tolerance);
            }
            next.push((b.key.clone(), current + increment));
        }
        if wait > Duration::ZERO {
            let ms = wait.whole_milliseconds().max(1);
            return Err(u64::try_from(ms).unwrap_or(u64::MAX));
        }
        tat.extend(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_burst_beyond_the_bucket_waits_and_the_larger_wait_wins() {
        let limiter = RateLimiter::default();
        let t0 = datetime!(2026-11-24 12:00:00 UTC);
        let key = Bucket { key: "k".into(), per_minute: 6 };
        let tenant = Bucket { key: "t".into(), per_minute: 60 };
        for _ in 0..6 {
            assert_eq!(limiter.check(&[key.clone(), tenant.clone()], t0), Ok(()));
        }
        let wait = limiter.check(&[key.clone(), tenant.clone()], t0).expect_err("seventh call in a burst of six");
        assert_eq!(wait, 10_000, "one token every 10 s");
        assert_eq!(
            limiter.check(&[key.clone(), tenant.clone()], t0 + Duration::milliseconds(9_999)).map_err(|_| ()),
            Err(())
        );
        assert_eq!(limiter.check(&[key, tenant.clone()], t0 + Duration::seconds(10)), Ok(()));
        // The refused calls took nothing from the tenant's bucket: 7 taken of 60.
        let other = Bucket { key: "k2".into(), per_minute: 1000 };
        for _ in 0..53 {
            assert_eq!(limiter.check(&[other.clone(), tenant.clone()], t0 + Duration::seconds(10)), Ok(()));
        }
    }
}
