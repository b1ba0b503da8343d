//! The data dir through the binary: init refuses an initialized dir; a
//! missing dir, a newer, pre-editions or corrupt database, or a bad config
//! refuse to start with a message that says what is wrong, and a non-zero exit.

use std::process::Command;

use system_tests::*;

fn run(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("TOLLGATE_API_KEY")
        .output()
        .expect("run");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn init_refuses_an_initialized_dir_and_keeps_the_key_private() {
    sqlite_only!("it is about the SQLite file in the data dir (pg_rls.rs covers PostgreSQL's refusals)");
    let dir = DataDir::init();
    let (code, err) = run(&["init"], &dir.path);
    assert_eq!(code, Some(1));
    assert!(err.contains("already initialized"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path.join("audit-signing.key")).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let config = std::fs::read_to_string(dir.path.join("tollgate.toml")).expect("config");
    assert!(config.contains("multi_tenant = true") && config.starts_with('#'), "a commented config");
}

/// Data dirs written before editions were apart from versions (schema
/// version 6 and older) hold tool pins that now mean something else; they
/// are refused at start, untouched, with what to do (CHANGELOG.md, 0.1.0).
#[test]
fn a_data_dir_from_before_editions_refuses_to_serve_and_is_left_untouched() {
    sqlite_only!("it is about the SQLite file in the data dir (pg_rls.rs covers PostgreSQL's refusals)");
    let old = DataDir::init();
    let conn = rusqlite::Connection::open(old.path.join("tollgate.db")).expect("open");
    conn.execute_batch("PRAGMA user_version = 6").expect("set");
    drop(conn);
    for args in [&["serve", "--listen", "127.0.0.1:0"][..], &["stdio", "--local-admin"][..]] {
        let (code, err) = run(args, &old.path);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains("schema version 6") && err.contains("tollgate init"), "{args:?}: {err}");
    }
    let conn = rusqlite::Connection::open(old.path.join("tollgate.db")).expect("open");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, 6, "the refused database was not migrated");
}

#[test]
fn a_missing_newer_or_corrupt_data_dir_refuses_to_serve() {
    sqlite_only!("it is about the SQLite file in the data dir (pg_rls.rs covers PostgreSQL's refusals)");
    let missing = std::env::temp_dir().join(format!("tollgate-missing-{}", std::process::id()));
    let (code, err) = run(&["serve", "--listen", "127.0.0.1:0"], &missing);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not exist") && err.contains("tollgate init"), "{err}");

    let newer = DataDir::init();
    let conn = rusqlite::Connection::open(newer.path.join("tollgate.db")).expect("open");
    conn.execute_batch("PRAGMA user_version = 999").expect("bump");
    drop(conn);
    let (code, err) = run(&["serve", "--listen", "127.0.0.1:0"], &newer.path);
    assert_eq!(code, Some(1));
    assert!(err.contains("newer than this binary"), "{err}");

    let corrupt = DataDir::init();
    let db = corrupt.path.join("tollgate.db");
    let mut bytes = std::fs::read(&db).expect("read");
    for b in bytes.iter_mut().skip(100) {
        *b = 0x5a;
    }
    std::fs::write(&db, bytes).expect("write");
    let _ = std::fs::remove_file(corrupt.path.join("tollgate.db-wal"));
    let (code, err) = run(&["serve", "--listen", "127.0.0.1:0"], &corrupt.path);
    assert_eq!(code, Some(1));
    assert!(
        err.to_lowercase().contains("corrupt") || err.contains("not a database") || err.contains("malformed"),
        "{err}"
    );

    let bad_config = DataDir::init();
    std::fs::write(bad_config.path.join("tollgate.toml"), "max_page_size = 0\n").expect("config");
    let (code, err) = run(&["serve", "--listen", "127.0.0.1:0"], &bad_config.path);
    assert_eq!(code, Some(1));
    assert!(err.contains("max_page_size"), "{err}");
}

#[test]
fn stdio_needs_a_credential_or_an_explicit_local_admin() {
    let dir = DataDir::init();
    let (code, err) = run(&["stdio"], &dir.path);
    assert_eq!(code, Some(2));
    assert!(err.contains("TOLLGATE_API_KEY") && err.contains("--local-admin"), "{err}");
}

#[tokio::test]
async fn health_and_readiness_answer_on_a_working_server() {
    let server = HttpServer::start(&[]);
    let get = |path: &str| system_tests::client().get(format!("{}{path}", server.base)).send();
    assert_eq!(get("/healthz").await.map(|r| r.status().as_u16()).ok(), Some(200));
    assert_eq!(get("/readyz").await.map(|r| r.status().as_u16()).ok(), Some(200));
}
