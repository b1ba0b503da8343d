//! OAuth subjects bound to tenants, and the one-time invites that bind them.
//!
//! Invariants: a subject (issuer, kind, subject) is bound to at most one
//! tenant — the primary key makes a second binding write nothing, whatever
//! the tenant; an invite's code is stored only as its SHA-256 digest and is
//! redeemed at most once (the update only matches an unredeemed row).

use super::StoreError;
use super::sql::{Db, Kind, Row, args};

/// A binding as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBindingRow {
    pub issuer: String,
    /// `user` or `client`.
    pub kind: String,
    pub subject: String,
    pub tenant_id: String,
    pub role: String,
    /// The invite it was redeemed from (or `claim:…` for a platform mapping).
    pub invite_id: String,
    pub created_at: String,
}

/// An invite as stored (without its code, which is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub code_digest: String,
    pub invite_id: String,
    pub tenant_id: String,
    pub role: String,
    pub kind: String,
    /// The principal that made it.
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
}

const BINDING_COLUMNS: &str = "issuer, kind, subject, tenant_id, role, invite_id, created_at";

fn binding(r: &Row<'_>) -> Result<OAuthBindingRow, StoreError> {
    Ok(OAuthBindingRow {
        issuer: r.get(0)?,
        kind: r.get(1)?,
        subject: r.get(2)?,
        tenant_id: r.get(3)?,
        role: r.get(4)?,
        invite_id: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// Bind a subject; `false` (nothing written) when it is bound to any tenant already.
pub fn bind(conn: &Db, b: &OAuthBindingRow) -> Result<bool, StoreError> {
    Ok(conn.exec(
        &format!(
            "INSERT INTO oauth_bindings ({BINDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (issuer, kind, subject) DO NOTHING"
        ),
        args![b.issuer, b.kind, b.subject, b.tenant_id, b.role, b.invite_id, b.created_at],
    )? > 0)
}

/// The binding of a subject, whichever tenant holds it.
pub fn get(conn: &Db, issuer: &str, kind: &str, subject: &str) -> Result<Option<OAuthBindingRow>, StoreError> {
    // Authentication looks a subject up before any tenant is known: on
    // PostgreSQL through `tollgate_auth_subject`, which returns that one row.
    let sql = match conn.kind() {
        Kind::Sqlite => {
            format!("SELECT {BINDING_COLUMNS} FROM oauth_bindings WHERE issuer = ?1 AND kind = ?2 AND subject = ?3")
        }
        Kind::Postgres => format!("SELECT {BINDING_COLUMNS} FROM tollgate_auth_subject(?1, ?2, ?3)"),
    };
    conn.row(&sql, args![issuer, kind, subject], binding)
}

/// A tenant's bindings, oldest first.
pub fn list(conn: &Db, tenant_id: &str) -> Result<Vec<OAuthBindingRow>, StoreError> {
    conn.all(
        &format!("SELECT {BINDING_COLUMNS} FROM oauth_bindings WHERE tenant_id = ?1 ORDER BY created_at, subject"),
        args![tenant_id],
        binding,
    )
}

/// Remove a tenant's binding of a subject (both kinds when `kind` is `None`);
/// how many were removed (0 when this tenant holds none).
pub fn unbind(
    conn: &Db,
    tenant_id: &str,
    issuer: &str,
    kind: Option<&str>,
    subject: &str,
) -> Result<usize, StoreError> {
    conn.exec(
        "DELETE FROM oauth_bindings WHERE tenant_id = ?1 AND issuer = ?2 AND subject = ?3 \
         AND (CAST(?4 AS TEXT) IS NULL OR kind = ?4)",
        args![tenant_id, issuer, subject, kind],
    )
}

/// Store a new invite.
pub fn create_invite(conn: &Db, i: &InviteRow) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO oauth_invites (code_digest, invite_id, tenant_id, role, kind, created_by, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![i.code_digest, i.invite_id, i.tenant_id, i.role, i.kind, i.created_by, i.created_at, i.expires_at],
    )?;
    Ok(())
}

/// Take an invite: the unredeemed, unexpired invite with this code digest
/// is marked redeemed at `now` and returned; `None` for any other code.
pub fn redeem_invite(conn: &Db, code_digest: &str, now: &str) -> Result<Option<InviteRow>, StoreError> {
    // The redeemer has no tenant yet: on PostgreSQL the invite is found
    // through `tollgate_invite_by_code`, then taken under its tenant's scope.
    let sql = match conn.kind() {
        Kind::Sqlite => {
            "SELECT code_digest, invite_id, tenant_id, role, kind, created_by, created_at, expires_at \
             FROM oauth_invites WHERE code_digest = ?1 AND redeemed_at IS NULL AND expires_at > ?2"
        }
        Kind::Postgres => {
            "SELECT code_digest, invite_id, tenant_id, role, kind, created_by, created_at, expires_at \
             FROM tollgate_invite_by_code(?1, ?2)"
        }
    };
    let found = conn.row(sql, args![code_digest, now], |r| {
        Ok(InviteRow {
            code_digest: r.get(0)?,
            invite_id: r.get(1)?,
            tenant_id: r.get(2)?,
            role: r.get(3)?,
            kind: r.get(4)?,
            created_by: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
        })
    })?;
    let Some(invite) = found else { return Ok(None) };
    conn.set_scope(Some(&invite.tenant_id))?;
    let taken = conn.exec(
        "UPDATE oauth_invites SET redeemed_at = ?2 WHERE code_digest = ?1 AND redeemed_at IS NULL",
        args![code_digest, now],
    )?;
    Ok((taken == 1).then_some(invite))
}

/// Remove a tenant's bindings and invites (a tenant deletion).
pub fn remove_tenant(conn: &Db, tenant_id: &str) -> Result<(), StoreError> {
    conn.exec("DELETE FROM oauth_bindings WHERE tenant_id = ?1", args![tenant_id])?;
    conn.exec("DELETE FROM oauth_invites WHERE tenant_id = ?1", args![tenant_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Db {
        let conn = crate::store::open::migrated_in_memory();
        conn.batch(
            "INSERT INTO tenants VALUES ('tn_a','a','A','free','active','x'), ('tn_b','b','B','free','active','x')",
        )
        .expect("tenants");
        conn
    }

    fn row(tenant: &str, kind: &str) -> OAuthBindingRow {
        OAuthBindingRow {
            issuer: "https://auth.example.com".into(),
            kind: kind.into(),
            subject: "alice".into(),
            tenant_id: tenant.into(),
            role: "viewer".into(),
            invite_id: "inv1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_subject_binds_to_one_tenant_and_a_client_of_the_same_name_is_another_subject() {
        let conn = setup();
        assert!(bind(&conn, &row("tn_a", "user")).expect("bind"));
        assert!(!bind(&conn, &row("tn_b", "user")).expect("second bind"));
        assert!(bind(&conn, &row("tn_b", "client")).expect("a client named alice is someone else"));
        let got = get(&conn, "https://auth.example.com", "user", "alice").expect("get");
        assert_eq!(got.map(|b| b.tenant_id), Some("tn_a".into()));
        assert_eq!(unbind(&conn, "tn_b", "https://auth.example.com", Some("user"), "alice").expect("other"), 0);
        assert_eq!(unbind(&conn, "tn_a", "https://auth.example.com", None, "alice").expect("own"), 1);
        assert_eq!(get(&conn, "https://auth.example.com", "user", "alice").expect("get"), None);
        assert_eq!(list(&conn, "tn_b").expect("list").len(), 1);
    }

    #[test]
    fn an_invite_is_redeemed_once_and_never_after_it_expires() {
        let conn = setup();
        let invite = |digest: &str, expires: &str| InviteRow {
            code_digest: digest.into(),
            invite_id: format!("inv_{digest}"),
            tenant_id: "tn_a".into(),
            role: "viewer".into(),
            kind: "user".into(),
            created_by: "k1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            expires_at: expires.into(),
        };
        create_invite(&conn, &invite("d1", "2026-01-02T00:00:00Z")).expect("create");
        create_invite(&conn, &invite("d2", "2026-01-01T00:10:00Z")).expect("create");
        let now = "2026-01-01T01:00:00Z";
        assert_eq!(redeem_invite(&conn, "d1", now).expect("redeem").map(|i| i.invite_id), Some("inv_d1".into()));
        assert_eq!(redeem_invite(&conn, "d1", now).expect("again"), None, "reused");
        assert_eq!(redeem_invite(&conn, "d2", now).expect("expired"), None, "expired");
        assert_eq!(redeem_invite(&conn, "nope", now).expect("unknown"), None);
    }
}
