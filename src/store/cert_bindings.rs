//! Client certificates bound to tenant principals (mTLS identity).
//!
//! Invariant: a fingerprint (SHA-256 of the certificate's DER, lowercase hex)
//! is bound to at most one tenant — the primary key makes a second binding
//! fail inside the same transaction, whatever the tenant.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, exec, one};

/// A binding as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertBindingRow {
    pub fingerprint: String,
    pub tenant_id: String,
    pub role: String,
    pub label: String,
    /// The key id of the tenant admin that bound it.
    pub bound_by: String,
    pub created_at: String,
}

const COLUMNS: &str = "fingerprint, tenant_id, role, label, bound_by, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertBindingRow> {
    Ok(CertBindingRow {
        fingerprint: r.get(0)?,
        tenant_id: r.get(1)?,
        role: r.get(2)?,
        label: r.get(3)?,
        bound_by: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// Bind a fingerprint; `false` (nothing written) when it is already bound to any tenant.
pub fn insert(conn: &Connection, b: &CertBindingRow) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        &format!("INSERT OR IGNORE INTO cert_bindings ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![b.fingerprint, b.tenant_id, b.role, b.label, b.bound_by, b.created_at],
    )? > 0)
}

/// The binding of a fingerprint, whichever tenant holds it.
pub fn get(conn: &Connection, fingerprint: &str) -> Result<Option<CertBindingRow>, StoreError> {
    Ok(one(conn, &format!("SELECT {COLUMNS} FROM cert_bindings WHERE fingerprint = ?1"), [fingerprint], row)
        .optional()?)
}

/// A tenant's bindings, oldest first.
pub fn list(conn: &Connection, tenant_id: &str) -> Result<Vec<CertBindingRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM cert_bindings WHERE tenant_id = ?1 ORDER BY created_at"))?;
    let rows = stmt.query_map([tenant_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Remove a tenant's binding; `false` when this tenant holds no such binding.
pub fn delete(conn: &Connection, tenant_id: &str, fingerprint: &str) -> Result<bool, StoreError> {
    Ok(exec(
        conn,
        "DELETE FROM cert_bindings WHERE fingerprint = ?1 AND tenant_id = ?2",
        params![fingerprint, tenant_id],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(tenant: &str) -> CertBindingRow {
        CertBindingRow {
            fingerprint: "ab".repeat(32),
            tenant_id: tenant.into(),
            role: "viewer".into(),
            label: "ci".into(),
            bound_by: "k1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_fingerprint_binds_to_one_tenant_only() {
        let mut conn = Connection::open_in_memory().expect("open");
        super::super::migrations::run(&mut conn).expect("migrate");
        conn.execute_batch(
            "INSERT INTO tenants VALUES ('tn_a','a','A','free','active','x'), ('tn_b','b','B','free','active','x')",
        )
        .expect("tenants");
        assert!(insert(&conn, &binding("tn_a")).expect("bind"));
        assert!(!insert(&conn, &binding("tn_b")).expect("second bind"));
        assert_eq!(get(&conn, &"ab".repeat(32)).expect("get").map(|b| b.tenant_id), Some("tn_a".into()));
        assert!(!delete(&conn, "tn_b", &"ab".repeat(32)).expect("other tenant"));
        assert!(delete(&conn, "tn_a", &"ab".repeat(32)).expect("own tenant"));
        assert_eq!(get(&conn, &"ab".repeat(32)).expect("get"), None);
    }
}
