//! Tampering (issue 5, done-when 4): the audit log is edited behind the
//! server's back — the append-only triggers dropped, records edited, deleted,
//! reordered, truncated, the chain re-hashed and re-signed with another key —
//! and `tollgate audit verify` must exit 1 and name the first bad record.
//!
//! Each case works on its own copy of a data dir with two tenants and signed
//! checkpoints every 5 records. Two cases pin limits of the design rather
//! than detections (see their docs): a cut of records that no checkpoint
//! covers yet, and a cut that also deletes the checkpoints, are invisible to
//! a verifier that only has the database.

use std::path::Path;

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use system_tests::{DataDir, HttpServer, StdioServer, audit_pubkey, audit_verify, http_tool, sqlite_only, tool_output};

const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A stopped data dir: tenants alpha and beta with audit chains long enough
/// for several checkpoints.
struct Fixture {
    dir: DataDir,
    alpha: String,
    beta: String,
    pubkey: String,
    fingerprint: String,
    /// Seq of alpha's last record.
    last: i64,
    /// Seqs alpha's checkpoints sign, ascending.
    checkpoints: Vec<i64>,
}

impl Fixture {
    /// The first and last checkpointed seqs of alpha.
    fn first_checkpoint(&self) -> i64 {
        self.checkpoints[0]
    }

    fn last_checkpoint(&self) -> i64 {
        *self.checkpoints.last().expect("checkpoints")
    }

    /// A copy to tamper with.
    fn copy(&self) -> DataDir {
        self.dir.copy()
    }
}

/// How the fixture's server stops.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGKILL: the tail after the last count-based checkpoint stays unsigned.
    Kill,
    /// SIGTERM: the shutdown checkpoint signs every chain's last record.
    Clean,
}

async fn fixture(stop: Stop) -> Fixture {
    let dir = DataDir::init();
    // A checkpoint every 5 records of a chain; none by time during the test.
    std::fs::write(dir.path.join("tollgate.toml"), "checkpoint_every = 5\ncheckpoint_interval_secs = 3600\n")
        .expect("write tollgate.toml");
    let server = HttpServer::start_in(dir, &[]);
    let admin = server.endpoint();
    let mut tenants = Vec::new();
    for slug in ["alpha", "beta"] {
        let r = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
        let out = tool_output(&r.body).unwrap_or_else(|| panic!("bootstrap {slug}: {:?}", r.body));
        tenants.push((
            out["tenant_id"].as_str().expect("id").to_owned(),
            out["api_key"].as_str().expect("key").to_owned(),
        ));
    }
    let [(alpha, alpha_key), (beta, beta_key)] = [tenants[0].clone(), tenants[1].clone()];
    // One call at a time, so that each commit is its own batch and the
    // checkpoints fall on multiples of 5. Allowed calls, tool failures and
    // denials (tenant_mismatch) all leave records.
    for (tenant_key, other, calls) in [(&alpha_key, &beta, 13), (&beta_key, &alpha, 7)] {
        let to = admin.with_key(Some(tenant_key));
        for i in 0..calls {
            let (tool, args) = match i % 4 {
                0 => ("key.issue", json!({"role": "viewer", "label": format!("k{i}")})),
                1 => ("whoami", json!({})),
                2 => ("audit.verify", json!({"tenant_id": other})),
                _ => ("key.revoke", json!({"key_id": "k0000000000000000"})),
            };
            let r = http_tool(&to, 10 + i, tool, args).await;
            assert_eq!(r.status / 100, if i % 4 == 2 { 4 } else { 2 }, "{tool}: {:?}", r.body);
        }
    }
    let dir = match stop {
        Stop::Kill => server.kill(),
        Stop::Clean => {
            let (dir, status) = server.stop();
            assert!(status.success(), "tollgate serve did not exit cleanly on SIGTERM: {status:?}");
            dir
        }
    };
    let conn = open(&dir.path);
    let last: i64 = conn
        .query_row("SELECT MAX(seq) FROM audit_records WHERE chain = ?1", [&alpha], |r| r.get(0))
        .expect("alpha's last seq");
    let mut stmt = conn.prepare("SELECT DISTINCT seq FROM checkpoints WHERE chain = ?1 ORDER BY seq").expect("prepare");
    let checkpoints: Vec<i64> =
        stmt.query_map([&alpha], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("checkpoint seqs");
    drop(stmt);
    drop(conn);
    assert_eq!(last, 13, "alpha's chain holds one record per call");
    match stop {
        Stop::Kill => assert_eq!(checkpoints, [5, 10], "count-based checkpoints; the tail 11..13 is unsigned"),
        Stop::Clean => assert_eq!(checkpoints, [5, 10, 13], "a clean stop signs the tail"),
    }
    let (pubkey, fingerprint) = audit_pubkey(&dir.path);
    Fixture { dir, alpha, beta, pubkey, fingerprint, last, checkpoints }
}

fn open(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join("tollgate.db")).expect("open the database");
    conn.busy_timeout(std::time::Duration::from_secs(5)).expect("busy timeout");
    conn
}

/// Open a copy's database as an attacker with write access would: the
/// append-only triggers dropped.
fn tamper(dir: &Path, change: impl FnOnce(&Connection)) {
    let conn = open(dir);
    conn.execute_batch(
        "DROP TRIGGER audit_records_no_update; DROP TRIGGER audit_records_no_delete;
         DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
    )
    .expect("drop the append-only triggers");
    change(&conn);
}

fn record(conn: &Connection, chain: &str, seq: i64) -> Value {
    let text: String = conn
        .query_row("SELECT record FROM audit_records WHERE chain = ?1 AND seq = ?2", params![chain, seq], |r| r.get(0))
        .unwrap_or_else(|e| panic!("record {chain}/{seq}: {e}"));
    serde_json::from_str(&text).expect("record JSON")
}

/// Store `v` as record `seq` (canonical JSON, like the server).
fn put(conn: &Connection, chain: &str, seq: i64, v: &Value) {
    let text = serde_json_canonicalizer::to_string(v).expect("canonical JSON");
    let n = conn
        .execute(
            "UPDATE audit_records SET record = ?3, hash = ?4 WHERE chain = ?1 AND seq = ?2",
            params![chain, seq, text, v["hash"].as_str()],
        )
        .expect("update record");
    assert_eq!(n, 1, "record {chain}/{seq} exists");
}

/// `sha256:` hex over the RFC 8785 form of the record without `hash`.
fn seal(v: &mut Value) {
    let obj = v.as_object_mut().expect("object");
    obj.remove("hash");
    let text = serde_json_canonicalizer::to_string(&*obj).expect("canonical JSON");
    let hash = format!("sha256:{:x}", Sha256::digest(text.as_bytes()));
    obj.insert("hash".into(), hash.into());
}

/// Flip a record's decision (keeping its old hash).
fn flip_decision(v: &mut Value) {
    let flipped = if v["decision"] == "allow" { "deny" } else { "allow" };
    v["decision"] = json!(flipped);
}

/// Re-link and re-hash records `from..=last` of `chain`, as an attacker who
/// knows the format would after editing one of them.
fn rehash(conn: &Connection, chain: &str, from: i64, last: i64) {
    let mut prev = if from == 1 {
        GENESIS.to_owned()
    } else {
        record(conn, chain, from - 1)["hash"].as_str().expect("hash").to_owned()
    };
    for seq in from..=last {
        let mut v = record(conn, chain, seq);
        v["prev"] = json!(prev);
        seal(&mut v);
        prev = v["hash"].as_str().expect("hash").to_owned();
        put(conn, chain, seq, &v);
    }
}

fn delete_records(conn: &Connection, chain: &str, from: i64, to: i64) {
    conn.execute("DELETE FROM audit_records WHERE chain = ?1 AND seq BETWEEN ?2 AND ?3", params![chain, from, to])
        .expect("delete records");
}

/// Verify pinned to the fixture's key: exit 1, the chain reported INVALID
/// with `problem` (a phrase naming the seq) and `code`, every other chain ok.
fn assert_detected(f: &Fixture, dir: &Path, problem: &str, code: &str) {
    let (exit, out, err) = audit_verify(dir, &["--pubkey", &f.pubkey]);
    assert_eq!(exit, Some(1), "audit verify must fail:\n{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("INVALID {}: ", f.alpha)))
        .unwrap_or_else(|| panic!("no INVALID line for alpha ({}):\n{out}{err}", f.alpha));
    assert!(
        line.contains(problem) && line.ends_with(&format!("[{code}]")),
        "expected {problem:?} [{code}], got {line:?}"
    );
    assert!(err.contains(&format!("audit log is invalid: chain {}: ", f.alpha)) && err.contains(problem), "{err}");
    for ok in [&f.beta, "_system"] {
        assert!(out.lines().any(|l| l.starts_with(&format!("ok      {ok}: "))), "{ok} is untouched:\n{out}");
    }
    // The same when only the tampered chain is asked for; the others stay valid.
    let (exit, out, err) = audit_verify(dir, &["--pubkey", &f.pubkey, "--tenant", "alpha"]);
    assert_eq!(exit, Some(1), "--tenant alpha:\n{out}{err}");
    assert!(out.contains(problem), "--tenant alpha names the problem:\n{out}");
    let (exit, out, err) = audit_verify(dir, &["--pubkey", &f.pubkey, "--tenant", &f.beta]);
    assert_eq!(exit, Some(0), "--tenant beta is untouched:\n{out}{err}");
}

fn assert_valid(f: &Fixture, dir: &Path) -> String {
    let (exit, out, err) = audit_verify(dir, &["--pubkey", &f.pubkey]);
    assert_eq!(exit, Some(0), "audit verify must pass:\n{out}{err}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_untampered_log_verifies_and_the_triggers_refuse_edits() {
    sqlite_only!("it edits the SQLite file around tollgate");
    for stop in [Stop::Kill, Stop::Clean] {
        let f = fixture(stop).await;
        let out = assert_valid(&f, &f.dir.path);
        let signed = format!(
            "ok      {}: 13 records, {} checkpoints, signed through seq {}",
            f.alpha,
            f.checkpoints.len(),
            f.last_checkpoint()
        );
        assert!(out.contains(&signed), "{signed:?} in\n{out}");
        assert_eq!(out.contains("not yet checkpointed"), stop == Stop::Kill, "{out}");
        let (exit, out, err) = audit_verify(&f.dir.path, &["--fingerprint", &f.fingerprint]);
        assert_eq!(exit, Some(0), "--fingerprint:\n{out}{err}");
    }
    // Without dropping the triggers, the database itself refuses.
    let f = fixture(Stop::Kill).await;
    let copy = f.copy();
    let conn = open(&copy.path);
    for sql in [
        "UPDATE audit_records SET record = '{}' WHERE seq = 3",
        "DELETE FROM audit_records WHERE seq = 13",
        "UPDATE checkpoints SET checkpoint = '{}'",
        "DELETE FROM checkpoints",
    ] {
        let e = conn.execute(sql, []).expect_err(sql);
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_a_record_is_detected_and_the_record_named() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Kill).await;
    // A record that a checkpoint covers, and one in the unsigned tail: the
    // hash chain alone catches both.
    for seq in [3, f.last - 1] {
        let copy = f.copy();
        tamper(&copy.path, |c| {
            let mut v = record(c, &f.alpha, seq);
            flip_decision(&mut v);
            put(c, &f.alpha, seq, &v);
        });
        assert_detected(&f, &copy.path, &format!("record seq {seq} was altered"), "bad_hash");
    }
    // Re-hashing only the edited record breaks the link of the next one.
    let copy = f.copy();
    tamper(&copy.path, |c| {
        let mut v = record(c, &f.alpha, 3);
        flip_decision(&mut v);
        seal(&mut v);
        put(c, &f.alpha, 3, &v);
    });
    assert_detected(&f, &copy.path, "record seq 4 does not link to record 3", "broken_link");
    // A record that is no longer a record at all (a corrupt input is invalid).
    let copy = f.copy();
    tamper(&copy.path, |c| {
        c.execute("UPDATE audit_records SET record = '{\"seq\": 3' WHERE chain = ?1 AND seq = 3", [&f.alpha])
            .expect("corrupt");
    });
    assert_detected(&f, &copy.path, "line 3 is malformed", "malformed");
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_and_rehashing_the_rest_of_the_chain_is_caught_by_the_signed_checkpoint() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Kill).await;
    let copy = f.copy();
    tamper(&copy.path, |c| {
        let mut v = record(c, &f.alpha, 3);
        flip_decision(&mut v);
        put(c, &f.alpha, 3, &v);
        rehash(c, &f.alpha, 3, f.last);
    });
    // The chain is internally consistent again; only the signature can tell.
    // The verifier names the first signed seq at or after the edit: it
    // cannot know which of records 1..=5 was changed.
    let cp = f.first_checkpoint();
    assert_detected(
        &f,
        &copy.path,
        &format!("the signed checkpoint at seq {cp} does not match record {cp}"),
        "checkpoint_mismatch",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_record_in_the_middle_is_detected() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Kill).await;
    let copy = f.copy();
    tamper(&copy.path, |c| delete_records(c, &f.alpha, 6, 6));
    assert_detected(&f, &copy.path, "expected record seq 6 but found seq 7", "seq_gap");
}

#[tokio::test(flavor = "multi_thread")]
async fn reordering_records_is_detected() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Kill).await;
    // Swap the stored contents of records 6 and 7.
    let copy = f.copy();
    tamper(&copy.path, |c| {
        let (six, seven) = (record(c, &f.alpha, 6), record(c, &f.alpha, 7));
        put(c, &f.alpha, 6, &seven);
        put(c, &f.alpha, 7, &six);
    });
    assert_detected(&f, &copy.path, "expected record seq 6 but found seq 7", "seq_gap");
    // Swap them and renumber, so that seqs look gapless.
    let copy = f.copy();
    tamper(&copy.path, |c| {
        let (mut six, mut seven) = (record(c, &f.alpha, 6), record(c, &f.alpha, 7));
        six["seq"] = json!(7);
        seven["seq"] = json!(6);
        put(c, &f.alpha, 6, &seven);
        put(c, &f.alpha, 7, &six);
    });
    assert_detected(&f, &copy.path, "record seq 6 does not link to record 5", "broken_link");
}

#[tokio::test(flavor = "multi_thread")]
async fn truncating_below_the_last_checkpoint_is_detected() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Kill).await;
    let last_cp = f.last_checkpoint();
    // Deep into the signed part, and exactly from the last signed record on.
    for from in [8, last_cp] {
        let copy = f.copy();
        tamper(&copy.path, |c| delete_records(c, &f.alpha, from, f.last));
        let problem = format!(
            "a signed checkpoint covers seq {last_cp} but the chain ends at seq {}: records {from} to {last_cp} were cut off",
            from - 1
        );
        assert_detected(&f, &copy.path, &problem, "truncated");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn truncating_after_the_last_checkpoint_is_detected_once_a_clean_stop_signed_the_tail() {
    sqlite_only!("it edits the SQLite file around tollgate");
    // A clean stop signs every chain through its last record, so any later
    // cut of the tail goes below a signed seq.
    let f = fixture(Stop::Clean).await;
    assert_eq!(f.last_checkpoint(), f.last);
    for from in [f.last, f.last - 2] {
        let copy = f.copy();
        tamper(&copy.path, |c| delete_records(c, &f.alpha, from, f.last));
        let problem = format!(
            "a signed checkpoint covers seq {} but the chain ends at seq {}: records {from} to {} were cut off",
            f.last,
            from - 1,
            f.last
        );
        assert_detected(&f, &copy.path, &problem, "truncated");
    }
}

/// A limit of the design, not a detection: records that no checkpoint covers
/// yet (written after the last count- or time-based checkpoint of a server
/// that then died) can be cut off without trace, as DESIGN.md says ("without
/// them a cut-off tail cannot be detected"). What the verifier does do is say,
/// before the cut, that the tail is unsigned.
#[tokio::test(flavor = "multi_thread")]
async fn cutting_the_unsigned_tail_after_the_last_checkpoint_is_not_detectable() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Kill).await;
    let last_cp = f.last_checkpoint();
    assert!(last_cp < f.last, "the fixture has an unsigned tail");
    let before = assert_valid(&f, &f.dir.path);
    assert!(
        before.contains(&format!(
            "ok      {}: 13 records, 2 checkpoints, signed through seq {last_cp} (newer records not yet checkpointed)",
            f.alpha
        )),
        "the verifier reports the unsigned tail:\n{before}"
    );
    let copy = f.copy();
    tamper(&copy.path, |c| delete_records(c, &f.alpha, last_cp + 1, f.last));
    let after = assert_valid(&f, &copy.path);
    assert!(
        after.contains(&format!(
            "ok      {}: {last_cp} records, 2 checkpoints, signed through seq {last_cp}\n",
            f.alpha
        )),
        "the cut tail leaves a chain that looks complete:\n{after}"
    );
}

/// A limit of the design, not a detection: an attacker who can delete
/// records can delete the checkpoints stored next to them too, and cut the
/// chain back to an older checkpoint. Only checkpoints kept elsewhere (an
/// exported package, a copy of the last `audit.verify`) can catch that.
#[tokio::test(flavor = "multi_thread")]
async fn cutting_records_together_with_their_checkpoints_is_not_detectable_from_the_database_alone() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Clean).await;
    let keep = f.first_checkpoint();
    let copy = f.copy();
    tamper(&copy.path, |c| {
        delete_records(c, &f.alpha, keep + 1, f.last);
        c.execute("DELETE FROM checkpoints WHERE chain = ?1 AND seq > ?2", params![f.alpha, keep]).expect("delete");
    });
    let out = assert_valid(&f, &copy.path);
    assert!(
        out.contains(&format!("ok      {}: {keep} records, 1 checkpoint, signed through seq {keep}\n", f.alpha)),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_re_signed_with_another_key_fails_against_the_pinned_key() {
    sqlite_only!("it edits the SQLite file around tollgate");
    let f = fixture(Stop::Clean).await;
    let copy = f.copy();
    // The forgery: flip a decision, re-hash the rest of the chain, throw away
    // every checkpoint, and put another Ed25519 key in the data dir ...
    tamper(&copy.path, |c| {
        let mut v = record(c, &f.alpha, 3);
        flip_decision(&mut v);
        put(c, &f.alpha, 3, &v);
        rehash(c, &f.alpha, 3, f.last);
        c.execute("DELETE FROM checkpoints", []).expect("delete checkpoints");
    });
    let other = DataDir::init();
    std::fs::copy(other.path.join("audit-signing.key"), copy.path.join("audit-signing.key")).expect("swap the key");
    let (forged_pubkey, _) = audit_pubkey(&copy.path);
    assert_ne!(forged_pubkey, f.pubkey);
    // ... and let tollgate itself sign every chain with it: a server that
    // starts on chains without checkpoints signs them at its clean stop.
    let stdio = StdioServer::start_with(&copy.path, Some(&f.dir.admin_key), &[]);
    assert!(stdio.finish().success(), "stdio server on the forged copy exits cleanly");
    let original = record(&open(&f.dir.path), &f.alpha, 3)["decision"].clone();
    assert_ne!(record(&open(&copy.path), &f.alpha, 3)["decision"], original, "the forged record is in place");

    // Trusting whatever key the data dir holds, the forgery passes ...
    let (exit, out, err) = audit_verify(&copy.path, &[]);
    assert_eq!(exit, Some(0), "unpinned, the re-signed log verifies:\n{out}{err}");
    assert!(out.contains(&format!("ok      {}: 13 records, 1 checkpoint, signed through seq 13", f.alpha)), "{out}");
    // ... pinned to the original key (as `tollgate audit pubkey` printed it), it fails.
    let (exit, out, err) = audit_verify(&copy.path, &["--pubkey", &f.pubkey]);
    assert_eq!(exit, Some(1), "--pubkey <original> must fail:\n{out}{err}");
    assert!(out.contains(&format!("INVALID {}: ", f.alpha)) && out.contains("[untrusted_key]"), "{out}");
    assert!(out.lines().filter(|l| l.starts_with("INVALID ")).count() >= 3, "every re-signed chain fails:\n{out}");
    let (exit, out, err) = audit_verify(&copy.path, &["--fingerprint", &f.fingerprint]);
    assert_eq!(exit, Some(1), "--fingerprint <original> must fail:\n{out}{err}");
    assert!(err.contains("the key was replaced"), "{err}");
}
