//! The PostgreSQL schema: the same tables as SQLite's (src/store/migrations.rs)
//! with a `tenant_id` on every table that holds a tenant's data, forced
//! row-level security on a transaction-local setting, append-only triggers,
//! and the narrow functions through which work crosses tenants.
//!
//! Invariants: the schema version is the SQLite one's (a PostgreSQL database
//! at version N has what a SQLite one at N has); `migrate` runs under a
//! session advisory lock, so two instances starting at once do not race; a
//! policy treats an empty or missing `tollgate.tenant` as "no rows"; the
//! serving role gets no UPDATE, DELETE or TRUNCATE on append-only tables.

use super::error::StoreError;
use super::migrations::{check_version, latest};
use super::pg_roles::Roles;
use super::sql::{Db, args};

/// Tables without a `tenant_id`, and why they need none. Everything else
/// carries one under forced row-level security (system-tests/tests/pg_rls.rs walks
/// `pg_class` and requires forced RLS or this reason, from the table's comment).
pub const WITHOUT_TENANT: &[(&str, &str)] = &[
    ("tollgate_schema", "the schema version: one row, no tenant data"),
    (
        "consumed_request_states",
        "random nonces of used request states with their expiry; unique across the deployment, no tenant data",
    ),
    (
        "denial_windows",
        "open flood-denial counters of running instances, written by each writer's housekeeping across chains; \
         reason codes, counts and principal ids only, turned into tenant-scoped audit records when a window closes",
    ),
];

/// The advisory lock key `migrate` holds ("migrate!" in ASCII).
const MIGRATE_LOCK: i64 = 0x6d69_6772_6174_6521;

/// The schema version of a PostgreSQL database (0: never migrated).
pub fn version(db: &Db) -> Result<i64, StoreError> {
    let exists =
        db.one("SELECT CAST(COUNT(*) AS BIGINT) FROM pg_tables WHERE tablename = 'tollgate_schema'", args![], |r| {
            r.get::<i64>(0)
        })?;
    if exists == 0 {
        return Ok(0);
    }
    Ok(db.row("SELECT version FROM tollgate_schema", args![], |r| r.get::<i64>(0))?.unwrap_or(0))
}

/// For `serve` on PostgreSQL: the schema must be exactly this binary's
/// (migrations are applied by `tollgate migrate`, as the maintenance role).
pub fn require_current(db: &Db) -> Result<(), StoreError> {
    let current = version(db)?;
    check_version(current)?;
    if current < latest() {
        return Err(StoreError::Refused(format!(
            "the PostgreSQL database is at schema version {current}, this binary needs {}: run `tollgate migrate` \
             as the maintenance role first",
            latest()
        )));
    }
    Ok(())
}

/// Bring the database to this binary's schema version, as the maintenance
/// role (tables are created owned by the owner role), under the migrate lock.
pub fn migrate(db: &Db) -> Result<(), StoreError> {
    let roles = Roles::default();
    db.one("SELECT pg_advisory_lock(?1)", args![MIGRATE_LOCK], |_| Ok(()))?;
    let outcome = migrate_locked(db, &roles);
    let _ = db.one("SELECT pg_advisory_unlock(?1)", args![MIGRATE_LOCK], |_| Ok(()));
    outcome
}

fn migrate_locked(db: &Db, roles: &Roles) -> Result<(), StoreError> {
    let current = version(db)?;
    check_version(current)?;
    if current == 0 {
        apply(db, roles, BASE_VERSION, &base_schema(roles), &[])?;
    }
    let mut at = version(db)?;
    for step in STEPS {
        if step.version > at {
            apply(db, roles, step.version, &step_schema(step, roles), step.definers)?;
            at = step.version;
        }
    }
    if at < latest() {
        return Err(StoreError::Refused(format!("no PostgreSQL migration from schema version {at}")));
    }
    Ok(())
}

/// Run one migration in its own transaction: the DDL as the owner role,
/// the version, then (as the maintenance role) hand `definers` to the lookup role.
fn apply(db: &Db, roles: &Roles, version: i64, ddl: &str, definers: &[Definer]) -> Result<(), StoreError> {
    db.batch("BEGIN")?;
    let applied = db
        .batch(&format!("SET LOCAL ROLE {}", roles.owner))
        .and_then(|()| db.batch(ddl))
        .and_then(|()| {
            db.exec(
                "INSERT INTO tollgate_schema (id, version) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET version = ?1",
                args![version],
            )
        })
        // Handing the functions to the lookup role needs membership in it,
        // which the maintenance role has and the owner has not.
        .and_then(|_| db.batch("RESET ROLE"))
        .and_then(|()| {
            if version == BASE_VERSION {
                db.batch(&function_owners(roles))
            } else {
                db.batch(&owners_of(definers, roles))
            }
        });
    match applied {
        Ok(()) => db.commit(),
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

/// The version the base schema brings a database to (SQLite's 1..9).
const BASE_VERSION: i64 = 9;

/// A cross-tenant function: (signature, returns, body).
type Definer = (&'static str, &'static str, &'static str);

/// A migration after the base: its tables, the tenant-scoped ones with
/// their scope column expression and the serving role's grants, the
/// allowlisted ones, and its cross-tenant functions.
struct Step {
    version: i64,
    ddl: &'static str,
    tenant_tables: &'static [(&'static str, &'static str, &'static str)],
    lookup_reads: &'static [&'static str],
    definers: &'static [Definer],
}

/// A chain's rows name the chain in `tenant_id` (`_system`: the platform's).
const CHAIN_SCOPE: &str = "CASE WHEN tenant_id = '_system' THEN '_platform' ELSE tenant_id END";

const STEPS: &[Step] = &[
    Step {
        version: 10,
        ddl: "CREATE TABLE call_counts (tenant_id TEXT COLLATE \"C\" NOT NULL, hour TEXT COLLATE \"C\" NOT NULL, \
              decision TEXT COLLATE \"C\" NOT NULL, reason TEXT COLLATE \"C\" NOT NULL, count BIGINT NOT NULL, \
              PRIMARY KEY (tenant_id, hour, decision, reason)); \
              CREATE INDEX call_counts_by_hour ON call_counts(hour);",
        tenant_tables: &[("call_counts", CHAIN_SCOPE, "SELECT, INSERT, UPDATE")],
        lookup_reads: &[],
        definers: &[],
    },
    Step {
        version: 11,
        ddl: "CREATE TABLE chain_verifications (tenant_id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY, \
              verified_at TEXT COLLATE \"C\" NOT NULL, valid BIGINT NOT NULL, records_checked BIGINT NOT NULL, \
              problem_code TEXT, problem_seq BIGINT, verified_by TEXT NOT NULL);",
        tenant_tables: &[("chain_verifications", CHAIN_SCOPE, "SELECT, INSERT, UPDATE")],
        lookup_reads: &[],
        definers: &[],
    },
    Step {
        version: 12,
        ddl: "CREATE TABLE oauth_bindings (issuer TEXT COLLATE \"C\" NOT NULL, kind TEXT COLLATE \"C\" NOT NULL, \
              subject TEXT COLLATE \"C\" NOT NULL, tenant_id TEXT COLLATE \"C\" NOT NULL REFERENCES tenants(id), \
              role TEXT NOT NULL, invite_id TEXT NOT NULL, created_at TEXT COLLATE \"C\" NOT NULL, \
              PRIMARY KEY (issuer, kind, subject)); \
              CREATE INDEX oauth_bindings_by_tenant ON oauth_bindings(tenant_id, created_at); \
              CREATE TABLE oauth_invites (code_digest TEXT COLLATE \"C\" PRIMARY KEY, invite_id TEXT NOT NULL, \
              tenant_id TEXT COLLATE \"C\" NOT NULL REFERENCES tenants(id), role TEXT NOT NULL, kind TEXT NOT NULL, \
              created_by TEXT NOT NULL, created_at TEXT COLLATE \"C\" NOT NULL, expires_at TEXT COLLATE \"C\" NOT NULL, \
              redeemed_at TEXT); \
              CREATE INDEX oauth_invites_by_tenant ON oauth_invites(tenant_id, created_at);",
        tenant_tables: &[
            ("oauth_bindings", "tenant_id", "SELECT, INSERT, DELETE"),
            ("oauth_invites", "tenant_id", "SELECT, INSERT, UPDATE, DELETE"),
        ],
        lookup_reads: &["oauth_bindings", "oauth_invites"],
        definers: &[
            (
                "tollgate_auth_subject(p_issuer text, p_kind text, p_subject text)",
                "TABLE(issuer text, kind text, subject text, tenant_id text, role text, invite_id text, created_at text)",
                "SELECT issuer, kind, subject, tenant_id, role, invite_id, created_at FROM public.oauth_bindings \
                 WHERE issuer = p_issuer AND kind = p_kind AND subject = p_subject",
            ),
            (
                "tollgate_invite_by_code(p_digest text, p_now text)",
                "TABLE(code_digest text, invite_id text, tenant_id text, role text, kind text, created_by text, \
                 created_at text, expires_at text)",
                "SELECT code_digest, invite_id, tenant_id, role, kind, created_by, created_at, expires_at \
                 FROM public.oauth_invites WHERE code_digest = p_digest AND redeemed_at IS NULL AND expires_at > p_now",
            ),
        ],
    },
];

fn step_schema(step: &Step, roles: &Roles) -> String {
    let mut sql = String::from(step.ddl);
    sql.push('\n');
    for (table, column, grants) in step.tenant_tables {
        sql.push_str(&policy(table, column));
        sql.push_str(&format!("GRANT {grants} ON {table} TO {};\n", roles.app));
    }
    for table in step.lookup_reads {
        sql.push_str(&format!("GRANT SELECT ON {table} TO {};\n", roles.lookup));
    }
    sql.push_str(&definer_sql(step.definers, roles));
    sql
}

fn policy(table: &str, column: &str) -> String {
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY tenant_scope ON {table} USING ({column} = tollgate_scope()) WITH CHECK ({column} = tollgate_scope());\n"
    )
}

fn definer_sql(defs: &[Definer], roles: &Roles) -> String {
    let mut sql = String::new();
    for (signature, returns, body) in defs {
        sql.push_str(&format!(
            "CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE sql STABLE SECURITY DEFINER \
             SET search_path = pg_catalog, pg_temp AS $fn$ {body} $fn$;\n\
             REVOKE ALL ON FUNCTION {signature} FROM PUBLIC;\n\
             GRANT EXECUTE ON FUNCTION {signature} TO {};\n",
            roles.app
        ));
    }
    sql
}

fn owners_of(defs: &[Definer], roles: &Roles) -> String {
    defs.iter().map(|(signature, _, _)| format!("ALTER FUNCTION {signature} OWNER TO {};\n", roles.lookup)).collect()
}

/// Tables whose rows are scoped by `tenant_id` (COALESCE'd to the platform
/// for platform keys), with what the serving role may do on each.
const TENANT_TABLES: &[(&str, &str)] = &[
    ("tenants", "SELECT, INSERT, UPDATE, DELETE"),
    ("namespaces", "SELECT, INSERT, DELETE"),
    ("api_keys", "SELECT, INSERT, UPDATE, DELETE"),
    ("audit_records", "SELECT, INSERT"),
    ("checkpoints", "SELECT, INSERT"),
    ("usage_events", "SELECT, INSERT"),
    ("billing", "SELECT, INSERT, UPDATE, DELETE"),
    ("billing_history", "SELECT, INSERT"),
    ("idempotency", "SELECT, INSERT, DELETE"),
    ("usage_totals", "SELECT, INSERT, UPDATE"),
    ("tenant_tombstones", "SELECT, INSERT"),
    ("legal_holds", "SELECT, INSERT, UPDATE, DELETE"),
    ("deletion_plans", "SELECT, INSERT, UPDATE, DELETE"),
    ("cert_bindings", "SELECT, INSERT, DELETE"),
    ("idempotency_pending", "SELECT, INSERT, DELETE"),
    ("quota_holds", "SELECT, INSERT, DELETE"),
];

/// The append-only tables.
pub const APPEND_ONLY: &[&str] =
    &["audit_records", "checkpoints", "usage_events", "billing_history", "tenant_tombstones"];

fn base_schema(roles: &Roles) -> String {
    let mut sql = String::from(TABLES);
    // The allowlist is kept in the database too, as each table's comment, so
    // an inspection (tests/pg_rls.rs, an auditor's psql) needs no source.
    for (table, reason) in WITHOUT_TENANT {
        sql.push_str(&format!(
            "COMMENT ON TABLE {table} IS 'tollgate: no tenant_id: {}';\n",
            reason.replace('\'', "''")
        ));
    }
    for (table, _) in TENANT_TABLES {
        let column = if *table == "api_keys" { "COALESCE(tenant_id, '_platform')" } else { "tenant_id" };
        sql.push_str(&policy(table, column));
    }
    for table in APPEND_ONLY {
        sql.push_str(&format!(
            // Per statement: refused even when no row matches (nothing to hide behind).
            "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();\n"
        ));
    }
    sql.push_str(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;\n\
         GRANT USAGE ON SCHEMA public TO {app}, {lookup};\n\
         GRANT SELECT ON tollgate_schema TO {app};\n\
         GRANT SELECT, INSERT, DELETE ON consumed_request_states TO {app};\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON denial_windows TO {app};\n\
         GRANT SELECT ON api_keys, cert_bindings, tenants, audit_records, checkpoints, tenant_tombstones TO {lookup};\n\
         GRANT SELECT, DELETE ON idempotency_pending, quota_holds TO {lookup};\n",
        app = roles.app,
        lookup = roles.lookup
    ));
    for (table, grants) in TENANT_TABLES {
        sql.push_str(&format!("GRANT {grants} ON {table} TO {};\n", roles.app));
    }
    sql.push_str(&functions(roles));
    sql
}

/// The narrow functions work across tenants goes through: each owned by the
/// NOLOGIN lookup role (which bypasses row-level security and holds only
/// SELECT on what they read), `search_path` pinned, returning only what its
/// one operation needs.
fn functions(roles: &Roles) -> String {
    let app = &roles.app;
    let mut sql = definer_sql(CROSS_TENANT, roles);
    sql.push_str(&format!(
        "CREATE FUNCTION {RELEASE_OWNER} RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER \
         SET search_path = pg_catalog, pg_temp AS $fn$ \
         WITH a AS (DELETE FROM public.idempotency_pending WHERE owner = p_owner RETURNING 1), \
         b AS (DELETE FROM public.quota_holds WHERE owner = p_owner RETURNING 1) \
         SELECT (SELECT COUNT(*) FROM a) + (SELECT COUNT(*) FROM b) $fn$;\n\
         REVOKE ALL ON FUNCTION {RELEASE_OWNER} FROM PUBLIC;\n\
         GRANT EXECUTE ON FUNCTION {RELEASE_OWNER} TO {app};\n"
    ));
    sql
}

/// Each cross-tenant function's owner becomes the lookup role.
fn function_owners(roles: &Roles) -> String {
    CROSS_TENANT
        .iter()
        .map(|(signature, _, _)| *signature)
        .chain([RELEASE_OWNER])
        .map(|f| format!("ALTER FUNCTION {f} OWNER TO {};\n", roles.lookup))
        .collect()
}

const RELEASE_OWNER: &str = "tollgate_release_owner(p_owner text)";

/// (signature, returns, body) of the read-only cross-tenant functions.
const CROSS_TENANT: &[(&str, &str, &str)] = &[
    (
        "tollgate_auth_key(p_key_id text)",
        "TABLE(key_id text, tenant_id text, role text, label text, secret_digest bytea, status text, \
         created_at text, expires_at text, revoked_at text, replaced_by text)",
        "SELECT key_id, tenant_id, role, label, secret_digest, status, created_at, expires_at, revoked_at, \
         replaced_by FROM public.api_keys WHERE key_id = p_key_id",
    ),
    (
        "tollgate_auth_cert(p_fingerprint text)",
        "TABLE(fingerprint text, tenant_id text, role text, label text, bound_by text, created_at text)",
        "SELECT fingerprint, tenant_id, role, label, bound_by, created_at FROM public.cert_bindings \
         WHERE fingerprint = p_fingerprint",
    ),
    (
        "tollgate_list_tenants(p_after text, p_limit bigint)",
        "TABLE(id text, slug text, display_name text, plan text, status text, created_at text)",
        "SELECT id, slug, display_name, plan, status, created_at FROM public.tenants WHERE id > p_after \
         ORDER BY id LIMIT p_limit",
    ),
    (
        "tollgate_chain_heads()",
        "TABLE(chain text, seq bigint, hash text, checkpointed bigint)",
        "SELECT h.chain, h.seq, r.hash, COALESCE((SELECT MAX(c.seq) FROM public.checkpoints c WHERE c.chain = h.chain), 0) \
         FROM (SELECT a.chain, MAX(a.seq) AS seq FROM public.audit_records a GROUP BY a.chain) h \
         JOIN public.audit_records r ON r.chain = h.chain AND r.seq = h.seq ORDER BY h.chain",
    ),
    (
        "tollgate_slug_retired(p_slug text)",
        "TABLE(retired bigint)",
        "SELECT COUNT(*) FROM public.tenant_tombstones WHERE slug = p_slug",
    ),
    (
        "tollgate_reservation_owners()",
        "TABLE(owner text)",
        "SELECT owner FROM public.idempotency_pending UNION SELECT owner FROM public.quota_holds",
    ),
];

/// The tables, as SQLite's migrations 1..9 leave them, plus `tenant_id`
/// where SQLite keys a tenant's rows by another name (generated from it).
const TABLES: &str = r#"
CREATE TABLE tollgate_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
CREATE FUNCTION tollgate_scope() RETURNS text LANGUAGE sql STABLE
    AS $fn$ SELECT NULLIF(current_setting('tollgate.tenant', true), '') $fn$;
CREATE FUNCTION tollgate_append_only() RETURNS trigger LANGUAGE plpgsql
    AS $fn$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $fn$;
CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" GENERATED ALWAYS AS (id) STORED,
    slug TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    plan TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE namespaces (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    name TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE api_keys (
    key_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" REFERENCES tenants(id),
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    secret_digest BYTEA NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C",
    revoked_at TEXT COLLATE "C",
    replaced_by TEXT COLLATE "C"
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, created_at);
CREATE TABLE audit_records (
    chain TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    record TEXT NOT NULL,
    tenant_id TEXT COLLATE "C" GENERATED ALWAYS AS (CASE WHEN chain = '_system' THEN '_platform' ELSE chain END) STORED,
    PRIMARY KEY (chain, seq)
);
CREATE TABLE checkpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chain TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    checkpoint TEXT NOT NULL,
    tenant_id TEXT COLLATE "C" GENERATED ALWAYS AS (CASE WHEN chain = '_system' THEN '_platform' ELSE chain END) STORED
);
CREATE INDEX checkpoints_by_chain ON checkpoints(chain, seq);
CREATE TABLE usage_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    counter TEXT COLLATE "C" NOT NULL,
    quantity BIGINT NOT NULL,
    idempotency_key TEXT,
    request_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX usage_by_tenant ON usage_events(tenant_id, counter, at);
CREATE TABLE billing (
    tenant_id TEXT COLLATE "C" PRIMARY KEY REFERENCES tenants(id),
    status TEXT NOT NULL CHECK (status IN ('active', 'trialing', 'past_due', 'canceled')),
    trial_ends_at TEXT COLLATE "C",
    version BIGINT NOT NULL,
    overrides TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE billing_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL,
    trial_ends_at TEXT,
    overrides TEXT NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    principal TEXT NOT NULL
);
CREATE TABLE idempotency (
    tenant_id TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    tool TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    args_digest TEXT NOT NULL,
    result TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, principal, tool, key)
);
CREATE TABLE usage_totals (
    tenant_id TEXT COLLATE "C" NOT NULL,
    counter TEXT COLLATE "C" NOT NULL,
    period TEXT COLLATE "C" NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, counter, period)
);
CREATE TABLE consumed_request_states (
    nonce TEXT COLLATE "C" PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE tenant_tombstones (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" GENERATED ALWAYS AS (id) STORED,
    slug TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    final_seq BIGINT NOT NULL
);
CREATE TABLE legal_holds (
    tenant_id TEXT COLLATE "C" PRIMARY KEY,
    reason TEXT NOT NULL,
    set_at TEXT NOT NULL,
    principal TEXT NOT NULL
);
CREATE TABLE deletion_plans (
    token_digest TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    plan_digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    used_at TEXT
);
CREATE TABLE cert_bindings (
    fingerprint TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    bound_by TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX cert_bindings_by_tenant ON cert_bindings(tenant_id, created_at);
CREATE TABLE idempotency_pending (
    tenant_id TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    tool TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    args_digest TEXT NOT NULL,
    request_id TEXT COLLATE "C" NOT NULL,
    owner TEXT COLLATE "C" NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, principal, tool, key)
);
CREATE INDEX idempotency_pending_by_request ON idempotency_pending(request_id);
CREATE TABLE quota_holds (
    request_id TEXT COLLATE "C" NOT NULL,
    counter TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C" NOT NULL,
    period TEXT COLLATE "C" NOT NULL,
    quantity BIGINT NOT NULL,
    owner TEXT COLLATE "C" NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (request_id, counter)
);
CREATE INDEX quota_holds_by_counter ON quota_holds(tenant_id, counter, period);
CREATE TABLE denial_windows (
    owner TEXT COLLATE "C" NOT NULL,
    chain TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    tool TEXT COLLATE "C" NOT NULL,
    transport TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL,
    window_start TEXT COLLATE "C" NOT NULL,
    window_end TEXT NOT NULL,
    first_request_id TEXT NOT NULL,
    PRIMARY KEY (owner, chain, principal, reason, tool, transport)
);
"#;
