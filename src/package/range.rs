//! Verification of a closed range `from_seq..=to_seq` of one chain: the
//! generalization of [`crate::audit::verify_chain`] to a range that need not
//! start at seq 1 (its first `prev` comes from the signed manifest).
//! Invariant: same checks and order as `verify_chain`; the first problem wins.

use crate::audit::{AuditRecord, Checkpoint, Problem, PublicKey};

/// What a range that verified contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeReport {
    /// Records checked.
    pub records: u64,
    /// Seq of the last record (from_seq - 1 when empty).
    pub last_seq: u64,
    /// Hash of the last record.
    pub last_hash: String,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Highest seq a verified checkpoint signs (0 when none).
    pub covered_seq: u64,
}

/// Checks records (chain, gapless seqs from `from_seq`, links from
/// `first_prev`, hashes), then checkpoints (chain, trusted key, signature,
/// match with the record they name), then that no checkpoint lies beyond
/// the last record.
pub(crate) fn verify_range(
    chain: &str,
    from_seq: u64,
    first_prev: &str,
    records: &[AuditRecord],
    checkpoints: &[Checkpoint],
    trusted: &[PublicKey],
) -> Result<RangeReport, Problem> {
    let mut prev = first_prev;
    for (expected, record) in (from_seq..).zip(records) {
        if record.chain != chain {
            return Err(Problem::WrongChain { seq: record.seq });
        }
        if record.seq != expected {
            return Err(Problem::SeqGap { expected, found: record.seq });
        }
        if record.prev != prev {
            return Err(Problem::BrokenLink { seq: expected });
        }
        if record.expected_hash().ok().as_deref() != Some(record.hash.as_str()) {
            return Err(Problem::BadHash { seq: expected });
        }
        prev = &record.hash;
    }
    let last_seq = from_seq.saturating_sub(1).saturating_add(records.len() as u64);
    let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
    sorted.sort_by_key(|c| c.seq);
    for checkpoint in &sorted {
        if checkpoint.chain != chain {
            return Err(Problem::WrongChain { seq: checkpoint.seq });
        }
        let Some(key) = trusted.iter().find(|k| k.key_id() == checkpoint.key_id) else {
            return Err(Problem::UntrustedKey { key_id: checkpoint.key_id.clone() });
        };
        if checkpoint.verify(key).is_err() {
            return Err(Problem::BadCheckpointSignature { seq: checkpoint.seq });
        }
    }
    for checkpoint in &sorted {
        if checkpoint.seq < from_seq {
            return Err(Problem::CheckpointMismatch { seq: checkpoint.seq });
        }
        let index = usize::try_from(checkpoint.seq - from_seq).unwrap_or(usize::MAX);
        if records.get(index).is_some_and(|r| r.hash != checkpoint.hash) {
            return Err(Problem::CheckpointMismatch { seq: checkpoint.seq });
        }
    }
    let covered_seq = sorted.last().map_or(0, |c| c.seq);
    if covered_seq > last_seq {
        return Err(Problem::Truncated { checkpoint_seq: covered_seq, last_seq });
    }
    Ok(RangeReport {
        records: records.len() as u64,
        last_seq,
        last_hash: prev.to_owned(),
        checkpoints: sorted.len() as u64,
        covered_seq,
    })
}
