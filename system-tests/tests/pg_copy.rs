//! `tollgate store copy` (issue 14, done-when 5): a SQLite deployment with
//! tenants, keys, usage and audit records moves into PostgreSQL; the copy
//! verifies and serves the same keys; a live source and a non-empty target
//! are refused.

use serde_json::json;
use system_tests::*;

#[tokio::test]
async fn pg_a_sqlite_data_dir_moves_into_postgres_verifies_and_serves() {
    let cluster = require_postgres!();
    let dir = DataDir::init_on(None);
    let server = HttpServer::start_in(dir, &[]);
    let admin = server.endpoint();
    let boot = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    let boot = tool_output(&boot.body).expect("bootstrap");
    let key = boot["api_key"].as_str().expect("key").to_owned();
    let tenant = admin.with_key(Some(&key));
    for i in 0..3 {
        let issued = http_tool(&tenant, i, "key.issue", json!({"role": "viewer", "label": format!("k{i}")})).await;
        assert!(tool_output(&issued.body).is_some(), "{}", issued.body);
    }
    let db = cluster.fresh_database();
    let from = server.dir.path.display().to_string();
    // A running server's data dir is not copied.
    let (code, _, err) = run_with_env(&["store", "copy", "--from", &from], &[("TOLLGATE_DATABASE_URL", &db.maint_url)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is running"), "{err}");
    let (dir, _) = server.stop();
    let sqlite_records = sqlite_lines(&database(&dir.path), "SELECT COUNT(*) FROM audit_records");
    let (code, out, err) =
        run_with_env(&["store", "copy", "--from", &from], &[("TOLLGATE_DATABASE_URL", &db.maint_url)]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("chains verify on PostgreSQL"), "{out}");
    assert!(!format!("{out}{err}").contains("tollgate-test"), "no password is printed");
    let copied = pg::psql(&db.super_url, "SELECT COUNT(*) FROM audit_records").expect("count");
    assert_eq!(copied, sqlite_records, "every audit record was copied");
    // A second copy into the now non-empty database is refused and writes nothing.
    let (code, _, err) = run_with_env(&["store", "copy", "--from", &from], &[("TOLLGATE_DATABASE_URL", &db.maint_url)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not empty"), "{err}");
    // A password on the command line is refused.
    let (code, _, err) = run_with_env(&["store", "copy", "--from", &from, "--to", &db.maint_url], &[]);
    assert_eq!(code, Some(2), "{err}");
    // The copy serves: the same keys work against PostgreSQL.
    let on_pg = HttpServer::start_with_env(dir, &[], &[("TOLLGATE_DATABASE_URL", &db.app_url)]);
    let me = http_tool(&on_pg.endpoint().with_key(Some(&key)), 9, "whoami", json!({})).await;
    assert_eq!(tool_output(&me.body).expect("whoami")["role"], "tenant_admin", "{}", me.body);
    let keys = http_tool(&on_pg.endpoint().with_key(Some(&key)), 10, "key.list", json!({})).await;
    let listed = tool_output(&keys.body).expect("key.list").to_string();
    for i in 0..3 {
        assert!(listed.contains(&format!("\"k{i}\"")), "{listed}");
    }
    let (dir, _) = on_pg.stop();
    let (code, out, err) = run_with_env(
        &["audit", "verify", "--data-dir", &dir.path.display().to_string()],
        &[("TOLLGATE_DATABASE_URL", &db.maint_url)],
    );
    assert_eq!(code, Some(0), "{out}{err}");
}
