//! API keys as stored: metadata and the digest of the secret, never the secret.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, exec, one};

/// A key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub key_id: String,
    /// `None` for platform keys.
    pub tenant_id: Option<String>,
    pub role: String,
    pub label: String,
    pub secret_digest: Vec<u8>,
    /// `active` or `revoked`.
    pub status: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Set when the key was rotated: the key that replaces it.
    pub replaced_by: Option<String>,
}

const COLUMNS: &str =
    "key_id, tenant_id, role, label, secret_digest, status, created_at, expires_at, revoked_at, replaced_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        key_id: r.get(0)?,
        tenant_id: r.get(1)?,
        role: r.get(2)?,
        label: r.get(3)?,
        secret_digest: r.get(4)?,
        status: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        revoked_at: r.get(8)?,
        replaced_by: r.get(9)?,
    })
}

pub fn insert(conn: &Connection, k: &KeyRow) -> Result<(), StoreError> {
    exec(
        conn,
        &format!("INSERT INTO api_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            k.key_id,
            k.tenant_id,
            k.role,
            k.label,
            k.secret_digest,
            k.status,
            k.created_at,
            k.expires_at,
            k.revoked_at,
            k.replaced_by
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, key_id: &str) -> Result<Option<KeyRow>, StoreError> {
    Ok(one(conn, &format!("SELECT {COLUMNS} FROM api_keys WHERE key_id = ?1"), [key_id], row).optional()?)
}

/// A tenant's keys (or the platform's, for `None`), oldest first.
pub fn list(conn: &Connection, tenant: Option<&str>) -> Result<Vec<KeyRow>, StoreError> {
    let mut stmt =
        conn.prepare(&format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id IS ?1 ORDER BY created_at, key_id"))?;
    let rows = stmt.query_map([tenant], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Mark a key revoked; `false` if it was not active.
pub fn revoke(conn: &Connection, key_id: &str, at: &str) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE api_keys SET status = 'revoked', revoked_at = ?2 WHERE key_id = ?1 AND status = 'active'",
        params![key_id, at],
    )? > 0)
}

/// End a rotated key's life at `expires_at` (the grace end) and point to its successor.
pub fn retire(conn: &Connection, key_id: &str, expires_at: &str, replaced_by: &str) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?2 THEN ?2 ELSE expires_at END, \
         replaced_by = ?3 WHERE key_id = ?1 AND status = 'active'",
        params![key_id, expires_at, replaced_by],
    )? > 0)
}
