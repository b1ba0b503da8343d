//! Tenant data lifecycle tables: tombstones of deleted tenants, legal holds,
//! and deletion plans awaiting confirmation.
//!
//! Invariants: a tombstone is never removed (the slug stays reserved, so a
//! new tenant can never inherit the old id or its chain); a deletion token is
//! stored only as a digest and can be used once.

use super::StoreError;
use super::sql::{Db, Kind, args};

/// A deleted tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tombstone {
    /// The old tenant id (its audit chain keeps this name).
    pub id: String,
    /// The reserved slug.
    pub slug: String,
    /// Its display name at deletion.
    pub display_name: String,
    /// When the tenant was created.
    pub created_at: String,
    /// When it was deleted.
    pub deleted_at: String,
    /// Seq of the chain's final (sealing) record.
    pub final_seq: u64,
}

/// The tombstone of tenant `id`, if it was deleted.
pub fn tombstone(conn: &Db, id: &str) -> Result<Option<Tombstone>, StoreError> {
    conn.row(
        "SELECT id, slug, display_name, created_at, deleted_at, final_seq FROM tenant_tombstones WHERE id = ?1",
        args![id],
        |r| {
            Ok(Tombstone {
                id: r.get(0)?,
                slug: r.get(1)?,
                display_name: r.get(2)?,
                created_at: r.get(3)?,
                deleted_at: r.get(4)?,
                final_seq: u64::try_from(r.get::<i64>(5)?).unwrap_or(0),
            })
        },
    )
}

/// Whether `slug` belonged to a deleted tenant (and so can never be reused):
/// across tenants, before the new one exists (on PostgreSQL through
/// `tollgate_slug_retired`).
pub fn slug_retired(conn: &Db, slug: &str) -> Result<bool, StoreError> {
    let sql = match conn.kind() {
        Kind::Sqlite => "SELECT COUNT(*) FROM tenant_tombstones WHERE slug = ?1",
        Kind::Postgres => "SELECT retired FROM tollgate_slug_retired(?1)",
    };
    Ok(conn.one(sql, args![slug], |r| r.get::<i64>(0))? > 0)
}

/// Record a tombstone.
pub fn insert_tombstone(conn: &Db, t: &Tombstone) -> Result<(), StoreError> {
    conn.exec("INSERT INTO tenant_tombstones (id, slug, display_name, created_at, deleted_at, final_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![
            t.id,
            t.slug,
            t.display_name,
            t.created_at,
            t.deleted_at,
            i64::try_from(t.final_seq).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(())
}

/// A legal hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LegalHold {
    /// Why the data must be kept (a case reference, say).
    pub reason: String,
    /// When the hold was placed.
    pub set_at: String,
    /// Who placed it.
    pub principal: String,
}

/// The tenant's legal hold, if any.
pub fn legal_hold(conn: &Db, tenant: &str) -> Result<Option<LegalHold>, StoreError> {
    conn.row("SELECT reason, set_at, principal FROM legal_holds WHERE tenant_id = ?1", args![tenant], |r| {
        Ok(LegalHold { reason: r.get(0)?, set_at: r.get(1)?, principal: r.get(2)? })
    })
}

/// Place (or replace) a hold.
pub fn set_legal_hold(conn: &Db, tenant: &str, hold: &LegalHold) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO legal_holds (tenant_id, reason, set_at, principal) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(tenant_id) DO UPDATE SET reason = ?2, set_at = ?3, principal = ?4",
        args![tenant, hold.reason, hold.set_at, hold.principal],
    )?;
    Ok(())
}

/// Lift a hold; `false` if there was none.
pub fn clear_legal_hold(conn: &Db, tenant: &str) -> Result<bool, StoreError> {
    Ok(conn.exec("DELETE FROM legal_holds WHERE tenant_id = ?1", args![tenant])? > 0)
}

/// A deletion plan awaiting its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeletion {
    /// The tenant the plan deletes.
    pub tenant_id: String,
    /// Digest of the plan shown with the token.
    pub plan_digest: String,
    /// When the token stops working.
    pub expires_at: String,
    /// When it was used, if it was.
    pub used_at: Option<String>,
}

/// Remember a plan under its token's digest.
pub fn insert_plan(
    conn: &Db,
    token_digest: &str,
    tenant: &str,
    plan_digest: &str,
    now: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    conn.exec("INSERT INTO deletion_plans (token_digest, tenant_id, plan_digest, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![token_digest, tenant, plan_digest, now, expires_at],
    )?;
    Ok(())
}

/// The plan a token digest names.
pub fn plan_by_token(conn: &Db, token_digest: &str) -> Result<Option<PendingDeletion>, StoreError> {
    conn.row(
        "SELECT tenant_id, plan_digest, expires_at, used_at FROM deletion_plans WHERE token_digest = ?1",
        args![token_digest],
        |r| {
            Ok(PendingDeletion {
                tenant_id: r.get(0)?,
                plan_digest: r.get(1)?,
                expires_at: r.get(2)?,
                used_at: r.get(3)?,
            })
        },
    )
}

/// Mark a token used; `false` if it already was.
pub fn use_token(conn: &Db, token_digest: &str, at: &str) -> Result<bool, StoreError> {
    Ok(conn.exec(
        "UPDATE deletion_plans SET used_at = ?2 WHERE token_digest = ?1 AND used_at IS NULL",
        args![token_digest, at],
    )? > 0)
}

/// What deleting a tenant removes: row counts per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Removable {
    /// API keys (any status).
    pub api_keys: u64,
    /// Namespaces.
    pub namespaces: u64,
    /// Stored idempotent results.
    pub idempotency_entries: u64,
    /// Billing state rows (current plan state; the history is kept).
    pub billing_state: u64,
    /// mTLS client certificates bound to the tenant's principals.
    pub cert_bindings: u64,
}

/// What deleting a tenant keeps: row counts per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Retained {
    /// Audit records of its chain (sealed by the deletion's own record).
    pub audit_records: u64,
    /// Usage ledger events (needed to reconcile bills).
    pub usage_events: u64,
    /// Plan and billing history entries.
    pub plan_history: u64,
}

fn count(conn: &Db, sql: &str, tenant: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(conn.one(sql, args![tenant], |r| r.get::<i64>(0))?).unwrap_or(0))
}

/// Counts what a deletion of `tenant` would remove and keep.
pub fn inventory(conn: &Db, tenant: &str) -> Result<(Removable, Retained), StoreError> {
    Ok((
        Removable {
            api_keys: count(conn, "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?1", tenant)?,
            namespaces: count(conn, "SELECT COUNT(*) FROM namespaces WHERE tenant_id = ?1", tenant)?,
            idempotency_entries: count(conn, "SELECT COUNT(*) FROM idempotency WHERE tenant_id = ?1", tenant)?,
            billing_state: count(conn, "SELECT COUNT(*) FROM billing WHERE tenant_id = ?1", tenant)?,
            cert_bindings: count(conn, "SELECT COUNT(*) FROM cert_bindings WHERE tenant_id = ?1", tenant)?,
        },
        Retained {
            audit_records: count(conn, "SELECT COUNT(*) FROM audit_records WHERE chain = ?1", tenant)?,
            usage_events: count(conn, "SELECT COUNT(*) FROM usage_events WHERE tenant_id = ?1", tenant)?,
            plan_history: count(conn, "SELECT COUNT(*) FROM billing_history WHERE tenant_id = ?1", tenant)?,
        },
    ))
}

/// Remove the tenant's data (keys, certificate bindings, namespaces, idempotency entries, billing
/// state, legal hold, pending plans, the tenant row). The audit chain, the
/// usage ledger, the usage totals and the plan history are kept.
pub fn remove_tenant(conn: &Db, tenant: &str) -> Result<(), StoreError> {
    // OAuth subjects bound to it, and its open invites (not counted in `Removable`, whose schema is v1).
    super::oauth_bindings::remove_tenant(conn, tenant)?;
    for sql in [
        "DELETE FROM api_keys WHERE tenant_id = ?1",
        "DELETE FROM cert_bindings WHERE tenant_id = ?1",
        "DELETE FROM idempotency WHERE tenant_id = ?1",
        "DELETE FROM billing WHERE tenant_id = ?1",
        "DELETE FROM namespaces WHERE tenant_id = ?1",
        "DELETE FROM legal_holds WHERE tenant_id = ?1",
        "DELETE FROM tenants WHERE id = ?1",
    ] {
        conn.exec(sql, args![tenant])?;
    }
    Ok(())
}
