//! `tollgate backup` and `tollgate restore` (issue 18, Done-when 4).
//!
//! A backup taken while calls keep arriving restores to a data dir whose
//! chains verify and whose state is exactly the backup point: every chain is
//! the live chain cut at the manifest's head (none missing before it, none
//! after it), and the usage ledger is the live ledger cut at the same commit.
//! The signing key is absent unless asked for, and then only sealed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};
use system_tests::*;

fn arg(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `tollgate ARGS` with extra environment.
fn tollgate_env(args: &[String], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(binary());
    cmd.args(args).env_remove("TOLLGATE_DATA_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tollgate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn manifest_of(backup: &std::path::Path) -> Value {
    let out = std::process::Command::new("tar").arg("-xOf").arg(backup).arg("backup.json").output().expect("run tar");
    assert!(out.status.success(), "no backup.json in the backup");
    serde_json::from_slice(&out.stdout).expect("backup.json is JSON")
}

fn tar_names(backup: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("tar").arg("-tf").arg(backup).output().expect("run tar");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The seed line of a key file (what must never be in a backup in the clear).
fn key_seed(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("audit-signing.key")).expect("key file");
    text.lines().nth(1).expect("seed line").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_restores_to_exactly_its_point_and_verifies() {
    sqlite_only!("tollgate backup is SQLite's (PostgreSQL: pg_dump as the maintenance role)");
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let boot =
        http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme", "plan": "pro"})).await;
    let made = tool_output(&boot.body).expect("bootstrapped");
    let key = made["api_key"].as_str().expect("tenant key").to_owned();
    let tenant_id = made["tenant_id"].as_str().expect("tenant id").to_owned();
    let tenant = admin.with_key(Some(&key));

    // Load: four clients calling as fast as they can until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for c in 0..4 {
        let (to, stop, done) = (tenant.clone(), Arc::clone(&stop), Arc::clone(&done));
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let tool = if i % 3 == 0 { "key.list" } else { "whoami" };
                let answer = http_tool(&to, 1000 * c + i, tool, json!({})).await;
                assert_eq!(answer.status, 200, "{:?}", answer.body);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while done.load(Ordering::Relaxed) < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let backup = server.dir.path.with_extension("backup.tar");
    let args = vec!["backup".into(), "--data-dir".into(), arg(&server.dir.path), "--out".into(), arg(&backup)];
    let (code, out, err) = tokio::task::spawn_blocking(move || tollgate_env(&args, &[])).await.expect("backup ran");
    assert_eq!(code, Some(0), "backup under load: {out}{err}");
    let at_backup = done.load(Ordering::Relaxed);
    // Keep calling after the backup point, so "nothing after it" means something.
    while done.load(Ordering::Relaxed) < at_backup + 50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.expect("load client");
    }

    // The file: mode 0600, no signing key, not even its seed in the clear; its public key stays.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&backup).expect("backup file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "backup file mode");
    let names = tar_names(&backup);
    assert!(names.contains(&"tollgate.db".to_owned()) && names.contains(&"tollgate.toml".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("signing")), "no signing key by default: {names:?}");
    let bytes = std::fs::read(&backup).expect("read backup");
    let seed = key_seed(&server.dir.path);
    assert!(!String::from_utf8_lossy(&bytes).contains(&seed), "the key's seed is not in the backup");
    let manifest = manifest_of(&backup);
    assert_eq!(manifest["signing_key"], "left_out");
    let (pubkey, fingerprint) = audit_pubkey(&server.dir.path);
    assert_eq!(manifest["public_key"], pubkey.as_str());

    // Restore (pinned), with the server still running on the source.
    let restored = server.dir.path.with_extension("restored");
    let args = vec![
        "restore".into(),
        arg(&backup),
        "--data-dir".into(),
        arg(&restored),
        "--fingerprint".into(),
        fingerprint.clone(),
    ];
    let (code, out, err) = tollgate_env(&args, &[]);
    assert_eq!(code, Some(0), "restore: {out}{err}");
    let (code, out, err) = audit_verify(&restored, &[]);
    assert_eq!(code, Some(0), "restored chains verify: {out}{err}");
    // The old key is pinned-trusted in the restored dir (it is in its keyring).
    let (code, out, err) = audit_verify(&restored, &["--fingerprint", &fingerprint]);
    assert_eq!(code, Some(0), "the old key still verifies what it signed: {out}{err}");

    let (dir, status) = server.stop();
    assert!(status.success());
    // Every chain: the restored one is the live one cut exactly at the manifest's head.
    let live = audit_records(&dir.path);
    let back = audit_records(&restored);
    let heads = manifest["chains"].as_array().expect("chains").clone();
    assert!(heads.iter().any(|h| h["chain"] == tenant_id.as_str()), "{heads:?}");
    for head in &heads {
        let chain = head["chain"].as_str().expect("chain");
        let seq = head["seq"].as_u64().expect("seq");
        let live_chain: Vec<&Value> = live.iter().filter(|r| r["chain"] == chain).collect();
        let back_chain: Vec<&Value> = back.iter().filter(|r| r["chain"] == chain).collect();
        assert_eq!(back_chain.len() as u64, seq, "{chain}: restored has exactly the records up to the head");
        assert_eq!(back_chain[..], live_chain[..seq as usize], "{chain}: the same records, none missing");
        assert_eq!(back_chain.last().map(|r| r["hash"].clone()), Some(head["hash"].clone()), "{chain}");
        if chain == tenant_id {
            assert!(live_chain.len() as u64 > seq, "the load went on after the backup point");
        }
    }
    assert_eq!(back.len() as u64, heads.iter().filter_map(|h| h["seq"].as_u64()).sum::<u64>(), "no other chain");
    // The ledger is cut at the same commit: a prefix of the live one, each row with its audit record.
    let ledger = "SELECT id, tenant_id, counter, quantity, request_id, tool, at FROM usage_events ORDER BY id";
    let live_ledger = sqlite_lines(&database(&dir.path), ledger);
    let back_ledger = sqlite_lines(&database(&restored), ledger);
    assert!(
        !back_ledger.is_empty() && back_ledger.len() < live_ledger.len(),
        "{} vs {}",
        back_ledger.len(),
        live_ledger.len()
    );
    assert_eq!(back_ledger[..], live_ledger[..back_ledger.len()], "the restored ledger is the live one's prefix");
    let audited: std::collections::HashSet<&str> = back.iter().filter_map(|r| r["request_id"].as_str()).collect();
    for row in &back_ledger {
        let request_id = row.split('|').nth(4).unwrap_or_default();
        assert!(audited.contains(request_id), "ledger row without its audit record: {row}");
    }
    let live_audited: std::collections::HashSet<&str> = live.iter().filter_map(|r| r["request_id"].as_str()).collect();
    let missing_from_ledger = live_ledger[back_ledger.len()..]
        .iter()
        .filter_map(|row| row.split('|').nth(4))
        .filter(|id| audited.contains(id))
        .count();
    assert_eq!(missing_from_ledger, 0, "no call is half in the backup");
    assert!(live_audited.len() > audited.len());

    // The restored dir serves: the tenant's key works, under a new signing key.
    assert_ne!(audit_pubkey(&restored).1, fingerprint, "a new signing key, since the old one was left out");
    let restored_dir = DataDir { path: restored.clone(), admin_key: dir.admin_key.clone() };
    let again = HttpServer::start_in(restored_dir, &[]);
    let who = http_tool(&again.endpoint().with_key(Some(&key)), 1, "whoami", json!({})).await;
    assert_eq!(tool_output(&who.body).map(|o| o["role"].clone()), Some(json!("tenant_admin")), "{:?}", who.body);
    let (restored_dir, _) = again.stop();
    let (code, out, err) = audit_verify(&restored_dir.path, &[]);
    assert_eq!(code, Some(0), "the restored dir keeps verifying after serving: {out}{err}");
    let _ = std::fs::remove_file(&backup);
}

#[test]
fn the_signing_key_is_only_ever_in_a_backup_sealed_under_a_passphrase() {
    sqlite_only!("tollgate backup is SQLite's (PostgreSQL: pg_dump as the maintenance role)");
    let dir = DataDir::init();
    let backup = dir.path.with_extension("sealed.tar");
    let pass = [("BACKUP_PASS", "a long enough passphrase")];
    let args = |more: &[&str]| -> Vec<String> {
        let mut a = vec!["backup".into(), "--data-dir".into(), arg(&dir.path), "--out".into(), arg(&backup)];
        a.extend(more.iter().map(|s| (*s).to_owned()));
        a
    };
    // Asking without a passphrase variable is a usage error; so is a variable that is not set.
    assert_eq!(tollgate_env(&args(&["--include-signing-key"]), &[]).0, Some(2));
    assert_eq!(tollgate_env(&args(&["--include-signing-key", "--passphrase-env", "UNSET_VAR_X"]), &[]).0, Some(2));
    assert!(!backup.exists());
    let (code, out, err) = tollgate_env(&args(&["--include-signing-key", "--passphrase-env", "BACKUP_PASS"]), &pass);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(manifest_of(&backup)["signing_key"], "sealed");
    let bytes = std::fs::read(&backup).expect("read");
    assert!(!String::from_utf8_lossy(&bytes).contains(&key_seed(&dir.path)), "sealed, not in the clear");
    // A second backup to the same file is refused (never overwritten).
    assert_eq!(tollgate_env(&args(&[]), &[]).0, Some(2));

    let target = dir.path.with_extension("r");
    let restore = |env: &[(&str, &str)], more: &[&str]| {
        let mut a = vec!["restore".into(), arg(&backup), "--data-dir".into(), arg(&target)];
        a.extend(more.iter().map(|s| (*s).to_owned()));
        tollgate_env(&a, env)
    };
    assert_eq!(restore(&[], &[]).0, Some(2), "a sealed key needs its passphrase");
    let wrong = restore(&[("BACKUP_PASS", "not the passphrase")], &["--passphrase-env", "BACKUP_PASS"]);
    assert_eq!(wrong.0, Some(1), "wrong passphrase: {wrong:?}");
    assert!(wrong.2.contains("does not open"), "{wrong:?}");
    assert!(!target.exists(), "a failed restore leaves nothing behind");
    let (code, out, err) = restore(&pass, &["--passphrase-env", "BACKUP_PASS"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(key_seed(&target), key_seed(&dir.path), "the same key");
    assert_eq!(audit_pubkey(&target), audit_pubkey(&dir.path));
    use std::os::unix::fs::PermissionsExt as _;
    for f in ["audit-signing.key", "tollgate.db"] {
        let mode = std::fs::metadata(target.join(f)).expect("restored file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // A non-empty dir is refused, and so is a live one.
    let again = restore(&pass, &["--passphrase-env", "BACKUP_PASS"]);
    assert_eq!(again.0, Some(2), "{again:?}");
    assert!(again.2.contains("not empty"), "{again:?}");
    let live = HttpServer::start_in(DataDir { path: target.clone(), admin_key: dir.admin_key.clone() }, &[]);
    let mut a = vec!["restore".into(), arg(&backup), "--data-dir".into(), arg(&live.dir.path)];
    a.extend(["--passphrase-env".to_owned(), "BACKUP_PASS".to_owned()]);
    let refused = tollgate_env(&a, &pass);
    assert_eq!(refused.0, Some(2), "{refused:?}");
    assert!(refused.2.contains("running"), "{refused:?}");
    drop(live);
    let _ = std::fs::remove_file(&backup);
}

#[test]
fn an_altered_backup_is_refused_and_restores_nothing() {
    sqlite_only!("tollgate backup is SQLite's (PostgreSQL: pg_dump as the maintenance role)");
    let dir = DataDir::init();
    let backup = dir.path.with_extension("t.tar");
    let args = vec!["backup".into(), "--data-dir".into(), arg(&dir.path), "--out".into(), arg(&backup)];
    assert_eq!(tollgate_env(&args, &[]).0, Some(0));
    let mut bytes = std::fs::read(&backup).expect("read");
    // Inside the database's content (the first member starts after one 512-byte header).
    bytes[512 + 4096 + 100] ^= 0x01;
    std::fs::write(&backup, &bytes).expect("write");
    let target = dir.path.with_extension("t-restored");
    let (code, out, err) = tollgate_env(&["restore".into(), arg(&backup), "--data-dir".into(), arg(&target)], &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("differs from the manifest"), "{err}");
    assert!(!target.exists());
    // Pinning another key refuses even an intact backup.
    bytes[512 + 4096 + 100] ^= 0x01;
    std::fs::write(&backup, &bytes).expect("write");
    let pin = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let (code, _, err) = tollgate_env(
        &["restore".into(), arg(&backup), "--data-dir".into(), arg(&target), "--fingerprint".into(), pin.into()],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(!target.exists());
    let _ = std::fs::remove_file(&backup);
}
