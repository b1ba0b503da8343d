//! Reads for the audit package: a chain's records and checkpoints within a
//! range, and the tenant's keys, ledger and plan history.
//!
//! Invariant: only reads; rows come back in a fixed order (seq, insertion
//! id), so the same data gives the same package.

use std::collections::HashSet;

use super::StoreError;
use super::keys::KeyRow;
use super::sql::{Db, args};

fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Stored JSON text of the records `from..=to` of `chain`, in seq order.
pub fn records_between(conn: &Db, chain: &str, from: u64, to: u64) -> Result<Vec<String>, StoreError> {
    conn.all(
        "SELECT record FROM audit_records WHERE chain = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
        args![chain, seq(from), seq(to)],
        |r| r.get(0),
    )
}

/// Stored JSON text of the checkpoints of `chain` signing a seq in
/// `from..until` (exclusive), oldest first. Checkpoints of seqs below a
/// chain's head are never added later, so this is stable once `until` exists.
pub fn checkpoints_between(conn: &Db, chain: &str, from: u64, until: u64) -> Result<Vec<String>, StoreError> {
    conn.all(
        "SELECT checkpoint FROM checkpoints WHERE chain = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY id",
        args![chain, seq(from), seq(until)],
        |r| r.get(0),
    )
}

/// A tenant's keys, oldest first (secret digests stay in the row; callers
/// must not export them).
pub fn keys(conn: &Db, tenant: &str) -> Result<Vec<KeyRow>, StoreError> {
    super::keys::list(conn, Some(tenant))
}

/// One usage ledger event, as exported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UsageRow {
    /// The counter (`tool_calls`, `audit_exports`, …).
    pub counter: String,
    /// How much was consumed.
    pub quantity: u64,
    /// The call that consumed it (matches a record's `request_id`).
    pub request_id: String,
    /// The tool called.
    pub tool: String,
    /// When (RFC 3339 UTC).
    pub at: String,
}

/// The tenant's ledger events made by the calls named in `request_ids`, in
/// ledger order: exactly the usage of a range of records, whatever came later.
pub fn usage_of_requests(conn: &Db, tenant: &str, request_ids: &HashSet<&str>) -> Result<Vec<UsageRow>, StoreError> {
    let mut out = Vec::new();
    conn.each(
        "SELECT counter, quantity, request_id, tool, at FROM usage_events WHERE tenant_id = ?1 ORDER BY id",
        args![tenant],
        |r| {
            let request_id: String = r.get(2)?;
            if request_ids.contains(request_id.as_str()) {
                out.push(UsageRow {
                    counter: r.get(0)?,
                    quantity: r.get::<u64>(1)?,
                    request_id,
                    tool: r.get(3)?,
                    at: r.get(4)?,
                });
            }
            Ok(true)
        },
    )?;
    Ok(out)
}
