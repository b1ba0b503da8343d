//! What chain verification reports: the summary of a chain that verified,
//! and the first problem of one that did not.
//! Invariant: each problem has one stable code and names the first seq that
//! is bad or missing when there is one.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a chain that verified contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// The chain verified.
    pub chain: String,
    /// How many records it has.
    pub records: u64,
    /// Seq of its last record (0 when empty).
    pub last_seq: u64,
    /// Hash of its last record ([`GENESIS`](super::GENESIS) when empty).
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
