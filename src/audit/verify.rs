//! Offline verification of one audit chain against pinned public keys.
//! Invariant: a chain passes only if every record re-hashes, links to its
//! predecessor gaplessly from seq 1, and every checkpoint is signed by a
//! trusted key and matches the record it names; otherwise the first problem
//! is named.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AuditRecord, Checkpoint, GENESIS, PublicKey};

/// What a chain that verified contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// The chain verified.
    pub chain: String,
    /// How many records it has.
    pub records: u64,
    /// Seq of its last record (0 when empty).
    pub last_seq: u64,
    /// Hash of its last record ([`GENESIS`] when empty).
    pub last_hash: String,
    /// How many checkpoints were verified.
    pub checkpoints: u64,
    /// Highest seq signed by a verified checkpoint (0 when none). Records
    /// above it are intact as a chain but not covered by a signature: cutting
    /// them off would not be detectable.
    pub covered_seq: u64,
}

impl ChainReport {
    /// How many records at the end no checkpoint covers.
    pub fn uncovered(&self) -> u64 {
        self.last_seq.saturating_sub(self.covered_seq)
    }
}

/// The first thing wrong with a chain. Display is a sentence for people
/// naming the seq; [`Problem::code`] is the stable name for machines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The record's content does not hash to its `hash`.
    #[error("record seq {seq} was altered: its content does not match its hash")]
    BadHash {
        /// The altered record.
        seq: u64,
    },
    /// The record's `prev` is not the previous record's hash.
    #[error(
        "record seq {seq} does not link to {}: the chain was rewritten, reordered or cut before it",
        predecessor(*seq)
    )]
    BrokenLink {
        /// The first record whose link is wrong.
        seq: u64,
    },
    /// Records are missing, duplicated or out of order.
    #[error(
        "expected record seq {expected} but found seq {found}: records are missing, \
         duplicated or out of order"
    )]
    SeqGap {
        /// The seq that should come next.
        expected: u64,
        /// The seq found in its place.
        found: u64,
    },
    /// A record or checkpoint names another chain.
    #[error(
        "the record or checkpoint at seq {seq} belongs to another chain; \
         verify each chain with its own records and checkpoints"
    )]
    WrongChain {
        /// Its seq.
        seq: u64,
    },
    /// A checkpoint from a trusted key id fails its signature.
    #[error("the checkpoint at seq {seq} has an invalid signature: it was altered or forged")]
    BadCheckpointSignature {
        /// The checkpoint's seq.
        seq: u64,
    },
    /// A validly signed checkpoint names a different hash than the record.
    #[error(
        "the signed checkpoint at seq {seq} does not match record {seq}: \
         the log was rewritten after it was signed"
    )]
    CheckpointMismatch {
        /// The checkpoint's seq.
        seq: u64,
    },
    /// A validly signed checkpoint names a seq past the last record.
    #[error(
        "a signed checkpoint covers seq {checkpoint_seq} but the chain ends at seq {last_seq}: \
         records {} to {checkpoint_seq} were cut off",
        last_seq.saturating_add(1)
    )]
    Truncated {
        /// The highest checkpointed seq.
        checkpoint_seq: u64,
        /// The last record present.
        last_seq: u64,
    },
    /// A checkpoint is signed by a key that is not pinned.
    #[error(
        "a checkpoint is signed by key {key_id}, which is not trusted; pin the server's key \
         with --pubkey or --fingerprint as `tollgate audit pubkey` prints it"
    )]
    UntrustedKey {
        /// The unknown key id.
        key_id: String,
    },
    /// A deleted tenant's chain continues past the record that sealed it.
    #[error(
        "the tenant was deleted and its chain sealed at seq {final_seq}, but it ends at seq {last_seq}: \
         records were written after the seal"
    )]
    WrittenAfterSeal {
        /// The seq of the deletion's own record (the tombstone's).
        final_seq: u64,
        /// The last record present.
        last_seq: u64,
    },
    /// A line is not a record or checkpoint.
    #[error("line {line} is malformed: {detail}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        detail: String,
    },
}

/// "record N" or "the genesis value", for link messages.
fn predecessor(seq: u64) -> String {
    match seq {
        0 | 1 => "the genesis value".to_owned(),
        n => format!("record {}", n - 1),
    }
}

impl Problem {
    /// Stable snake_case name, for reports and exit codes.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::BadHash { .. } => "bad_hash",
            Problem::BrokenLink { .. } => "broken_link",
            Problem::SeqGap { .. } => "seq_gap",
            Problem::WrongChain { .. } => "wrong_chain",
            Problem::BadCheckpointSignature { .. } => "bad_checkpoint_signature",
            Problem::CheckpointMismatch { .. } => "checkpoint_mismatch",
            Problem::WrittenAfterSeal { .. } => "written_after_seal",
            Problem::Truncated { .. } => "truncated",
            Problem::UntrustedKey { .. } => "untrusted_key",
            Problem::Malformed { .. } => "malformed",
        }
    }

    /// The first seq that is bad or missing, when the problem has one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Problem::BadHash { seq }
            | Problem::BrokenLink { seq }
            | Problem::WrongChain { seq }
            | Problem::BadCheckpointSignature { seq }
            | Problem::CheckpointMismatch { seq } => Some(*seq),
            Problem::SeqGap { expected, .. } => Some(*expected),
            Problem::Truncated { last_seq, .. } => Some(last_seq.saturating_add(1)),
            Problem::WrittenAfterSeal { final_seq, .. } => Some(final_seq.saturating_add(1)),
            Problem::UntrustedKey { .. } | Problem::Malformed { .. } => None,
        }
    }

    /// `{code, message, seq}` for machine-readable reports.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string(), "seq": self.seq()})
    }
}

/// Verifies `chain` offline: its `records` (in file order) and
/// `checkpoints` (any order) against the pinned `trusted` keys (several, so
/// that checkpoints of rotated-out keys still verify).
///
/// Checks, and reports the first failure in this order: each record in turn
/// (chain, seq from 1 without gaps, `prev` link, hash); then each checkpoint
/// by seq (chain, trusted key id, signature); then that each checkpoint's
/// hash equals its record's (seq 0 means the empty chain, hash [`GENESIS`]);
/// then that no checkpoint lies beyond the last record.
pub fn verify_chain(
    chain: &str,
    records: &[AuditRecord],
    checkpoints: &[Checkpoint],
    trusted: &[PublicKey],
) -> Result<ChainReport, Problem> {
    verify_range(chain, 1, GENESIS, records, checkpoints, trusted)
}

/// [`verify_chain`] for a closed range that starts at `from_seq` (an export
/// package's), whose first record links to `first_prev`. Same checks, same
/// order; a checkpoint may sign the record just before the range (its hash is
/// `first_prev`), but none may sign one further back.
pub fn verify_range(
    chain: &str,
    from_seq: u64,
    first_prev: &str,
    records: &[AuditRecord],
    checkpoints: &[Checkpoint],
    trusted: &[PublicKey],
) -> Result<ChainReport, Problem> {
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
    let keys: Vec<(String, &PublicKey)> = trusted.iter().map(|k| (k.key_id(), k)).collect();
    for checkpoint in &sorted {
        if checkpoint.chain != chain {
            return Err(Problem::WrongChain { seq: checkpoint.seq });
        }
        let mut candidates = keys.iter().filter(|(id, _)| *id == checkpoint.key_id).peekable();
        if candidates.peek().is_none() {
            return Err(Problem::UntrustedKey { key_id: checkpoint.key_id.clone() });
        }
        if !candidates.any(|(_, key)| checkpoint.verify(key).is_ok()) {
            return Err(Problem::BadCheckpointSignature { seq: checkpoint.seq });
        }
    }
    for checkpoint in &sorted {
        let signed = match checkpoint.seq {
            seq if seq.saturating_add(1) == from_seq => Some(first_prev),
            seq if seq < from_seq => return Err(Problem::CheckpointMismatch { seq }),
            seq => usize::try_from(seq - from_seq).ok().and_then(|i| records.get(i)).map(|r| r.hash.as_str()),
        };
        if signed.is_some_and(|hash| hash != checkpoint.hash) {
            return Err(Problem::CheckpointMismatch { seq: checkpoint.seq });
        }
    }
    let covered_seq = sorted.last().map_or(0, |c| c.seq);
    if covered_seq > last_seq {
        return Err(Problem::Truncated { checkpoint_seq: covered_seq, last_seq });
    }
    Ok(ChainReport {
        chain: chain.to_owned(),
        records: records.len() as u64,
        last_seq,
        last_hash: prev.to_owned(),
        checkpoints: sorted.len() as u64,
        covered_seq,
    })
}

/// Parses JSON Lines of records (one per line; a final newline is optional,
/// blank lines are not allowed). The first bad line is [`Problem::Malformed`].
pub fn parse_records_jsonl(text: &str) -> Result<Vec<AuditRecord>, Problem> {
    parse_jsonl(text, |line| serde_json::from_str::<AuditRecord>(line).map_err(|e| format!("not an audit record: {e}")))
}

/// Parses JSON Lines of checkpoints, like [`parse_records_jsonl`].
pub fn parse_checkpoints_jsonl(text: &str) -> Result<Vec<Checkpoint>, Problem> {
    parse_jsonl(text, |line| {
        let checkpoint = serde_json::from_str::<Checkpoint>(line).map_err(|e| format!("not a checkpoint: {e}"))?;
        checkpoint.check_form().map_err(|e| format!("not a checkpoint: {e}"))?;
        Ok(checkpoint)
    })
}

fn parse_jsonl<T>(text: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, Problem> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    (1u64..)
        .zip(body.split('\n'))
        .map(|(line, content)| {
            if content.trim().is_empty() {
                return Err(Problem::Malformed { line, detail: "empty line".to_owned() });
            }
            parse(content).map_err(|detail| Problem::Malformed { line, detail })
        })
        .collect()
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
