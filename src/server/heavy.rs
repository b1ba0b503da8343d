//! At most [`HEAVY_CALLS_PER_TENANT`] heavy calls (`audit.verify`,
//! `audit.export_package`, `tenant.export_data`: each reads a whole chain) at
//! once per tenant, so one tenant's concurrent calls cannot take the
//! server's memory or its readers; another tenant's calls never wait on them.
//!
//! Invariant: a slot is taken before the tool runs and freed when the last
//! copy of it is dropped (the end of the round, or of the reading task that
//! outlives a dropped call), never earlier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use crate::wire::denial::Denial;

/// Heavy calls one tenant (or `_system`, for platform calls naming none) may
/// run at once; beyond it: -31429 `too_many_heavy_calls`.
pub const HEAVY_CALLS_PER_TENANT: usize = 2;

/// What a caller is told to wait before retrying, in milliseconds.
const RETRY_AFTER_MS: u64 = 1000;

/// The running heavy calls, by tenant chain.
#[derive(Debug, Default)]
pub(crate) struct HeavyCalls {
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// A held slot; the tenant's count drops when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct HeavySlot {
    _held: Arc<Held>,
}

#[derive(Debug)]
struct Held {
    running: Arc<Mutex<HashMap<String, usize>>>,
    tenant: String,
}

impl HeavyCalls {
    /// Take one of `tenant`'s slots, or refuse.
    pub(crate) fn try_take(&self, tenant: &str) -> Result<HeavySlot, Denial> {
        let mut running = lock(&self.running);
        let count = running.entry(tenant.to_owned()).or_insert(0);
        if *count >= HEAVY_CALLS_PER_TENANT {
            return Err(Denial::TooManyHeavyCalls { limit: HEAVY_CALLS_PER_TENANT, retry_after_ms: RETRY_AFTER_MS });
        }
        *count += 1;
        let held = Held { running: Arc::clone(&self.running), tenant: tenant.to_owned() };
        Ok(HeavySlot { _held: Arc::new(held) })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut running = lock(&self.running);
        if let Some(count) = running.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_slots_and_no_more_and_another_tenant_is_not_affected() {
        let calls = HeavyCalls::default();
        let first = calls.try_take("t_a").expect("first");
        let second = calls.try_take("t_a").expect("second");
        let refused = calls.try_take("t_a").expect_err("third");
        assert_eq!(refused.reason(), "too_many_heavy_calls");
        assert!(calls.try_take("t_b").is_ok(), "another tenant has its own slots");
        // A slot is freed only when its last copy goes.
        let copy = first.clone();
        drop(first);
        assert!(calls.try_take("t_a").is_err());
        drop(copy);
        let third = calls.try_take("t_a").expect("freed");
        drop((second, third));
        assert!(lock(&calls.running).is_empty(), "idle tenants are forgotten");
    }
}
