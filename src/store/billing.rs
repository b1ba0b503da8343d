//! Billing state, its history, the usage ledger and idempotency records.
//!
//! Invariants: the ledger and the history are append-only (triggers); quota
//! usage is always a sum over the ledger, read inside the writer's
//! transaction, so concurrent calls can never admit more than a limit.

use super::StoreError;
use super::sql::{Db, args};

pub use crate::billing::BillingRow;

/// The tenant's plan and billing state (a tenant without a billing row is `active`, version 0).
pub fn get(conn: &Db, tenant: &str) -> Result<Option<BillingRow>, StoreError> {
    conn.row("SELECT t.plan, COALESCE(b.status, 'active'), b.trial_ends_at, COALESCE(b.version, 0), COALESCE(b.overrides, '{}') \
             FROM tenants t LEFT JOIN billing b ON b.tenant_id = t.id WHERE t.id = ?1",
            args![tenant],
            |r| {
                Ok(BillingRow {
                    plan: r.get(0)?,
                    status: r.get(1)?,
                    trial_ends_at: r.get(2)?,
                    version: u64::try_from(r.get::<i64>(3)?).unwrap_or(0),
                    overrides: r.get(4)?,
                })
            },
        )
}

/// Write a new billing state (version bumped by the caller) and its history row.
pub fn set(conn: &Db, tenant: &str, row: &BillingRow, at: &str, principal: &str) -> Result<(), StoreError> {
    let version = i64::try_from(row.version).unwrap_or(i64::MAX);
    conn.exec("UPDATE tenants SET plan = ?2 WHERE id = ?1", args![tenant, row.plan])?;
    conn.exec("INSERT INTO billing (tenant_id, status, trial_ends_at, version, overrides, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT(tenant_id) DO UPDATE SET status = ?2, trial_ends_at = ?3, version = ?4, overrides = ?5, updated_at = ?6",
        args![tenant, row.status, row.trial_ends_at, version, row.overrides, at],
    )?;
    conn.exec(
        "INSERT INTO billing_history (tenant_id, version, plan, status, trial_ends_at, overrides, at, principal) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![tenant, version, row.plan, row.status, row.trial_ends_at, row.overrides, at, principal],
    )?;
    Ok(())
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct HistoryRow {
    pub version: u64,
    pub plan: String,
    pub status: String,
    pub trial_ends_at: Option<String>,
    pub overrides: serde_json::Value,
    pub at: String,
    pub principal: String,
}

/// A tenant's billing history, oldest first.
pub fn history(conn: &Db, tenant: &str) -> Result<Vec<HistoryRow>, StoreError> {
    conn.all(
        "SELECT version, plan, status, trial_ends_at, overrides, at, principal FROM billing_history WHERE tenant_id = ?1 ORDER BY id",
        args![tenant],
        |r| {
        let overrides: String = r.get(4)?;
        Ok(HistoryRow {
            version: u64::try_from(r.get::<i64>(0)?).unwrap_or(0),
            plan: r.get(1)?,
            status: r.get(2)?,
            trial_ends_at: r.get(3)?,
            overrides: serde_json::from_str(&overrides).unwrap_or_default(),
            at: r.get(5)?,
            principal: r.get(6)?,
        })
        },
    )
}

/// One usage event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent<'a> {
    pub tenant: &'a str,
    pub counter: &'a str,
    pub quantity: u64,
    pub idempotency_key: Option<&'a str>,
    pub request_id: &'a str,
    pub tool: &'a str,
    pub at: &'a str,
}

/// Append to the ledger (and keep the running total of its month in step).
pub fn record_usage(conn: &Db, e: &UsageEvent<'_>) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO usage_totals (tenant_id, counter, period, used) VALUES (?1, ?2, substr(?3, 1, 7), ?4) \
         ON CONFLICT(tenant_id, counter, period) DO UPDATE SET used = usage_totals.used + excluded.used",
        args![e.tenant, e.counter, e.at, i64::try_from(e.quantity).unwrap_or(i64::MAX)],
    )?;
    conn.exec("INSERT INTO usage_events (tenant_id, counter, quantity, idempotency_key, request_id, tool, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            e.tenant,
            e.counter,
            i64::try_from(e.quantity).unwrap_or(i64::MAX),
            e.idempotency_key,
            e.request_id,
            e.tool,
            e.at
        ],
    )?;
    Ok(())
}

/// Sum of a counter in `[from, until)` (RFC 3339 strings of one format compare in time order).
pub fn used(conn: &Db, tenant: &str, counter: &str, from: &str, until: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.one("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM usage_events WHERE tenant_id = ?1 AND counter = ?2 AND at >= ?3 AND at < ?4",
        args![tenant, counter, from, until],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The running total of a counter in a month (`YYYY-MM`): what quota checks
/// read (one row instead of a sum; a property test keeps it equal to [`used`]).
pub fn total(conn: &Db, tenant: &str, counter: &str, period: &str) -> Result<u64, StoreError> {
    let n: Option<i64> = conn.row(
        "SELECT used FROM usage_totals WHERE tenant_id = ?1 AND counter = ?2 AND period = ?3",
        args![tenant, counter, period],
        |r| r.get(0),
    )?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// Active keys of a tenant (not revoked, not expired at `now`).
pub fn active_keys(conn: &Db, tenant: &str, now: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.one("SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?1 AND status = 'active' AND (expires_at IS NULL OR expires_at > ?2)",
        args![tenant, now],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Active keys of a tenant that no rotation has replaced yet: the keys that
/// will still authenticate once every running grace period has ended.
pub fn unreplaced_active_keys(conn: &Db, tenant: &str, now: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.one(
        "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?1 AND status = 'active' AND replaced_by IS NULL \
         AND (expires_at IS NULL OR expires_at > ?2)",
        args![tenant, now],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Scope of an idempotency key: (tenant or `_platform`, principal, edition/tool.vN, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    pub tenant: String,
    pub principal: String,
    pub tool: String,
    pub key: String,
}

/// What an earlier call with the same key left: its arguments' digest and,
/// unless it carried a secret, its result.
pub fn idempotency_get(conn: &Db, s: &IdempotencyScope) -> Result<Option<(String, Option<String>)>, StoreError> {
    conn.row("SELECT args_digest, result FROM idempotency WHERE tenant_id = ?1 AND principal = ?2 AND tool = ?3 AND key = ?4",
            args![s.tenant, s.principal, s.tool, s.key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
}

/// How long a used nonce is kept past its state's expiry: the state was
/// opened (and its expiry checked) a moment before this commit's clock
/// reading, so a nonce must outlive that moment.
const NONCE_MARGIN_SECS: i64 = 300;

/// Mark a request state's nonce as used; false if it already was. Nonces
/// well past expiry are forgotten on the way (their states are refused by expiry).
pub fn consume_request_state(conn: &Db, nonce: &str, expires: i64, now: i64) -> Result<bool, StoreError> {
    conn.exec("DELETE FROM consumed_request_states WHERE expires_at < ?1", args![now - NONCE_MARGIN_SECS])?;
    let inserted = conn.exec(
        "INSERT INTO consumed_request_states (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        args![nonce, expires],
    )?;
    Ok(inserted == 1)
}

/// Remember a call's outcome under its key (`result` None: not replayable).
pub fn idempotency_put(
    conn: &Db,
    s: &IdempotencyScope,
    args_digest: &str,
    result: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    conn.exec("INSERT INTO idempotency (tenant_id, principal, tool, key, args_digest, result, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![s.tenant, s.principal, s.tool, s.key, args_digest, result, at],
    )?;
    Ok(())
}
