//! Signing-key rotation through the real binary (issue 8: "key rotation keeps
//! old public keys so older packages still verify"): a package exported
//! before `tollgate audit rotate-key` still verifies with the old pin; one
//! spanning the rotation verifies with both pins and names `untrusted_key`
//! with either alone, in both verifiers; the data dir and the server's
//! `audit.verify` accept the rotated log; rotating under a server is refused.

use std::path::Path;

use serde_json::{Value, json};
use system_tests::package::*;
use system_tests::*;

async fn export_tar(to: &Endpoint, base: &str, out: &Path) -> Value {
    let r = http_tool(to, 7, "audit.export_package", json!({})).await;
    let result = tool_output(&r.body).unwrap_or_else(|| panic!("audit.export_package: {:?}", r.body));
    let (status, tar) = download(base, result["package_id"].as_str().expect("id"), to.key.as_deref()).await;
    assert_eq!(status, 200);
    std::fs::write(out, tar).expect("write tar");
    result
}

fn rotate(dir: &Path) -> (Option<i32>, String, String) {
    let args: Vec<std::ffi::OsString> = vec!["audit".into(), "rotate-key".into(), "--data-dir".into(), dir.into()];
    run_tollgate(&args)
}

/// Both verifiers accept `path` with these pin flags.
fn passes(path: &Path, pin: &[&str], case: &str) {
    for v in verify_both(path, pin, false) {
        assert_eq!(v.code, Some(0), "{case}: {} refused it:\n{}{}", v.who, v.stdout, v.stderr);
    }
}

/// Both verifiers refuse `path` with these pin flags, naming `untrusted_key`.
fn untrusted(path: &Path, pin: &[&str], case: &str) {
    for v in verify_both(path, pin, false) {
        assert_eq!(v.code, Some(1), "{case}: {} accepted it:\n{}{}", v.who, v.stdout, v.stderr);
        assert_eq!(v.problem().as_deref(), Some("untrusted_key"), "{case}: {}:\n{}{}", v.who, v.stdout, v.stderr);
    }
}

#[tokio::test]
async fn packages_verify_across_a_key_rotation_with_the_right_pins() {
    sqlite_only!("audit rotate-key relies on the data dir's SQLite file (docs/operations.md: not yet on PostgreSQL)");
    let a = activity().await;
    let scratch = Scratch::new("rotation");
    let p1 = scratch.join("p1.tar");
    export_tar(&a.acme_auditor, &a.server.base, &p1).await;
    let (old_hex, old_fp) = audit_pubkey(&a.server.dir.path);

    // Rotating while the server holds the data dir is refused and changes nothing.
    let (code, out, err) = rotate(&a.server.dir.path);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("stop it before rotating"), "{err}");
    assert_eq!(audit_pubkey(&a.server.dir.path).1, old_fp);

    // SIGKILL: the newest records are not checkpointed; rotate-key seals them with the old key.
    let acme_admin_key = a.acme_admin.key.clone();
    let acme_auditor_key = a.acme_auditor.key.clone();
    let dir = a.server.kill();
    let (code, out, err) = rotate(&dir.path);
    assert_eq!(code, Some(0), "{out}{err}");
    let (new_hex, new_fp) = audit_pubkey(&dir.path);
    assert_ne!(new_fp, old_fp);
    assert!(out.contains(&format!("old fingerprint: {old_fp}")), "{out}");
    assert!(out.contains(&format!("fingerprint: {new_fp}")) && out.contains(&new_hex), "{out}");
    let acme = a.acme.clone();
    assert!(out.contains(&format!("sealed  {acme}")) && out.contains("sealed  _system"), "{out}");
    let retired = std::fs::read_to_string(dir.path.join("audit-keyring").join(format!("{}.json", &old_fp[7..23])))
        .expect("the keyring keeps the old public key");
    assert!(retired.contains(&old_hex) && !retired.contains("signing-key"), "{retired}");

    // The data dir verifies on its own (current key + keyring) and with both pins; the new pin alone
    // does not cover the old checkpoints.
    let (code, out, err) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = audit_verify(&dir.path, &["--fingerprint", &old_fp, "--pubkey", &new_hex]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = audit_verify(&dir.path, &["--fingerprint", &new_fp]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("[untrusted_key]"), "{out}");

    // A new server signs with the new key; more calls; a package spanning both keys.
    set_clock(&a.clock, "2030-01-15T12:00:05Z");
    let clock_arg = a.clock.to_string_lossy().into_owned();
    let server = HttpServer::start_in(dir, &["--clock-file", &clock_arg]);
    let admin = server.endpoint().with_key(acme_admin_key.as_deref());
    let auditor = server.endpoint().with_key(acme_auditor_key.as_deref());
    for i in 0..7 {
        http_tool(&admin, 100 + i, "whoami", json!({})).await;
    }
    let r = http_tool(&auditor, 200, "audit.verify", json!({})).await;
    let verified = tool_output(&r.body).unwrap_or_else(|| panic!("audit.verify: {:?}", r.body));
    assert_eq!(verified["valid"], json!(true), "{verified}");
    assert!(verified["checkpoints_checked"].as_u64().unwrap_or(0) >= 3, "{verified}");
    let p2 = scratch.join("p2.tar");
    let exported = export_tar(&auditor, &server.base, &p2).await;
    assert_eq!(exported["key_fingerprint"], json!(new_fp));

    // P1 (before the rotation) still verifies with the old pin, and not with the new one.
    passes(&p1, &["--fingerprint", &old_fp], "P1, old fingerprint");
    passes(&p1, &["--pubkey", &old_hex], "P1, old pubkey");
    passes(&p1, &["--fingerprint", &old_fp, "--fingerprint", &new_fp], "P1, both pins");
    untrusted(&p1, &["--fingerprint", &new_fp], "P1, new pin only");

    // P2 spans both keys: both pins (any mix of forms) pass; either alone names untrusted_key.
    passes(&p2, &["--fingerprint", &old_fp, "--fingerprint", &new_fp], "P2, both fingerprints");
    passes(&p2, &["--pubkey", &new_hex, "--fingerprint", &old_fp], "P2, mixed pins");
    untrusted(&p2, &["--fingerprint", &new_fp], "P2, new pin only");
    untrusted(&p2, &["--pubkey", &old_hex], "P2, old pin only");

    // The manifest lists both keys; the signer is the new one.
    let tree = read_tar(&p2);
    let manifest: Value = serde_json::from_slice(&tree["manifest.json"]).expect("manifest");
    assert_eq!(manifest["format_version"], json!(2));
    assert_eq!(manifest["public_key"]["fingerprint"], json!(new_fp));
    let listed: Vec<&str> =
        manifest["public_keys"].as_array().expect("list").iter().filter_map(|k| k["fingerprint"].as_str()).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&old_fp.as_str()) && listed.contains(&new_fp.as_str()), "{listed:?}");
}

/// The files of a `.tar`, by path.
fn read_tar(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let out = std::path::PathBuf::from(format!("{}.d", path.display()));
    std::fs::create_dir_all(&out).expect("mkdir");
    let status = std::process::Command::new("tar").arg("-mxf").arg(path).arg("-C").arg(&out).status().expect("tar");
    assert!(status.success());
    read_tree(&out)
}
