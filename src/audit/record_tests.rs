//! Unit tests of record sealing, the fixed JSON form and strict parsing.

use super::*;
use crate::audit::testing::sample_draft;
use serde_json::json;

fn sealed() -> AuditRecord {
    AuditRecord::seal("t_acme", 1, GENESIS, sample_draft(7)).unwrap()
}

#[test]
fn genesis_is_sha256_prefix_and_64_zeros() {
    assert_eq!(GENESIS, format!("sha256:{}", "0".repeat(64)));
}

#[test]
fn digest_matches_known_sha256_vectors() {
    assert_eq!(digest(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(digest(b"abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[test]
fn digest_json_ignores_key_order_and_accepts_caller_floats() {
    let a = digest_json(&json!({"b": 1, "a": [true, null]})).unwrap();
    assert_eq!(a, digest(br#"{"a":[true,null],"b":1}"#));
    assert_eq!(a, digest_json(&json!({"a": [true, null], "b": 1})).unwrap());
    assert_eq!(digest_json(&json!({"x": 0.5})).unwrap(), digest(br#"{"x":0.5}"#));
}

#[test]
fn seal_hashes_the_canonical_record_without_hash() {
    let r = sealed();
    // Written out by hand, independent of to_json, in RFC 8785 key order.
    let canonical = format!(
        r#"{{"args_digest":"{a}","chain":"t_acme","decision":"allow","prev":"{g}","principal":"k_0123456789abcdef","reason":null,"request_id":"req-7","result_digest":"{r}","seq":1,"tenant":"t_acme","tool":"whoami","transport":"stdio","ts":"2026-11-24T22:00:07Z","usage":{{"tool_calls":1}},"version":1}}"#,
        a = digest(b"{}"),
        g = GENESIS,
        r = digest(b"result-7"),
    );
    assert_eq!(r.hash, digest(canonical.as_bytes()));
    assert_eq!(r.expected_hash().unwrap(), r.hash);
}

#[test]
fn json_has_the_fixed_field_set_with_nulls_for_absent_options() {
    let mut draft = sample_draft(1);
    draft.tool = None;
    draft.version = None;
    let v = AuditRecord::seal("t_acme", 1, GENESIS, draft).unwrap().to_json();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "chain",
            "seq",
            "ts",
            "request_id",
            "principal",
            "tenant",
            "tool",
            "version",
            "decision",
            "reason",
            "args_digest",
            "result_digest",
            "usage",
            "transport",
            "prev",
            "hash"
        ]
    );
    assert_eq!(v["tool"], Value::Null);
    assert_eq!(v["version"], Value::Null);
    assert_eq!(v["reason"], Value::Null);
}

#[test]
fn aggregated_records_add_count_and_window() {
    let mut draft = sample_draft(1);
    draft.decision = Decision::Deny;
    draft.reason = Some("rate_limited".into());
    draft.aggregate = Some(Aggregate {
        count: 42,
        window_start: "2026-11-24T22:00:00Z".into(),
        window_end: "2026-11-24T22:01:00.500Z".into(),
    });
    let r = AuditRecord::seal("_system", 3, &digest(b"x"), draft).unwrap();
    let v = r.to_json();
    assert_eq!(v["count"], json!(42));
    assert_eq!(v["window_end"], json!("2026-11-24T22:01:00.500Z"));
    assert_eq!(v.as_object().unwrap().len(), 19);
    assert_eq!(AuditRecord::from_json(&v).unwrap(), r);
}

#[test]
fn json_round_trips_through_text() {
    let r = sealed();
    let text = serde_json::to_string(&r).unwrap();
    let back: AuditRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    assert_eq!(AuditRecord::from_json(&r.to_json()).unwrap(), r);
}

/// `edit` applied to a valid record's JSON must make `from_json` refuse it.
fn assert_refused(what: &str, edit: impl FnOnce(&mut Map<String, Value>)) {
    let mut v = sealed().to_json();
    edit(v.as_object_mut().unwrap());
    assert!(AuditRecord::from_json(&v).is_err(), "accepted: {what}");
}

#[test]
fn strict_parsing_refuses_bad_shapes() {
    assert_refused("unknown field", |m| {
        m.insert("note".into(), json!("hi"));
    });
    assert_refused("missing nullable field", |m| {
        m.remove("reason");
    });
    assert_refused("missing hash", |m| {
        m.remove("hash");
    });
    assert_refused("null count", |m| {
        m.insert("count".into(), Value::Null);
    });
    assert_refused("partial aggregate", |m| {
        m.insert("count".into(), json!(3));
    });
    assert_refused("float seq", |m| {
        m.insert("seq".into(), json!(1.0));
    });
    assert_refused("seq 0", |m| {
        m.insert("seq".into(), json!(0));
    });
    assert_refused("capitalised decision", |m| {
        m.insert("decision".into(), json!("Allow"));
    });
    assert_refused("offset timestamp", |m| {
        m.insert("ts".into(), json!("2026-11-24T23:00:07+01:00"));
    });
    assert_refused("uppercase digest", |m| {
        let upper = m["hash"].as_str().unwrap().to_uppercase();
        m.insert("hash".into(), json!(upper));
    });
    assert_refused("float usage", |m| {
        m.insert("usage".into(), json!({"tool_calls": 1.5}));
    });
    assert_refused("negative usage", |m| {
        m.insert("usage".into(), json!({"tool_calls": -1}));
    });
    assert_refused("string version", |m| {
        m.insert("version".into(), json!("1"));
    });
}

#[test]
fn duplicate_keys_in_text_are_refused() {
    let text = serde_json::to_string(&sealed()).unwrap();
    let doubled = text.replacen("\"tenant\":\"t_acme\"", "\"tenant\":\"t_acme\",\"tenant\":\"t_evil\"", 1);
    assert_ne!(doubled, text);
    assert!(serde_json::from_str::<AuditRecord>(&doubled).is_err());
}

/// The field a draft edit breaks, and the edit.
type DraftEdit = (&'static str, Box<dyn Fn(&mut RecordDraft)>);

#[test]
fn seal_refuses_ill_formed_drafts() {
    let bad: Vec<DraftEdit> = vec![
        ("ts", Box::new(|d| d.ts = "2026-11-24".into())),
        ("principal", Box::new(|d| d.principal.clear())),
        ("args_digest", Box::new(|d| d.args_digest = Some("md5:00".into()))),
        (
            "usage",
            Box::new(|d| {
                d.usage.insert("Tool Calls".into(), json!(1));
            }),
        ),
        (
            "usage",
            Box::new(|d| {
                d.usage.insert("tool_calls".into(), json!(u64::MAX));
            }),
        ),
        (
            "count",
            Box::new(|d| {
                d.aggregate = Some(Aggregate {
                    count: 0,
                    window_start: "2026-11-24T22:00:00Z".into(),
                    window_end: "2026-11-24T22:00:00Z".into(),
                });
            }),
        ),
        (
            "window_end",
            Box::new(|d| {
                d.aggregate = Some(Aggregate {
                    count: 1,
                    window_start: "2026-11-24T22:00:01Z".into(),
                    window_end: "2026-11-24T22:00:00Z".into(),
                });
            }),
        ),
    ];
    for (field, edit) in bad {
        let mut draft = sample_draft(1);
        edit(&mut draft);
        let err = AuditRecord::seal("t_acme", 1, GENESIS, draft).unwrap_err();
        assert!(matches!(&err, AuditError::InvalidField { field: f, .. } if *f == field), "{field}: {err}");
    }
    assert!(AuditRecord::seal("t_acme", 0, GENESIS, sample_draft(1)).is_err());
    assert!(AuditRecord::seal("t_acme", 1, "genesis", sample_draft(1)).is_err());
    assert!(AuditRecord::seal("", 1, GENESIS, sample_draft(1)).is_err());
}

#[test]
fn any_field_change_changes_the_hash() {
    let base = sealed();
    let mut other = base.clone();
    other.reason = Some(String::new());
    assert_ne!(other.expected_hash().unwrap(), base.hash);
    let mut other = base.clone();
    other.usage.insert("tool_calls".into(), json!(2));
    assert_ne!(other.expected_hash().unwrap(), base.hash);
    assert_eq!(base.draft(), sample_draft(7));
}
