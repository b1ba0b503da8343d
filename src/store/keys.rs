//! API keys as stored: metadata and the digest of the secret, never the secret.

use super::StoreError;
use super::sql::{Db, Kind, Row, args};

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

fn row(r: &Row<'_>) -> Result<KeyRow, StoreError> {
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

pub fn insert(conn: &Db, k: &KeyRow) -> Result<(), StoreError> {
    conn.exec(
        &format!("INSERT INTO api_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        args![
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

/// A key by id, whichever tenant holds it: authentication looks keys up
/// before any tenant is known (on PostgreSQL through `tollgate_auth_key`,
/// which returns that one row past row-level security).
pub fn get(conn: &Db, key_id: &str) -> Result<Option<KeyRow>, StoreError> {
    let sql = match conn.kind() {
        Kind::Sqlite => format!("SELECT {COLUMNS} FROM api_keys WHERE key_id = ?1"),
        Kind::Postgres => format!("SELECT {COLUMNS} FROM tollgate_auth_key(?1)"),
    };
    conn.row(&sql, args![key_id], row)
}

/// A tenant's keys (or the platform's, for `None`), oldest first.
pub fn list(conn: &Db, tenant: Option<&str>) -> Result<Vec<KeyRow>, StoreError> {
    conn.all(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id IS NOT DISTINCT FROM ?1 ORDER BY created_at, key_id"),
        args![tenant],
        row,
    )
}

/// Mark a key revoked; `false` if it was not active.
pub fn revoke(conn: &Db, key_id: &str, at: &str) -> Result<bool, StoreError> {
    Ok(conn.exec(
        "UPDATE api_keys SET status = 'revoked', revoked_at = ?2 WHERE key_id = ?1 AND status = 'active'",
        args![key_id, at],
    )? > 0)
}

/// End a rotated key's life at `expires_at` (the grace end) and point to its
/// successor; `false` if the key is not active or was already replaced.
pub fn retire(conn: &Db, key_id: &str, expires_at: &str, replaced_by: &str) -> Result<bool, StoreError> {
    Ok(conn.exec(
        "UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?2 THEN ?2 ELSE expires_at END, \
         replaced_by = ?3 WHERE key_id = ?1 AND status = 'active' AND replaced_by IS NULL",
        args![key_id, expires_at, replaced_by],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::billing::{active_keys, unreplaced_active_keys};

    fn key(id: &str) -> KeyRow {
        KeyRow {
            key_id: id.into(),
            tenant_id: Some("tn_a".into()),
            role: "operator".into(),
            label: "ci".into(),
            secret_digest: vec![0; 32],
            status: "active".into(),
            created_at: "2030-01-01T00:00:00Z".into(),
            expires_at: None,
            revoked_at: None,
            replaced_by: None,
        }
    }

    #[test]
    fn a_replaced_key_is_retired_once_and_stops_counting_after_its_grace() {
        let conn = crate::store::open::migrated_in_memory();
        conn.batch("INSERT INTO tenants VALUES ('tn_a','a','A','free','active','x')").expect("tenant");
        insert(&conn, &key("k1")).expect("k1");
        insert(&conn, &key("k2")).expect("k2");
        assert!(retire(&conn, "k1", "2030-01-01T01:00:00Z", "k2").expect("retire"));
        assert!(!retire(&conn, "k1", "2030-01-01T02:00:00Z", "k3").expect("again"), "a replaced key stays replaced");
        let k1 = get(&conn, "k1").expect("get").expect("k1");
        assert_eq!((k1.expires_at.as_deref(), k1.replaced_by.as_deref()), (Some("2030-01-01T01:00:00Z"), Some("k2")));
        let during = "2030-01-01T00:30:00Z";
        assert_eq!(active_keys(&conn, "tn_a", during).expect("count"), 2);
        assert_eq!(unreplaced_active_keys(&conn, "tn_a", during).expect("count"), 1);
        let after = "2030-01-01T01:00:00Z";
        assert_eq!(active_keys(&conn, "tn_a", after).expect("count"), 1);
        assert_eq!(unreplaced_active_keys(&conn, "tn_a", after).expect("count"), 1);
    }
}
