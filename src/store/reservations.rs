//! Reservations of calls whose work happens outside the commit transaction
//! (an export writes files): a pending idempotency entry and quota holds,
//! committed before the work and released in the transaction that commits
//! the call — or when the call is dropped, or at the next start after its
//! process died.
//!
//! Invariants: a hold counts toward its counter's running total ([`held`] is
//! added to the ledger's total by every quota check), so concurrent calls
//! never admit more than a limit; one idempotency scope has at most one
//! pending entry; only the owning instance, or a start that finds it dead,
//! releases a reservation.

use std::path::Path;

use super::StoreError;
use super::billing::IdempotencyScope;
use super::sql::{Db, Kind, args};

/// What one call reserves.
#[derive(Debug, Clone)]
pub struct Reservation<'a> {
    /// The store instance (process) the call runs in.
    pub owner: &'a str,
    pub request_id: &'a str,
    /// The idempotency scope held pending, with the arguments' digest.
    pub pending: Option<(&'a IdempotencyScope, &'a str)>,
    /// Whose ledger the holds are on, in which month (`YYYY-MM`).
    pub tenant: &'a str,
    pub period: &'a str,
    /// Counters and quantities held.
    pub holds: &'a [(&'a str, u64)],
    pub at: &'a str,
}

/// The arguments' digest of a call holding `scope` pending, if one does.
pub fn pending(conn: &Db, scope: &IdempotencyScope) -> Result<Option<String>, StoreError> {
    conn.row("SELECT args_digest FROM idempotency_pending WHERE tenant_id = ?1 AND principal = ?2 AND tool = ?3 AND key = ?4",
        args![scope.tenant, scope.principal, scope.tool, scope.key],
        |r| r.get(0),
    )
}

/// How much of a counter reserved calls hold in a month (`YYYY-MM`).
pub fn held(conn: &Db, tenant: &str, counter: &str, period: &str) -> Result<u64, StoreError> {
    let n: i64 = conn.one("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM quota_holds WHERE tenant_id = ?1 AND counter = ?2 AND period = ?3",
        args![tenant, counter, period],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Record a reservation (the caller checked replay and quota in the same transaction).
pub fn reserve(conn: &Db, r: &Reservation<'_>) -> Result<(), StoreError> {
    if let Some((s, digest)) = r.pending {
        conn.exec("INSERT INTO idempotency_pending (tenant_id, principal, tool, key, args_digest, request_id, owner, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            args![s.tenant, s.principal, s.tool, s.key, digest, r.request_id, r.owner, r.at],
        )?;
    }
    for (counter, quantity) in r.holds {
        conn.exec(
            "INSERT INTO quota_holds (request_id, counter, tenant_id, period, quantity, owner, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![
                r.request_id,
                counter,
                r.tenant,
                r.period,
                i64::try_from(*quantity).unwrap_or(i64::MAX),
                r.owner,
                r.at
            ],
        )?;
    }
    Ok(())
}

/// Release what a call reserved (nothing, if it reserved nothing).
pub fn release(conn: &Db, request_id: &str) -> Result<(), StoreError> {
    conn.exec("DELETE FROM idempotency_pending WHERE request_id = ?1", args![request_id])?;
    conn.exec("DELETE FROM quota_holds WHERE request_id = ?1", args![request_id])?;
    Ok(())
}

/// At start: release every reservation whose owner `is_dead` says is gone;
/// how many reservations (pending entries and holds) were released.
pub fn recover(conn: &Db, is_dead: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
    // Across tenants: on PostgreSQL through two narrow functions that see the
    // owners and release one owner's rows, and nothing else.
    let (owners_sql, release) = match conn.kind() {
        Kind::Sqlite => ("SELECT owner FROM idempotency_pending UNION SELECT owner FROM quota_holds", None),
        Kind::Postgres => {
            ("SELECT owner FROM tollgate_reservation_owners()", Some("SELECT tollgate_release_owner(?1)"))
        }
    };
    let owners = conn.all(owners_sql, args![], |r| r.get::<String>(0))?;
    let mut released = 0;
    for owner in owners.iter().filter(|o| is_dead(o)) {
        released += match release {
            None => {
                conn.exec("DELETE FROM idempotency_pending WHERE owner = ?1", args![owner])?
                    + conn.exec("DELETE FROM quota_holds WHERE owner = ?1", args![owner])?
            }
            Some(sql) => usize::try_from(conn.one(sql, args![owner], |r| r.get::<i64>(0))?).unwrap_or(0),
        };
    }
    Ok(released)
}

/// [`recover`] against the instance locks of the data dir `dir`.
pub(crate) fn recover_dead(conn: &Db, dir: &Path, me: &str) -> Result<usize, StoreError> {
    recover(conn, |owner| owner != me && super::instances::is_dead_in(conn, dir, owner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        crate::store::open::migrated_in_memory()
    }

    fn scope(key: &str) -> IdempotencyScope {
        IdempotencyScope {
            tenant: "tn_a".into(),
            principal: "k1".into(),
            tool: "audit.export_package.v1".into(),
            key: key.into(),
        }
    }

    fn reservation<'a>(owner: &'a str, request_id: &'a str, s: Option<&'a IdempotencyScope>) -> Reservation<'a> {
        Reservation {
            owner,
            request_id,
            pending: s.map(|s| (s, "sha256:args")),
            tenant: "tn_a",
            period: "2030-01",
            holds: &[("tool_calls", 1), ("audit_exports", 1)],
            at: "2030-01-15T12:00:00Z",
        }
    }

    #[test]
    fn holds_count_until_released_and_a_pending_key_is_seen() {
        let conn = db();
        let s = scope("once");
        reserve(&conn, &reservation("me", "r1", Some(&s))).expect("reserve");
        reserve(&conn, &reservation("me", "r2", None)).expect("reserve");
        assert_eq!(held(&conn, "tn_a", "audit_exports", "2030-01").expect("held"), 2);
        assert_eq!(held(&conn, "tn_a", "audit_exports", "2030-02").expect("held"), 0, "another month");
        assert_eq!(held(&conn, "tn_b", "tool_calls", "2030-01").expect("held"), 0, "another tenant");
        assert_eq!(pending(&conn, &s).expect("pending").as_deref(), Some("sha256:args"));
        assert_eq!(pending(&conn, &scope("other")).expect("pending"), None);
        release(&conn, "r1").expect("release");
        assert_eq!(held(&conn, "tn_a", "tool_calls", "2030-01").expect("held"), 1);
        assert_eq!(pending(&conn, &s).expect("pending"), None, "released with its call");
        release(&conn, "r1").expect("releasing twice is harmless");
    }

    #[test]
    fn one_scope_holds_one_pending_entry() {
        let conn = db();
        let s = scope("once");
        reserve(&conn, &reservation("me", "r1", Some(&s))).expect("reserve");
        assert!(reserve(&conn, &reservation("me", "r2", Some(&s))).is_err(), "a second pending entry is refused");
    }

    #[test]
    fn a_start_releases_only_what_dead_owners_hold() {
        let conn = db();
        let (a, b) = (scope("a"), scope("b"));
        reserve(&conn, &reservation("dead", "r1", Some(&a))).expect("reserve");
        reserve(&conn, &reservation("alive", "r2", Some(&b))).expect("reserve");
        let released = recover(&conn, |owner| owner == "dead").expect("recover");
        assert_eq!(released, 3, "one pending entry and two holds");
        assert_eq!(pending(&conn, &a).expect("pending"), None);
        assert!(pending(&conn, &b).expect("pending").is_some(), "a live owner keeps its reservation");
        assert_eq!(held(&conn, "tn_a", "tool_calls", "2030-01").expect("held"), 1);
    }
}
