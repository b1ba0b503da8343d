//! Tests of chain verification: valid chains pass, and every kind of
//! tampering is named with the right problem and the first bad seq.

use super::*;
use crate::audit::testing::{arb_draft, build_chain, sample_draft, test_key};
use crate::audit::{Aggregate, Decision, RecordDraft, SigningKey, digest};
use proptest::prelude::*;
use serde_json::json;

const CHAIN: &str = "t_acme";

/// Signs a checkpoint over record `seq` (1-based) of `records`.
fn checkpoint_at(key: &SigningKey, records: &[AuditRecord], seq: u64) -> Checkpoint {
    let r = &records[seq as usize - 1];
    Checkpoint::sign(key, CHAIN, seq, &r.hash, &r.ts).unwrap()
}

fn checkpoints_at(key: &SigningKey, records: &[AuditRecord], seqs: &[u64]) -> Vec<Checkpoint> {
    seqs.iter().map(|&s| checkpoint_at(key, records, s)).collect()
}

/// A chain of `n` sample records.
fn sample_chain(n: u64) -> Vec<AuditRecord> {
    build_chain(CHAIN, (1..=n).map(sample_draft).collect())
}

/// Changes one field (by index 0..17) of `r` to a different value and
/// returns the problem verification must then report for `seq`.
fn edit_field(r: &mut AuditRecord, field: usize, seq: u64) -> Problem {
    match field {
        0 => {
            r.chain.push('x');
            return Problem::WrongChain { seq };
        }
        1 => {
            r.seq += 1000;
            return Problem::SeqGap { expected: seq, found: seq + 1000 };
        }
        2 => r.ts = if r.ts == "2001-01-01T00:00:00Z" { "2001-01-01T00:00:01Z" } else { "2001-01-01T00:00:00Z" }.into(),
        3 => r.request_id.push('x'),
        4 => r.principal.push('x'),
        5 => r.tenant.push('x'),
        6 => r.tool = if r.tool.is_some() { None } else { Some("x".into()) },
        7 => r.version = Some(r.version.map_or(1, |v| v + 1)),
        8 => {
            r.decision = match r.decision {
                Decision::Allow => Decision::Deny,
                Decision::Deny => Decision::Allow,
            }
        }
        9 => r.reason = if r.reason.is_some() { None } else { Some("x".into()) },
        10 => r.args_digest = if r.args_digest.is_some() { None } else { Some(digest(b"x")) },
        11 => r.result_digest = if r.result_digest.is_some() { None } else { Some(digest(b"x")) },
        12 => {
            r.usage.insert("x.edited".into(), json!(1));
        }
        13 => r.transport.push('x'),
        14 => {
            r.aggregate = match r.aggregate {
                Some(_) => None,
                None => Some(Aggregate { count: 1, window_start: r.ts.clone(), window_end: r.ts.clone() }),
            }
        }
        15 => {
            r.prev = digest(r.prev.as_bytes());
            return Problem::BrokenLink { seq };
        }
        _ => r.hash = digest(r.hash.as_bytes()),
    }
    Problem::BadHash { seq }
}

/// Drafts plus a checkpoint mask (one flag per record).
fn arb_case() -> impl Strategy<Value = (Vec<RecordDraft>, Vec<bool>)> {
    prop::collection::vec(arb_draft(), 1..10).prop_flat_map(|drafts| {
        let n = drafts.len();
        (Just(drafts), prop::collection::vec(any::<bool>(), n))
    })
}

fn marked(mask: &[bool]) -> Vec<u64> {
    (1u64..).zip(mask).filter(|(_, m)| **m).map(|(s, _)| s).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_valid_chain_verifies_and_reports_coverage((drafts, mask) in arb_case()) {
        let key = test_key(1);
        let records = build_chain(CHAIN, drafts);
        let seqs = marked(&mask);
        let cps = checkpoints_at(&key, &records, &seqs);
        let report = verify_chain(CHAIN, &records, &cps, &[key.public_key()]).unwrap();
        let n = records.len() as u64;
        prop_assert_eq!(report.records, n);
        prop_assert_eq!(report.last_seq, n);
        prop_assert_eq!(&report.last_hash, &records[n as usize - 1].hash);
        prop_assert_eq!(report.checkpoints, seqs.len() as u64);
        prop_assert_eq!(report.covered_seq, seqs.last().copied().unwrap_or(0));
    }

    #[test]
    fn editing_any_field_of_any_record_is_named_at_its_seq(
        (drafts, mask) in arb_case(), pick in any::<prop::sample::Index>(), field in 0usize..17,
    ) {
        let key = test_key(1);
        let mut records = build_chain(CHAIN, drafts);
        let cps = checkpoints_at(&key, &records, &marked(&mask));
        let i = pick.index(records.len());
        let expected = edit_field(&mut records[i], field, i as u64 + 1);
        let got = verify_chain(CHAIN, &records, &cps, &[key.public_key()]);
        prop_assert_eq!(got, Err(expected));
    }

    #[test]
    fn rewriting_and_resealing_the_tail_is_caught_by_the_next_checkpoint(
        (drafts, mask) in arb_case(), pick in any::<prop::sample::Index>(),
    ) {
        let key = test_key(1);
        let records = build_chain(CHAIN, drafts.clone());
        let seqs = marked(&mask);
        let cps = checkpoints_at(&key, &records, &seqs);
        let i = pick.index(records.len());
        let mut forged_drafts = drafts;
        forged_drafts[i].principal.push_str("-forged");
        let forged = build_chain(CHAIN, forged_drafts);
        let got = verify_chain(CHAIN, &forged, &cps, &[key.public_key()]);
        match seqs.iter().find(|&&s| s > i as u64) {
            Some(&seq) => prop_assert_eq!(got, Err(Problem::CheckpointMismatch { seq })),
            None => prop_assert!(got.is_ok(), "uncovered rewrite is undetectable: {got:?}"),
        }
    }

    #[test]
    fn deleting_a_record_is_named(
        (drafts, mask) in arb_case(), pick in any::<prop::sample::Index>(),
    ) {
        let key = test_key(1);
        let mut records = build_chain(CHAIN, drafts);
        let seqs = marked(&mask);
        let cps = checkpoints_at(&key, &records, &seqs);
        let n = records.len() as u64;
        let i = pick.index(records.len());
        records.remove(i);
        let got = verify_chain(CHAIN, &records, &cps, &[key.public_key()]);
        let k = i as u64 + 1;
        if k < n {
            prop_assert_eq!(got, Err(Problem::SeqGap { expected: k, found: k + 1 }));
        } else if seqs.last() == Some(&n) {
            prop_assert_eq!(got, Err(Problem::Truncated { checkpoint_seq: n, last_seq: n - 1 }));
        } else {
            prop_assert_eq!(got.unwrap().last_seq, n - 1);
        }
    }

    #[test]
    fn swapping_two_records_is_named_at_the_first(
        (drafts, mask) in arb_case(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
    ) {
        let key = test_key(1);
        let mut records = build_chain(CHAIN, drafts);
        let (i, j) = (a.index(records.len()), b.index(records.len()));
        prop_assume!(i != j);
        let (i, j) = (i.min(j), i.max(j));
        let cps = checkpoints_at(&key, &records, &marked(&mask));
        records.swap(i, j);
        let got = verify_chain(CHAIN, &records, &cps, &[key.public_key()]);
        prop_assert_eq!(got, Err(Problem::SeqGap { expected: i as u64 + 1, found: j as u64 + 1 }));
    }

    #[test]
    fn truncation_is_caught_below_the_last_checkpoint_and_reported_above_it(
        (drafts, mask) in arb_case(), keep in any::<prop::sample::Index>(),
    ) {
        let key = test_key(1);
        let mut records = build_chain(CHAIN, drafts);
        let seqs = marked(&mask);
        let cps = checkpoints_at(&key, &records, &seqs);
        let m = keep.index(records.len()); // keep 0..n-1 records
        records.truncate(m);
        let got = verify_chain(CHAIN, &records, &cps, &[key.public_key()]);
        let last_cp = seqs.last().copied().unwrap_or(0);
        if last_cp > m as u64 {
            prop_assert_eq!(got, Err(Problem::Truncated { checkpoint_seq: last_cp, last_seq: m as u64 }));
        } else {
            let report = got.unwrap();
            prop_assert_eq!(report.last_seq, m as u64);
            prop_assert_eq!(report.covered_seq, last_cp);
        }
    }

    #[test]
    fn checkpoints_resigned_with_another_key_are_refused(
        (drafts, mask) in arb_case(), pick in any::<prop::sample::Index>(), keep_id in any::<bool>(),
    ) {
        let (key, attacker) = (test_key(1), test_key(2));
        let records = build_chain(CHAIN, drafts);
        let seqs = marked(&mask);
        prop_assume!(!seqs.is_empty());
        let mut cps = checkpoints_at(&key, &records, &seqs);
        let c = pick.index(cps.len());
        let mut forged = checkpoint_at(&attacker, &records, seqs[c]);
        let expected = if keep_id {
            forged.key_id = key.key_id();
            Problem::BadCheckpointSignature { seq: seqs[c] }
        } else {
            Problem::UntrustedKey { key_id: attacker.key_id() }
        };
        cps[c] = forged;
        let got = verify_chain(CHAIN, &records, &cps, &[key.public_key()]);
        prop_assert_eq!(got, Err(expected));
    }
}

#[test]
fn rotated_keys_verify_when_both_are_pinned() {
    let (old, new) = (test_key(1), test_key(2));
    let records = sample_chain(6);
    let cps = vec![checkpoint_at(&old, &records, 3), checkpoint_at(&new, &records, 6)];
    let report = verify_chain(CHAIN, &records, &cps, &[old.public_key(), new.public_key()]);
    assert_eq!(report.unwrap().covered_seq, 6);
    let got = verify_chain(CHAIN, &records, &cps, &[new.public_key()]);
    assert_eq!(got, Err(Problem::UntrustedKey { key_id: old.key_id() }));
    let got = verify_chain(CHAIN, &records, &cps, &[]);
    assert_eq!(got, Err(Problem::UntrustedKey { key_id: old.key_id() }));
}

#[test]
fn checkpoint_with_a_forged_hash_is_a_bad_signature_not_a_mismatch() {
    let key = test_key(1);
    let records = sample_chain(3);
    let mut cp = checkpoint_at(&key, &records, 2);
    cp.hash = records[0].hash.clone();
    let got = verify_chain(CHAIN, &records, &[cp], &[key.public_key()]);
    assert_eq!(got, Err(Problem::BadCheckpointSignature { seq: 2 }));
}

#[test]
fn empty_chain_accepts_only_a_genesis_checkpoint() {
    let key = test_key(1);
    let ts = "2026-11-24T22:10:00Z";
    let genesis = Checkpoint::sign(&key, CHAIN, 0, GENESIS, ts).unwrap();
    let report = verify_chain(CHAIN, &[], &[genesis], &[key.public_key()]).unwrap();
    assert_eq!((report.records, report.last_hash.as_str()), (0, GENESIS));
    let wrong = Checkpoint::sign(&key, CHAIN, 0, &digest(b"x"), ts).unwrap();
    let got = verify_chain(CHAIN, &[], &[wrong], &[key.public_key()]);
    assert_eq!(got, Err(Problem::CheckpointMismatch { seq: 0 }));
    let beyond = Checkpoint::sign(&key, CHAIN, 1, &digest(b"x"), ts).unwrap();
    let got = verify_chain(CHAIN, &[], &[beyond], &[key.public_key()]);
    assert_eq!(got, Err(Problem::Truncated { checkpoint_seq: 1, last_seq: 0 }));
}

#[test]
fn records_and_checkpoints_of_another_chain_are_refused() {
    let key = test_key(1);
    let records = sample_chain(3);
    let got = verify_chain("t_other", &records, &[], &[key.public_key()]);
    assert_eq!(got, Err(Problem::WrongChain { seq: 1 }));
    let foreign = Checkpoint::sign(&key, "t_other", 2, &records[1].hash, &records[1].ts).unwrap();
    let got = verify_chain(CHAIN, &records, &[foreign], &[key.public_key()]);
    assert_eq!(got, Err(Problem::WrongChain { seq: 2 }));
}

#[test]
fn a_chain_not_starting_at_genesis_is_a_broken_link() {
    let mut draft_chain = sample_chain(2);
    let resealed = AuditRecord::seal(CHAIN, 1, &digest(b"elsewhere"), draft_chain[0].draft()).unwrap();
    draft_chain[0] = resealed;
    let got = verify_chain(CHAIN, &draft_chain, &[], &[]);
    assert_eq!(got, Err(Problem::BrokenLink { seq: 1 }));
}

#[test]
fn tampered_jsonl_text_is_detected_end_to_end() {
    let key = test_key(1);
    let records = sample_chain(4);
    let cps = checkpoints_at(&key, &records, &[4]);
    let text: String = records.iter().map(|r| format!("{}\n", serde_json::to_string(r).unwrap())).collect();
    let cp_text = format!("{}\n", serde_json::to_string(&cps[0]).unwrap());
    let parsed = parse_records_jsonl(&text).unwrap();
    let parsed_cps = parse_checkpoints_jsonl(&cp_text).unwrap();
    assert!(verify_chain(CHAIN, &parsed, &parsed_cps, &[key.public_key()]).is_ok());

    let tampered = text.replacen("\"request_id\":\"req-3\"", "\"request_id\":\"req-9\"", 1);
    assert_ne!(tampered, text);
    let parsed = parse_records_jsonl(&tampered).unwrap();
    let got = verify_chain(CHAIN, &parsed, &parsed_cps, &[key.public_key()]);
    assert_eq!(got, Err(Problem::BadHash { seq: 3 }));
}

#[test]
fn malformed_lines_are_named_by_number() {
    let text: String = sample_chain(3).iter().map(|r| format!("{}\n", serde_json::to_string(r).unwrap())).collect();
    let lines: Vec<&str> = text.lines().collect();
    let cases = [
        (format!("{}\n{{not json\n{}", lines[0], lines[2]), 2),
        (format!("{}\n\n{}\n", lines[0], lines[1]), 2),
        (format!("{}\n{}\n{{\"type\":\"checkpoint\"}}\n", lines[0], lines[1]), 3),
        (lines[0].replacen("\"seq\":1", "\"seq\":1.0", 1), 1),
    ];
    for (text, line) in cases {
        let got = parse_records_jsonl(&text).unwrap_err();
        assert!(matches!(got, Problem::Malformed { line: l, .. } if l == line), "{got}");
    }
    assert_eq!(parse_records_jsonl("").unwrap(), vec![]);
    let err = parse_checkpoints_jsonl(&format!("{}\n", lines[0])).unwrap_err();
    assert!(matches!(err, Problem::Malformed { line: 1, .. }), "{err}");
}

#[test]
fn problems_have_distinct_codes_and_messages_naming_the_seq() {
    let all = [
        Problem::BadHash { seq: 7 },
        Problem::BrokenLink { seq: 7 },
        Problem::SeqGap { expected: 7, found: 9 },
        Problem::WrongChain { seq: 7 },
        Problem::BadCheckpointSignature { seq: 7 },
        Problem::CheckpointMismatch { seq: 7 },
        Problem::Truncated { checkpoint_seq: 9, last_seq: 6 },
        Problem::UntrustedKey { key_id: "0123456789abcdef".into() },
        Problem::Malformed { line: 7, detail: "x".into() },
    ];
    let codes: std::collections::BTreeSet<&str> = all.iter().map(Problem::code).collect();
    assert_eq!(codes.len(), all.len());
    for p in &all {
        assert!(p.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let message = p.to_string();
        assert!(message.contains('7') || message.contains("0123456789abcdef"), "{message}");
        assert_eq!(p.to_json()["code"], json!(p.code()));
    }
    assert_eq!(all[6].seq(), Some(7));
    assert!(all[1].to_string().contains("record 6"));
    assert!(Problem::BrokenLink { seq: 1 }.to_string().contains("genesis"));
}

#[test]
fn a_range_verifies_from_its_first_link_and_only_checkpoints_inside_or_just_before_it() {
    let key = test_key(1);
    let records = sample_chain(5);
    let (range, first_prev) = (&records[2..], records[1].hash.as_str());
    let pins = [key.public_key()];
    // Records 3..=5, a checkpoint on 5 and one on 2 (the record just before the range).
    let checkpoints = checkpoints_at(&key, &records, &[2, 5]);
    let report = verify_range(CHAIN, 3, first_prev, range, &checkpoints, &pins).unwrap();
    assert_eq!((report.records, report.last_seq, report.covered_seq), (3, 5, 5));
    // A checkpoint further back than the range's first link cannot be checked: refused.
    let too_old = checkpoints_at(&key, &records, &[1]);
    assert_eq!(verify_range(CHAIN, 3, first_prev, range, &too_old, &pins), Err(Problem::CheckpointMismatch { seq: 1 }));
    // The wrong first link, or a range that does not start where it says.
    assert_eq!(verify_range(CHAIN, 3, GENESIS, range, &[], &pins), Err(Problem::BrokenLink { seq: 3 }));
    assert_eq!(verify_range(CHAIN, 2, first_prev, range, &[], &pins), Err(Problem::SeqGap { expected: 2, found: 3 }));
    // verify_chain is the range from seq 1.
    assert_eq!(verify_chain(CHAIN, &records, &[], &pins), verify_range(CHAIN, 1, GENESIS, &records, &[], &pins));
}
