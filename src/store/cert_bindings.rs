//! Client certificates bound to tenant principals (mTLS identity).
//!
//! Invariant: a fingerprint (SHA-256 of the certificate's DER, lowercase hex)
//! is bound to at most one tenant — the primary key makes a second binding
//! fail inside the same transaction, whatever the tenant.

use super::StoreError;
use super::sql::{Db, Kind, Row, args};

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

fn row(r: &Row<'_>) -> Result<CertBindingRow, StoreError> {
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
pub fn insert(conn: &Db, b: &CertBindingRow) -> Result<bool, StoreError> {
    Ok(conn.exec(
        &format!("INSERT INTO cert_bindings ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING"),
        args![b.fingerprint, b.tenant_id, b.role, b.label, b.bound_by, b.created_at],
    )? > 0)
}

/// The binding of a fingerprint, whichever tenant holds it.
pub fn get(conn: &Db, fingerprint: &str) -> Result<Option<CertBindingRow>, StoreError> {
    let sql = match conn.kind() {
        Kind::Sqlite => format!("SELECT {COLUMNS} FROM cert_bindings WHERE fingerprint = ?1"),
        Kind::Postgres => format!("SELECT {COLUMNS} FROM tollgate_auth_cert(?1)"),
    };
    conn.row(&sql, args![fingerprint], row)
}

/// A tenant's bindings, oldest first.
pub fn list(conn: &Db, tenant_id: &str) -> Result<Vec<CertBindingRow>, StoreError> {
    conn.all(
        &format!("SELECT {COLUMNS} FROM cert_bindings WHERE tenant_id = ?1 ORDER BY created_at"),
        args![tenant_id],
        row,
    )
}

/// Remove a tenant's binding; `false` when this tenant holds no such binding.
pub fn delete(conn: &Db, tenant_id: &str, fingerprint: &str) -> Result<bool, StoreError> {
    Ok(conn
        .exec("DELETE FROM cert_bindings WHERE fingerprint = ?1 AND tenant_id = ?2", args![fingerprint, tenant_id])?
        > 0)
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
        let conn = crate::store::open::migrated_in_memory();
        conn.batch(
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
