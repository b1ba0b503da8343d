//! The PostgreSQL roles tollgate runs under, their bootstrap, and the check
//! that `serve` runs as the serving role.
//!
//! Invariants: the owner (NOLOGIN) owns the tables; the maintenance role
//! (LOGIN, BYPASSRLS) migrates, initialises, copies and backs up; the lookup
//! role (NOLOGIN, BYPASSRLS) only owns the narrow cross-tenant functions;
//! the serving role owns nothing, is no superuser and does not bypass RLS,
//! and `serve` refuses any other (and `synchronous_commit = off`).

use super::error::StoreError;
use super::sql::{Db, args};

/// Role names (the defaults of docs/operations.md).
#[derive(Debug, Clone)]
pub struct Roles {
    pub owner: String,
    pub maint: String,
    pub lookup: String,
    pub app: String,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            owner: "tollgate_owner".into(),
            maint: "tollgate_maint".into(),
            lookup: "tollgate_lookup".into(),
            app: "tollgate_app".into(),
        }
    }
}

/// The SQL that creates the roles idempotently (run by a superuser; printed
/// in docs/operations.md). Passwords are set by the operator afterwards
/// (`ALTER ROLE … PASSWORD`), never by tollgate.
pub fn bootstrap_sql(r: &Roles) -> String {
    format!(
        "DO $roles$ BEGIN\n\
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') THEN CREATE ROLE {owner} NOLOGIN; END IF;\n\
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{lookup}') THEN CREATE ROLE {lookup} NOLOGIN BYPASSRLS; END IF;\n\
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{maint}') THEN CREATE ROLE {maint} LOGIN BYPASSRLS; END IF;\n\
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app}') THEN CREATE ROLE {app} LOGIN NOBYPASSRLS; END IF;\n\
         END $roles$;\n\
         ALTER ROLE {owner} NOLOGIN NOSUPERUSER NOBYPASSRLS;\n\
         ALTER ROLE {lookup} NOLOGIN NOSUPERUSER BYPASSRLS;\n\
         ALTER ROLE {app} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;\n\
         GRANT {owner} TO {maint};\n\
         GRANT {lookup} TO {maint};\n\
         GRANT {app} TO {maint};\n\
         GRANT USAGE, CREATE ON SCHEMA public TO {owner};\n\
         GRANT USAGE ON SCHEMA public TO {app}, {lookup};\n\
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public REVOKE ALL ON TABLES FROM PUBLIC;\n\
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;\n",
        owner = r.owner,
        maint = r.maint,
        lookup = r.lookup,
        app = r.app
    )
}

/// Create the roles (`tollgate migrate --bootstrap-roles`, as a superuser).
pub fn bootstrap(db: &Db, roles: &Roles) -> Result<(), StoreError> {
    db.batch(&bootstrap_sql(roles))
}

/// What the session's role is allowed to do that a serving role must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRole {
    pub name: String,
    pub superuser: bool,
    pub bypass_rls: bool,
    pub owns_tables: bool,
    pub synchronous_commit: String,
}

/// The session's role and settings.
pub fn session_role(db: &Db) -> Result<SessionRole, StoreError> {
    db.one(
        "SELECT r.rolname::text, CAST(r.rolsuper AS INTEGER), CAST(r.rolbypassrls AS INTEGER), \
         CAST(EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_has_role(current_user, c.relowner, 'USAGE')) AS INTEGER), \
         (SELECT reset_val FROM pg_settings WHERE name = 'synchronous_commit') \
         FROM pg_roles r WHERE r.rolname = current_user",
        args![],
        |r| {
            Ok(SessionRole {
                name: r.get(0)?,
                superuser: r.get::<i64>(1)? != 0,
                bypass_rls: r.get::<i64>(2)? != 0,
                owns_tables: r.get::<i64>(3)? != 0,
                synchronous_commit: r.get(4)?,
            })
        },
    )
}

/// `serve` refuses a role that owns the tables (or can act as their owner),
/// is a superuser or bypasses row-level security, and a session whose
/// commits would not be durable.
pub fn require_serving_role(db: &Db) -> Result<(), StoreError> {
    let role = session_role(db)?;
    let problem = if role.superuser {
        Some("is a superuser")
    } else if role.bypass_rls {
        Some("bypasses row-level security (BYPASSRLS)")
    } else if role.owns_tables {
        Some("owns tollgate's tables (or is a member of their owner)")
    } else if role.synchronous_commit == "off" {
        Some("runs with synchronous_commit = off (an acknowledged call could be lost)")
    } else {
        None
    };
    match problem {
        Some(p) => Err(StoreError::Refused(format!(
            "tollgate serve refuses the PostgreSQL role {}: it {p}; connect as the serving role (tollgate_app, see docs/operations.md)",
            role.name
        ))),
        None => Ok(()),
    }
}
