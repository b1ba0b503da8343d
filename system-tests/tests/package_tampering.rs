//! The tamper matrix (issue 8, done-when 2): one exported package, edited in
//! each way an attacker might, must be refused by BOTH verifiers —
//! `tollgate audit verify PATH` and examples/verify_package.py — each naming
//! the same stable problem code; the untouched package passes both.

use std::path::{Path, PathBuf};

use system_tests::package::*;
use system_tests::*;

/// A stopped data dir and a package exported from it offline.
struct Fixture {
    dir: DataDir,
    scratch: Scratch,
    package: PathBuf,
    fingerprint: String,
    acme: String,
}

async fn fixture() -> Fixture {
    let a = activity().await;
    let acme = a.acme.clone();
    let dir = a.server.kill();
    let scratch = Scratch::new("tamper");
    let package = scratch.join("package");
    let (code, out, err) = export_offline(&dir.path, &acme, &package, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, fingerprint) = audit_pubkey(&dir.path);
    Fixture { dir, scratch, package, fingerprint, acme }
}

/// A copy of the package directory to tamper with.
fn copy_of(f: &Fixture, name: &str) -> PathBuf {
    let target = f.scratch.join(name);
    for (rel, bytes) in read_tree(&f.package) {
        let path = target.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    target
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

const RECORDS: &str = "audit/records.jsonl";
const CHECKPOINTS: &str = "evidence/checkpoints.jsonl";

fn expect_detected(f: &Fixture, path: &Path, case: &str, code: &str, mention: &str, pure: bool) {
    for v in verify_both(path, &["--fingerprint", &f.fingerprint], pure) {
        assert_eq!(v.code, Some(1), "{case}: {} accepted it:\n{}{}", v.who, v.stdout, v.stderr);
        assert_eq!(
            v.problem().as_deref(),
            Some(code),
            "{case}: {} named another problem:\n{}{}",
            v.who,
            v.stdout,
            v.stderr
        );
        assert!(v.stdout.contains(mention), "{case}: {} does not mention {mention:?}:\n{}", v.who, v.stdout);
    }
}

#[tokio::test]
async fn every_tampering_is_detected_by_both_verifiers_and_an_untouched_package_passes() {
    let f = fixture().await;
    for (path, pure) in [(f.package.clone(), true), (f.scratch.join("package.tar"), false)] {
        for v in verify_both(&path, &["--fingerprint", &f.fingerprint], pure) {
            assert_eq!(v.code, Some(0), "untouched {}: {}: {}{}", path.display(), v.who, v.stdout, v.stderr);
        }
    }
    // A range that does not start at seq 1 verifies too (its first link is signed in the manifest).
    let part = f.scratch.join("part");
    let (code, out, err) = export_offline(&f.dir.path, &f.acme, &part, &["--from-seq", "3", "--to-seq", "9"]);
    assert_eq!(code, Some(0), "{out}{err}");
    for v in verify_both(&part, &["--fingerprint", &f.fingerprint], true) {
        assert_eq!(v.code, Some(0), "range 3-9: {}: {}{}", v.who, v.stdout, v.stderr);
        assert!(v.stdout.contains("records 3 to 9"), "{}: {}", v.who, v.stdout);
    }
    let records = lines(&f.package.join(RECORDS));
    let checkpoints = lines(&f.package.join(CHECKPOINTS));
    let n = records.len();
    assert!(n >= 11 && checkpoints.len() >= 3, "{n} records, {} checkpoints", checkpoints.len());
    let signed: Vec<u64> = checkpoints
        .iter()
        .map(|c| serde_json::from_str::<serde_json::Value>(c).unwrap()["seq"].as_u64().unwrap())
        .collect();
    let last_stored = signed[signed.len() - 2] as usize;
    assert!(last_stored < n, "a stored checkpoint lies before the export checkpoint: {signed:?}");

    // One byte of record 3 (inside its request id).
    let p = copy_of(&f, "byte");
    let mut r = records.clone();
    let at = r[2].find("\"request_id\":\"").unwrap() + 14;
    let flipped = if &r[2][at..=at] == "0" { "1" } else { "0" };
    r[2].replace_range(at..=at, flipped);
    write_lines(&p.join(RECORDS), &r);
    expect_detected(&f, &p, "one byte of a record", "bad_hash", "seq 3", true);

    // A record deleted.
    let p = copy_of(&f, "delete");
    let mut r = records.clone();
    r.remove(3);
    write_lines(&p.join(RECORDS), &r);
    expect_detected(&f, &p, "a deleted record", "seq_gap", "seq 4", false);

    // Two records swapped.
    let p = copy_of(&f, "reorder");
    let mut r = records.clone();
    r.swap(3, 4);
    write_lines(&p.join(RECORDS), &r);
    expect_detected(&f, &p, "two records reordered", "seq_gap", "seq 4", true);

    // The tail cut after the last stored checkpoint (the export checkpoint still covers it).
    let p = copy_of(&f, "cut-after");
    write_lines(&p.join(RECORDS), &records[..last_stored]);
    expect_detected(&f, &p, "tail cut after the last stored checkpoint", "truncated", &format!("seq {n}"), false);

    // The tail cut before it.
    let p = copy_of(&f, "cut-before");
    write_lines(&p.join(RECORDS), &records[..last_stored - 2]);
    expect_detected(&f, &p, "tail cut before the last stored checkpoint", "truncated", "cut off", true);

    // A file replaced.
    let p = copy_of(&f, "replace");
    std::fs::write(p.join("exports/tenant.json"), b"{\"id\":\"someone else\"}\n").unwrap();
    expect_detected(&f, &p, "a replaced file", "file_digest_mismatch", "exports/tenant.json", false);

    // The manifest edited.
    let p = copy_of(&f, "manifest");
    let m = std::fs::read_to_string(p.join("manifest.json")).unwrap();
    std::fs::write(p.join("manifest.json"), m.replacen("\"slug\":\"acme\"", "\"slug\":\"acmf\"", 1)).unwrap();
    expect_detected(&f, &p, "the manifest edited", "bad_manifest_signature", "manifest", true);

    // The last (export) checkpoint dropped, then the first one.
    let p = copy_of(&f, "drop-last-checkpoint");
    write_lines(&p.join(CHECKPOINTS), &checkpoints[..checkpoints.len() - 1]);
    expect_detected(&f, &p, "the export checkpoint dropped", "not_covered", &format!("seq {n}"), false);
    let p = copy_of(&f, "drop-first-checkpoint");
    write_lines(&p.join(CHECKPOINTS), &checkpoints[1..]);
    expect_detected(&f, &p, "a checkpoint dropped", "range_mismatch", "checkpoints", true);

    // A file added, a file removed.
    let p = copy_of(&f, "added");
    std::fs::write(p.join("reports/extra.html"), b"<p>trust me</p>").unwrap();
    expect_detected(&f, &p, "a file added", "unlisted_file", "reports/extra.html", false);
    let p = copy_of(&f, "removed");
    std::fs::remove_file(p.join("reports/summary.html")).unwrap();
    expect_detected(&f, &p, "a file removed", "file_missing", "reports/summary.html", true);

    // A truncated archive.
    let tar = std::fs::read(f.scratch.join("package.tar")).unwrap();
    let cut = f.scratch.join("cut.tar");
    std::fs::write(&cut, &tar[..tar.len() / 3]).unwrap();
    for v in verify_both(&cut, &["--fingerprint", &f.fingerprint], false) {
        assert_eq!(v.code, Some(1), "a cut archive: {}: {}{}", v.who, v.stdout, v.stderr);
    }
}

/// Everything rewritten and re-signed with another key, which the package
/// embeds: consistent in itself, so only the pin can tell.
#[tokio::test]
async fn a_package_re_signed_with_another_key_is_refused_unless_that_key_is_trusted() {
    sqlite_only!("it edits a copy of the SQLite file");
    let f = fixture().await;
    let forger = DataDir::init();
    let copy = f.dir.copy();
    std::fs::copy(forger.path.join("audit-signing.key"), copy.path.join("audit-signing.key")).unwrap();
    // The forger also throws away the checkpoints the real key signed (they would betray the rewrite).
    let db = rusqlite::Connection::open(database(&copy.path)).unwrap();
    db.execute_batch("DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints;").unwrap();
    drop(db);
    let forged = f.scratch.join("forged");
    let (code, out, err) = export_offline(&copy.path, &f.acme, &forged, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    expect_detected(&f, &forged, "re-signed with another key", "untrusted_key", "not by the pinned", true);
    let (pubkey, _) = audit_pubkey(&f.dir.path);
    for v in verify_both(&forged, &["--pubkey", &pubkey], false) {
        assert_eq!(v.problem().as_deref(), Some("untrusted_key"), "{}: {}{}", v.who, v.stdout, v.stderr);
    }
    // Trusting whatever key is inside passes it: that is why the flag is loud.
    for v in verify_both(&forged, &["--trust-embedded-key"], true) {
        assert_eq!(v.code, Some(0), "{}: {}{}", v.who, v.stdout, v.stderr);
        assert!(v.stderr.contains("WARNING"), "{}", v.stderr);
    }
}
