//! Row-level security proven in the database (issue 14, done-when 3): on a
//! deployment migrated and served by the binary, with two tenants' data made
//! through real calls, the tests connect with `psql` as tollgate's roles.

use serde_json::json;
use system_tests::pg::{Database, psql};
use system_tests::{DataDir, HttpServer, http_tool, require_postgres, tool_output};

/// A served PostgreSQL deployment with tenants `acme` and `bravo`, each with
/// usage, keys and audit records; returns (server, db, acme id, bravo id).
async fn two_tenants() -> Option<(HttpServer, Database, String, String)> {
    let cluster = require_postgres!(None);
    let db = cluster.fresh_database();
    let dir = DataDir::init_on(Some(&db));
    let server = HttpServer::start_in(dir, &[]);
    let admin = server.endpoint();
    let mut ids = Vec::new();
    for slug in ["acme", "bravo"] {
        let made = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
        let out = tool_output(&made.body).unwrap_or_else(|| panic!("bootstrap {slug}: {}", made.body));
        let key = out["api_key"].as_str().expect("key").to_owned();
        let tenant = admin.with_key(Some(&key));
        let issued = http_tool(&tenant, 2, "key.issue", json!({"role": "viewer", "label": "ci"})).await;
        assert!(tool_output(&issued.body).is_some(), "key.issue: {}", issued.body);
        let usage = http_tool(&tenant, 3, "whoami", json!({})).await;
        assert!(tool_output(&usage.body).is_some(), "whoami: {}", usage.body);
        ids.push(out["tenant_id"].as_str().expect("id").to_owned());
    }
    let bravo = ids.pop().expect("bravo");
    let acme = ids.pop().expect("acme");
    Some((server, db, acme, bravo))
}

/// (table, has a tenant_id column, RLS enabled, RLS forced, comment) of every table.
fn tables(db: &Database) -> Vec<(String, bool, bool, bool, String)> {
    psql(
        &db.super_url,
        "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' \
         AND NOT a.attisdropped), c.relrowsecurity, c.relforcerowsecurity, COALESCE(obj_description(c.oid, 'pg_class'), '') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
         ORDER BY 1",
    )
    .expect("pg_class")
    .iter()
    .map(|l| {
        let f: Vec<&str> = l.splitn(5, '|').collect();
        (f[0].to_owned(), f[1] == "t", f[2] == "t", f[3] == "t", f.get(4).copied().unwrap_or("").to_owned())
    })
    .collect()
}

#[tokio::test]
async fn pg_every_table_is_tenant_scoped_under_forced_rls_or_listed_with_a_reason() {
    let Some((_server, db, ..)) = two_tenants().await else { return };
    let all = tables(&db);
    assert!(all.len() >= 18, "the schema's tables: {all:?}");
    for (table, tenant_id, enabled, forced, comment) in &all {
        if *tenant_id {
            assert!(*enabled && *forced, "{table} has tenant_id but RLS is not enabled and forced");
        } else {
            let reason = comment.strip_prefix("tollgate: no tenant_id: ").unwrap_or_default();
            assert!(reason.len() > 20, "{table} has no tenant_id and no allowlist reason (comment {comment:?})");
        }
    }
    // Every policy reads the transaction-local setting, with USING and WITH CHECK.
    let policies = psql(
        &db.super_url,
        "SELECT tablename, qual IS NOT NULL, with_check IS NOT NULL, qual LIKE '%tollgate_scope()%' FROM pg_policies \
         WHERE schemaname = 'public'",
    )
    .expect("policies");
    let scoped = all.iter().filter(|t| t.1).count();
    assert_eq!(policies.len(), scoped, "one policy per tenant table: {policies:?}");
    assert!(policies.iter().all(|p| p.ends_with("|t|t|t")), "{policies:?}");
}

/// Run `sql` as the serving role inside a transaction scoped to `tenant`.
fn as_app(db: &Database, tenant: &str, sql: &str) -> Result<Vec<String>, String> {
    psql(&db.app_url, &format!("BEGIN; SET LOCAL tollgate.tenant = '{tenant}'; {sql}; COMMIT;"))
}

#[tokio::test]
async fn pg_the_serving_role_scoped_to_one_tenant_sees_and_writes_none_of_another() {
    let Some((_server, db, acme, bravo)) = two_tenants().await else { return };
    let tenant_tables: Vec<String> = tables(&db).into_iter().filter(|t| t.1).map(|t| t.0).collect();
    let mut seen_own = 0;
    for table in &tenant_tables {
        let column = if table == "api_keys" { "COALESCE(tenant_id, '_platform')" } else { "tenant_id" };
        let theirs = as_app(&db, &acme, &format!("SELECT COUNT(*) FROM {table} WHERE {column} <> '{acme}'"))
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(theirs.last().map(String::as_str), Some("0"), "{table} showed another tenant's rows to acme");
        let own = as_app(&db, &acme, &format!("SELECT COUNT(*) FROM {table}")).expect("count");
        if own.last().is_some_and(|n| n != "0") {
            seen_own += 1;
        }
        // The superuser sees bravo's rows where bravo has some: the filter is RLS, not absence.
        let _ = &bravo;
    }
    assert!(seen_own >= 6, "acme's own rows are visible in most tenant tables ({seen_own})");
    let bravo_rows =
        psql(&db.super_url, &format!("SELECT COUNT(*) FROM audit_records WHERE tenant_id = '{bravo}'")).expect("count");
    assert_ne!(bravo_rows.last().map(String::as_str), Some("0"), "bravo has audit records");
    // No scope at all: no rows.
    let none = psql(&db.app_url, "SELECT COUNT(*) FROM tenants").expect("count");
    assert_eq!(none.last().map(String::as_str), Some("0"), "an unscoped session sees no tenant");
    // Writing a row that names bravo, scoped to acme, fails.
    for sql in [
        format!("INSERT INTO namespaces (tenant_id, name, created_at) VALUES ('{bravo}', 'x', 'now')"),
        format!("UPDATE api_keys SET tenant_id = '{bravo}' WHERE tenant_id = '{acme}'"),
        format!(
            "INSERT INTO usage_events (tenant_id, counter, quantity, request_id, tool, at) VALUES ('{bravo}', 'tool_calls', 1, 'r', 't', 'now')"
        ),
    ] {
        let e = as_app(&db, &acme, &sql).expect_err("refused");
        assert!(e.contains("row-level security"), "{sql}: {e}");
    }
    // An update aimed at bravo's rows changes none of them.
    as_app(&db, &acme, &format!("UPDATE tenants SET display_name = 'owned' WHERE id = '{bravo}'")).expect("runs");
    let name = psql(&db.super_url, &format!("SELECT display_name FROM tenants WHERE id = '{bravo}'")).expect("name");
    assert_eq!(name, vec!["bravo".to_owned()]);
}

#[tokio::test]
async fn pg_audit_and_usage_rows_cannot_be_changed_by_the_serving_role_or_even_the_maintenance_role() {
    let Some((_server, db, acme, _)) = two_tenants().await else { return };
    for table in ["audit_records", "checkpoints", "usage_events", "billing_history", "tenant_tombstones"] {
        for sql in [
            format!("UPDATE {table} SET tenant_id = DEFAULT"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
        ] {
            let e = as_app(&db, &acme, &sql).expect_err("serving role refused");
            assert!(e.contains("permission denied") || e.contains("append-only"), "{sql}: {e}");
        }
        for sql in [format!("DELETE FROM {table}"), format!("TRUNCATE {table}")] {
            let e = psql(&db.maint_url, &sql).expect_err("maintenance role refused");
            assert!(e.contains("append-only"), "{sql} as maint: {e}");
        }
    }
    let count = psql(&db.super_url, "SELECT COUNT(*) FROM audit_records").expect("count");
    assert_ne!(count.last().map(String::as_str), Some("0"));
}

#[tokio::test]
async fn pg_serve_refuses_the_owner_a_bypassrls_role_and_a_superuser() {
    let cluster = require_postgres!();
    let db = cluster.fresh_database();
    let dir = DataDir::init_on(Some(&db));
    psql(
        &db.super_url,
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tollgate_sneaky') THEN \
         CREATE ROLE tollgate_sneaky LOGIN PASSWORD 'tollgate-test' IN ROLE tollgate_owner; END IF; END $$",
    )
    .expect("a member of the owner role");
    let sneaky = cluster.role_url("tollgate_sneaky", &db.name);
    for (url, why) in
        [(&db.maint_url, "bypasses row-level security"), (&db.super_url, "is a superuser"), (&sneaky, "owns")]
    {
        let (code, _, err) = system_tests::run_with_env(
            &["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir.path.display().to_string()],
            &[("TOLLGATE_DATABASE_URL", url)],
        );
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("refuses the PostgreSQL role") && err.contains(why), "{err}");
    }
}

#[tokio::test]
async fn pg_serve_refuses_an_unmigrated_database() {
    let cluster = require_postgres!();
    let db = cluster.fresh_database();
    let dir = DataDir::init_on(Some(&db));
    psql(&db.super_url, "UPDATE tollgate_schema SET version = version - 1").expect("older schema");
    let (code, _, err) = system_tests::run_with_env(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir.path.display().to_string()],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("tollgate migrate"), "{err}");
    psql(&db.super_url, "UPDATE tollgate_schema SET version = version + 2").expect("newer schema");
    let (code, _, err) = system_tests::run_with_env(
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &dir.path.display().to_string()],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("newer than this binary"), "{err}");
}
