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

/// End a rotated key's life at `expires_at` (the grace end) and point to its
/// successor; `false` if the key is not active or was already replaced.
pub fn retire(conn: &Connection, key_id: &str, expires_at: &str, replaced_by: &str) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?2 THEN ?2 ELSE expires_at END, \
         replaced_by = ?3 WHERE key_id = ?1 AND status = 'active' AND replaced_by IS NULL",
        params![key_id, expires_at, replaced_by],
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
        let mut conn = Connection::open_in_memory().expect("open");
        super::super::migrations::run(&mut conn).expect("migrate");
        conn.execute_batch("INSERT INTO tenants VALUES ('tn_a','a','A','free','active','x')").expect("tenant");
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
