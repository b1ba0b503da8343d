//! Versioned schema migrations, run at start.
//!
//! Invariants: migration N runs once, in order, inside one transaction with
//! the version bump (`PRAGMA user_version`); a database newer than this binary
//! is refused, never written; so is one older than [`EDITIONS`], whose stored
//! tool pins use the retired naming (see the function's doc). Audit, checkpoint and usage tables are
//! append-only, enforced by triggers in the database itself.

use super::StoreError;
use super::sql::Db;

/// Each entry is one schema version; never edit a published one, append.
const MIGRATIONS: &[&str] = &[
    // 1: tenants, namespaces, keys, the audit log, checkpoints, usage ledger.
    r#"
    CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        plan TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
        created_at TEXT NOT NULL
    );
    CREATE TABLE namespaces (
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, name)
    );
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        tenant_id TEXT REFERENCES tenants(id),
        role TEXT NOT NULL,
        label TEXT NOT NULL,
        secret_digest BLOB NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        replaced_by TEXT
    );
    CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, created_at);
    CREATE TABLE audit_records (
        chain TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (chain, seq)
    ) WITHOUT ROWID;
    CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY,
        chain TEXT NOT NULL,
        seq INTEGER NOT NULL,
        checkpoint TEXT NOT NULL
    );
    CREATE INDEX checkpoints_by_chain ON checkpoints(chain, seq);
    CREATE TABLE usage_events (
        id INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        counter TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        idempotency_key TEXT,
        request_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
    CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
    CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
    CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
    CREATE TRIGGER usage_events_no_update BEFORE UPDATE ON usage_events
        BEGIN SELECT RAISE(ABORT, 'usage_events is append-only'); END;
    CREATE TRIGGER usage_events_no_delete BEFORE DELETE ON usage_events
        BEGIN SELECT RAISE(ABORT, 'usage_events is append-only'); END;
    "#,
    // 2: billing state and history, idempotency, ledger index.
    r#"
    CREATE TABLE billing (
        tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
        status TEXT NOT NULL CHECK (status IN ('active', 'trialing', 'past_due', 'canceled')),
        trial_ends_at TEXT,
        version INTEGER NOT NULL,
        overrides TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE billing_history (
        id INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        plan TEXT NOT NULL,
        status TEXT NOT NULL,
        trial_ends_at TEXT,
        overrides TEXT NOT NULL,
        at TEXT NOT NULL,
        principal TEXT NOT NULL
    );
    CREATE TRIGGER billing_history_no_update BEFORE UPDATE ON billing_history
        BEGIN SELECT RAISE(ABORT, 'billing_history is append-only'); END;
    CREATE TRIGGER billing_history_no_delete BEFORE DELETE ON billing_history
        BEGIN SELECT RAISE(ABORT, 'billing_history is append-only'); END;
    CREATE INDEX usage_by_tenant ON usage_events(tenant_id, counter, at);
    CREATE TABLE idempotency (
        tenant_id TEXT NOT NULL,
        principal TEXT NOT NULL,
        tool TEXT NOT NULL,
        key TEXT NOT NULL,
        args_digest TEXT NOT NULL,
        result TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, principal, tool, key)
    ) WITHOUT ROWID;
    "#,
    // 3: running totals per (tenant, counter, period), kept in step with the ledger.
    r#"
    CREATE TABLE usage_totals (
        tenant_id TEXT NOT NULL,
        counter TEXT NOT NULL,
        period TEXT NOT NULL,
        used INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, counter, period)
    ) WITHOUT ROWID;
    INSERT INTO usage_totals (tenant_id, counter, period, used)
        SELECT tenant_id, counter, substr(at, 1, 7), SUM(quantity) FROM usage_events GROUP BY 1, 2, 3;
    "#,
    // 4: request states (multi round-trip) already presented, so none is honoured twice.
    r#"
    CREATE TABLE consumed_request_states (
        nonce TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 5: tenant data lifecycle: tombstones of deleted tenants (slug reserved for ever),
    // legal holds, and deletion plans awaiting confirmation (only the token's digest).
    r#"
    CREATE TABLE tenant_tombstones (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT NOT NULL,
        final_seq INTEGER NOT NULL
    );
    CREATE TRIGGER tenant_tombstones_no_update BEFORE UPDATE ON tenant_tombstones
        BEGIN SELECT RAISE(ABORT, 'tenant_tombstones is append-only'); END;
    CREATE TRIGGER tenant_tombstones_no_delete BEFORE DELETE ON tenant_tombstones
        BEGIN SELECT RAISE(ABORT, 'tenant_tombstones is append-only'); END;
    CREATE TABLE legal_holds (
        tenant_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        set_at TEXT NOT NULL,
        principal TEXT NOT NULL
    );
    CREATE TABLE deletion_plans (
        token_digest TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        plan_digest TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
    ) WITHOUT ROWID;
    "#,
    // 6: mTLS client certificates bound to a tenant principal (one tenant per fingerprint).
    r#"
    CREATE TABLE cert_bindings (
        fingerprint TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        role TEXT NOT NULL,
        label TEXT NOT NULL,
        bound_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX cert_bindings_by_tenant ON cert_bindings(tenant_id, created_at);
    "#,
    // 7: reservations of calls whose work happens outside the commit (an export's files):
    // a pending idempotency entry and quota holds, each owned by one running process.
    r#"
    CREATE TABLE idempotency_pending (
        tenant_id TEXT NOT NULL,
        principal TEXT NOT NULL,
        tool TEXT NOT NULL,
        key TEXT NOT NULL,
        args_digest TEXT NOT NULL,
        request_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, principal, tool, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_pending_by_request ON idempotency_pending(request_id);
    CREATE TABLE quota_holds (
        request_id TEXT NOT NULL,
        counter TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        period TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (request_id, counter)
    ) WITHOUT ROWID;
    CREATE INDEX quota_holds_by_counter ON quota_holds(tenant_id, counter, period);
    "#,
    // 8: tool names carry editions apart from versions (CHANGELOG 0.1.0). No
    // table changes; the version marks data written under the new naming.
    "SELECT 1;",
    // 9: the open flood-denial windows of each running process, persisted by the writer's
    // tick so a crash loses no count; a window's row is deleted when its record is written.
    r#"
    CREATE TABLE denial_windows (
        owner TEXT NOT NULL,
        chain TEXT NOT NULL,
        principal TEXT NOT NULL,
        reason TEXT NOT NULL,
        tool TEXT NOT NULL,
        transport TEXT NOT NULL,
        count INTEGER NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        first_request_id TEXT NOT NULL,
        PRIMARY KEY (owner, chain, principal, reason, tool, transport)
    ) WITHOUT ROWID;
    "#,
    // 10: rolling counters of decisions per chain, UTC hour and reason, kept in step with
    // the audit log (the operator console's "last 24 hours" without scanning it). They
    // start counting at this version: records written before it are not backfilled.
    r#"
    CREATE TABLE call_counts (
        tenant_id TEXT NOT NULL,
        hour TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, hour, decision, reason)
    );
    CREATE INDEX call_counts_by_hour ON call_counts(hour);
    "#,
    // 11: the last verification of each audit chain (`audit.verify`), for the console's release gates.
    r#"
    CREATE TABLE chain_verifications (
        tenant_id TEXT NOT NULL PRIMARY KEY,
        verified_at TEXT NOT NULL,
        valid INTEGER NOT NULL,
        records_checked INTEGER NOT NULL,
        problem_code TEXT,
        problem_seq INTEGER,
        verified_by TEXT NOT NULL
    );
    "#,
    // 12: OAuth subjects bound to a tenant (one tenant per issuer, kind and subject),
    // and the one-time invites that bind them (codes stored as digests only).
    r#"
    CREATE TABLE oauth_bindings (
        issuer TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        role TEXT NOT NULL,
        invite_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (issuer, kind, subject)
    );
    CREATE INDEX oauth_bindings_by_tenant ON oauth_bindings(tenant_id, created_at);
    CREATE TABLE oauth_invites (
        code_digest TEXT PRIMARY KEY,
        invite_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        role TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        redeemed_at TEXT
    );
    CREATE INDEX oauth_invites_by_tenant ON oauth_invites(tenant_id, created_at);
    "#,
];

/// The first schema version whose stored tool pins (audit records' `tool` and
/// `version`, idempotency scopes, sealed request states) use editions apart
/// from versions. Before it, `key.issue` v2 (say) meant the single-tenant
/// edition; now it would mean a second multi-tenant contract. Audit records
/// are append-only and hash-chained, so they cannot be rewritten: an older
/// database is refused at start rather than migrated (no release wrote one).
pub const EDITIONS: i64 = 8;

/// The schema version this binary writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the database to the latest version, or refuse a newer one (SQLite:
/// the embedded database migrates itself at open; PostgreSQL is migrated by
/// `tollgate migrate`, see `pg_schema`).
pub fn run(db: &Db) -> Result<(), StoreError> {
    let Some(conn) = db.as_sqlite() else {
        return Err(StoreError::Refused("a PostgreSQL database is migrated by `tollgate migrate`".into()));
    };
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    check_version(current)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let applied =
            conn.execute_batch(sql).and_then(|()| conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1)));
        match applied {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Refuse a schema newer than this binary, or one from before [`EDITIONS`].
pub(super) fn check_version(current: i64) -> Result<(), StoreError> {
    if current > latest() {
        return Err(StoreError::TooNew { found: current, supported: latest() });
    }
    if (1..EDITIONS).contains(&current) {
        return Err(StoreError::RetiredToolNames { found: current });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_only_tables_refuse_update_and_delete() {
        let db = crate::store::open::migrated_in_memory();
        let conn = db.as_sqlite().expect("sqlite");
        conn.execute("INSERT INTO audit_records VALUES ('c', 1, 'h', '{}')", []).expect("insert");
        assert!(conn.execute("UPDATE audit_records SET hash = 'x'", []).is_err());
        assert!(conn.execute("DELETE FROM audit_records", []).is_err());
        conn.execute("INSERT INTO usage_events (tenant_id, counter, quantity, request_id, tool, at) VALUES ('t','c',1,'r','x','now')", [])
            .expect("insert");
        assert!(conn.execute("DELETE FROM usage_events", []).is_err());
    }

    #[test]
    fn a_database_from_before_editions_is_refused_and_left_alone() {
        let db = crate::store::open::migrated_in_memory();
        let conn = db.as_sqlite().expect("sqlite");
        conn.execute_batch("PRAGMA user_version = 6").expect("set");
        let e = run(&db).expect_err("refused");
        assert!(matches!(e, StoreError::RetiredToolNames { found: 6 }), "{e}");
        assert!(e.to_string().contains("tollgate init"), "{e}");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(v, 6, "nothing was written");
    }

    #[test]
    fn a_newer_database_is_refused() {
        let db = Db::sqlite(rusqlite::Connection::open_in_memory().expect("open"));
        db.batch("PRAGMA user_version = 99").expect("set");
        assert!(matches!(run(&db), Err(StoreError::TooNew { found: 99, .. })));
    }
}
