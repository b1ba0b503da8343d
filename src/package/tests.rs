//! Unit tests of the package: build from a real store, rebuild identical,
//! verify, and refuse tampering and foreign keys.

use serde_json::Map;

use super::*;
use crate::audit::{Decision, RecordDraft, SigningKey};
use crate::clock::Clock;
use crate::store::datadir::{DataDir, init};
use crate::store::{Store, StoreOptions, audit_log, tenants};

const TENANT: &str = "tn_0123456789abcdef";

fn draft(i: u64) -> RecordDraft {
    RecordDraft {
        ts: format!("2030-01-15T12:00:{:02}Z", i % 60),
        request_id: format!("req-{i}"),
        principal: "k_test".into(),
        tenant: TENANT.into(),
        tool: Some(if i.is_multiple_of(3) { "key.issue" } else { "whoami" }.into()),
        version: Some(1),
        decision: if i.is_multiple_of(4) { Decision::Deny } else { Decision::Allow },
        reason: (i.is_multiple_of(4)).then(|| "tenant_mismatch".into()),
        args_digest: None,
        result_digest: None,
        usage: Map::new(),
        transport: "http".into(),
        aggregate: None,
    }
}

/// A data dir with tenant TENANT and `n` records; checkpoints every 4.
fn store(name: &str, n: u64) -> (std::path::PathBuf, std::sync::Arc<Store>, SigningKey) {
    let dir = std::env::temp_dir().join(format!("tollgate-pkg-unit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    init(&dir, Clock::system()).unwrap();
    let options = StoreOptions { checkpoint_every: 4, ..StoreOptions::default() };
    let store = Store::open(&dir, Clock::system(), options).unwrap();
    store
        .write_blocking(|w| {
            let row = tenants::TenantRow {
                id: TENANT.into(),
                slug: "acme".into(),
                display_name: "Acme".into(),
                plan: "pro".into(),
                status: "active".into(),
                created_at: "2030-01-15T11:00:00Z".into(),
            };
            tenants::insert(w.conn, &row).map(|_| ())
        })
        .unwrap();
    for i in 1..=n {
        store.write_blocking(move |w| audit_log::append(w, TENANT, draft(i)).map(|_| ())).unwrap();
    }
    let key = SigningKey::load(&DataDir::new(&dir).signing_key()).unwrap();
    (dir, store, key)
}

fn build(store: &Store, key: &SigningKey, range: ExportRange) -> build::Built {
    store.read(|c| Ok(build_package(c, TENANT, range, key, &[]))).unwrap().unwrap()
}

#[test]
fn a_rebuilt_range_is_byte_identical_and_verifies_against_the_pinned_key_only() {
    let (dir, store, key) = store("rebuild", 10);
    let range = ExportRange { from_seq: None, to_seq: Some(9) };
    let first = build(&store, &key, range);
    store.write_blocking(|w| audit_log::append(w, TENANT, draft(11)).map(|_| ())).unwrap();
    let second = build(&store, &key, range);
    assert_eq!(first.tree, second.tree);
    assert_eq!(first.tar, second.tar);
    assert_eq!(tree::from_tar(&first.tar).unwrap(), first.tree);

    let pinned = Trust::public_key(key.public_key());
    let report = verify_tree(&first.tree, &pinned).unwrap();
    assert_eq!(
        (report.range, report.records, report.checkpoints),
        ((1, 9), 9, 3),
        "checkpoints at 4, 8 and the export's 9"
    );
    let other = SigningKey::from_seed([7; 32]).public_key();
    let err = verify_tree(&first.tree, &Trust::public_key(other)).unwrap_err();
    assert_eq!(err.code(), "untrusted_key");
    assert!(verify_tree(&first.tree, &Trust::fingerprint(key.public_key().fingerprint())).is_ok());
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_range_that_does_not_start_at_one_links_to_the_signed_prev_and_is_tamper_evident() {
    let (dir, store, key) = store("range", 12);
    let built = build(&store, &key, ExportRange { from_seq: Some(5), to_seq: Some(10) });
    let trust = Trust::public_key(key.public_key());
    let report = verify_tree(&built.tree, &trust).unwrap();
    assert_eq!((report.range, report.records), ((5, 10), 6));

    let mut tampered = built.tree.clone();
    let records = String::from_utf8(tampered[paths::RECORDS].clone()).unwrap().replacen("req-6", "req-X", 1);
    tampered.insert(paths::RECORDS.into(), records.into_bytes());
    let err = verify_tree(&tampered, &trust).unwrap_err();
    assert_eq!(err.code(), "bad_hash", "{err}");
    assert!(err.to_string().contains("seq 6"), "{err}");

    let mut missing = built.tree.clone();
    missing.remove(paths::MANIFEST);
    assert_eq!(verify_tree(&missing, &trust).unwrap_err().code(), "manifest_missing");

    for bad in [ExportRange { from_seq: Some(0), to_seq: None }, ExportRange { from_seq: Some(3), to_seq: Some(99) }] {
        let e = store.read(|c| Ok(build_package(c, TENANT, bad, &key, &[]))).unwrap().unwrap_err();
        assert!(matches!(e, BuildError::BadRange(_)), "{e}");
    }
    let e = store.read(|c| Ok(build_package(c, "tn_nobody", ExportRange::default(), &key, &[]))).unwrap().unwrap_err();
    assert!(matches!(e, BuildError::NoSuchTenant), "{e}");
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn keys_json_holds_no_secret_material() {
    let (dir, store, key) = store("secrets", 3);
    let built = build(&store, &key, ExportRange::default());
    let keys = String::from_utf8(built.tree[paths::KEYS].clone()).unwrap();
    assert!(!keys.contains("digest") && !keys.contains("secret"), "{keys}");
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_package_spanning_a_rotation_lists_both_keys_and_needs_both_pins() {
    // Records 1-8 are checkpointed (at 4 and 8) by the data dir's key `old`;
    // the export is then signed by `new`, with `old` retired.
    let (dir, store, old) = store("rotation", 10);
    let new = SigningKey::from_seed([9; 32]);
    let (old_pk, new_pk) = (old.public_key(), new.public_key());
    let built = store.read(|c| Ok(build_package(c, TENANT, ExportRange::default(), &new, &[old_pk]))).unwrap().unwrap();
    let listed: Vec<String> = built.manifest.public_keys.clone().unwrap().into_iter().map(|k| k.key_id).collect();
    let mut expected = vec![old_pk.key_id(), new_pk.key_id()];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(built.manifest.public_key.key_id, new_pk.key_id());
    assert_eq!(built.manifest.format_version, 2);

    let both = Trust::Pinned { keys: vec![new_pk], fingerprints: vec![old_pk.fingerprint()] };
    assert_eq!(verify_tree(&built.tree, &both).unwrap().checkpoints, 3);
    let only_new = verify_tree(&built.tree, &Trust::public_key(new_pk)).unwrap_err();
    assert_eq!(only_new.code(), "untrusted_key", "{only_new}");
    assert!(only_new.to_string().contains(&old_pk.key_id()), "{only_new}");
    let only_old = verify_tree(&built.tree, &Trust::fingerprint(old_pk.fingerprint())).unwrap_err();
    assert_eq!(only_old.code(), "untrusted_key", "{only_old}");
    assert!(verify_tree(&built.tree, &Trust::Embedded).is_ok());

    // A retired key that signed nothing in the range is not listed.
    let unused = SigningKey::from_seed([8; 32]).public_key();
    let b2 = store.read(|c| Ok(build_package(c, TENANT, ExportRange::default(), &new, &[old_pk, unused]))).unwrap();
    assert_eq!(b2.unwrap().manifest.public_keys.unwrap().len(), 2);
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn format_1_manifests_still_verify_and_public_keys_must_describe_themselves() {
    let (dir, store, key) = store("format1", 6);
    let built = build(&store, &key, ExportRange::default());
    let trust = Trust::public_key(key.public_key());
    let resigned = |edit: &dyn Fn(&mut Manifest)| {
        let mut m = built.manifest.clone();
        edit(&mut m);
        m.sign(&key).unwrap();
        let mut tree = built.tree.clone();
        tree.insert(paths::MANIFEST.into(), m.to_bytes().unwrap());
        tree
    };
    // A format-1 package (built before rotation existed) has no public_keys.
    let v1 = resigned(&|m| {
        m.format_version = 1;
        m.public_keys = None;
    });
    assert!(!String::from_utf8(v1[paths::MANIFEST].clone()).unwrap().contains("public_keys"));
    assert!(verify_tree(&v1, &trust).is_ok());
    let v1_with_list = resigned(&|m| m.format_version = 1);
    assert_eq!(verify_tree(&v1_with_list, &trust).unwrap_err().code(), "manifest_malformed");
    let v2_without = resigned(&|m| m.public_keys = None);
    assert_eq!(verify_tree(&v2_without, &trust).unwrap_err().code(), "manifest_malformed");
    let lying = resigned(&|m| {
        if let Some(k) = m.public_keys.as_mut().and_then(|l| l.first_mut()) {
            k.key_id = "0000000000000000".into();
        }
    });
    assert_eq!(verify_tree(&lying, &trust).unwrap_err().code(), "manifest_malformed");
    let v3 = resigned(&|m| m.format_version = 3);
    assert_eq!(verify_tree(&v3, &trust).unwrap_err().code(), "manifest_malformed");
    store.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}
