//! Tenants and their namespaces.
//!
//! Invariant: a slug names at most one tenant (UNIQUE); ids are deterministic
//! from the slug, so the same bootstrap on the same state gives the same id.

use serde::Serialize;

use super::StoreError;
use super::sql::{Db, Kind, Row, args};

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    pub plan: String,
    /// `active` or `suspended`.
    pub status: String,
    pub created_at: String,
}

fn row(r: &Row<'_>) -> Result<TenantRow, StoreError> {
    Ok(TenantRow {
        id: r.get(0)?,
        slug: r.get(1)?,
        display_name: r.get(2)?,
        plan: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const COLUMNS: &str = "id, slug, display_name, plan, status, created_at";

/// Insert a tenant with its `default` namespace; `false` if the slug or id is taken.
pub fn insert(conn: &Db, t: &TenantRow) -> Result<bool, StoreError> {
    let n = conn.exec(
        "INSERT INTO tenants (id, slug, display_name, plan, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT DO NOTHING",
        args![t.id, t.slug, t.display_name, t.plan, t.status, t.created_at],
    )?;
    if n == 0 {
        return Ok(false);
    }
    conn.exec(
        "INSERT INTO namespaces (tenant_id, name, created_at) VALUES (?1, 'default', ?2)",
        args![t.id, t.created_at],
    )?;
    Ok(true)
}

pub fn get(conn: &Db, id: &str) -> Result<Option<TenantRow>, StoreError> {
    conn.row(&format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"), args![id], row)
}

/// Tenants with id greater than `after`, in id order: platform work across
/// tenants (on PostgreSQL through `tollgate_list_tenants`, which row-level
/// security lets see every tenant's row and nothing else).
pub fn list(conn: &Db, after: Option<&str>, limit: usize) -> Result<Vec<TenantRow>, StoreError> {
    let sql = match conn.kind() {
        Kind::Sqlite => format!("SELECT {COLUMNS} FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2"),
        Kind::Postgres => format!("SELECT {COLUMNS} FROM tollgate_list_tenants(?1, ?2)"),
    };
    conn.all(&sql, args![after.unwrap_or(""), limit as u64], row)
}

/// Set `active` / `suspended`; `false` if there is no such tenant.
pub fn set_status(conn: &Db, id: &str, status: &str) -> Result<bool, StoreError> {
    Ok(conn.exec("UPDATE tenants SET status = ?2 WHERE id = ?1", args![id, status])? > 0)
}

/// The tenant's namespaces, in name order.
pub fn namespaces(conn: &Db, tenant: &str) -> Result<Vec<String>, StoreError> {
    conn.all("SELECT name FROM namespaces WHERE tenant_id = ?1 ORDER BY name", args![tenant], |r| r.get(0))
}
