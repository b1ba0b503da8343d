//! Tenants and their namespaces.
//!
//! Invariant: a slug names at most one tenant (UNIQUE); ids are deterministic
//! from the slug, so the same bootstrap on the same state gives the same id.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{StoreError, exec, one};

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

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TenantRow> {
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
pub fn insert(conn: &Connection, t: &TenantRow) -> Result<bool, StoreError> {
    let n = exec(
        conn,
        "INSERT OR IGNORE INTO tenants (id, slug, display_name, plan, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![t.id, t.slug, t.display_name, t.plan, t.status, t.created_at],
    )?;
    if n == 0 {
        return Ok(false);
    }
    exec(
        conn,
        "INSERT INTO namespaces (tenant_id, name, created_at) VALUES (?1, 'default', ?2)",
        params![t.id, t.created_at],
    )?;
    Ok(true)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<TenantRow>, StoreError> {
    Ok(one(conn, &format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"), [id], row).optional()?)
}

/// Tenants with id greater than `after`, in id order.
pub fn list(conn: &Connection, after: Option<&str>, limit: usize) -> Result<Vec<TenantRow>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
    let rows = stmt.query_map(params![after.unwrap_or(""), i64::try_from(limit).unwrap_or(i64::MAX)], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Set `active` / `suspended`; `false` if there is no such tenant.
pub fn set_status(conn: &Connection, id: &str, status: &str) -> Result<bool, StoreError> {
    Ok(exec(conn, "UPDATE tenants SET status = ?2 WHERE id = ?1", params![id, status])? > 0)
}

/// The tenant's namespaces, in name order.
pub fn namespaces(conn: &Connection, tenant: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM namespaces WHERE tenant_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([tenant], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
