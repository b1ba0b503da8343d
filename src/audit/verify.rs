//! Offline verification of one audit chain against pinned public keys.
//! Invariant: a chain passes only if every record re-hashes, links to its
//! predecessor gaplessly from seq 1, and every checkpoint is signed by a
//! trusted key and matches the record it names; otherwise the first problem
//! is named.

use std::collections::BTreeMap;

use super::problem::{ChainReport, Problem};
use super::{AuditRecord, Checkpoint, GENESIS, PublicKey};

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
    let mut verifier = ChainVerifier::new(chain, from_seq, first_prev, checkpoints.to_vec());
    for record in records {
        verifier.push(record);
    }
    verifier.finish(trusted)
}

/// [`verify_range`] one record at a time, for a chain too long to hold: it
/// keeps the previous record's hash, the checkpoints and the hash of each
/// record a checkpoint names, nothing else, so its memory does not grow with
/// the chain. Feed it the records in order with [`ChainVerifier::push`]; its
/// [`ChainVerifier::finish`] reports exactly what [`verify_range`] would for
/// the same records, checks in the same order.
#[derive(Debug)]
pub struct ChainVerifier {
    chain: String,
    from_seq: u64,
    first_prev: String,
    /// Hash of the last record pushed (`first_prev` before any).
    prev: String,
    /// Records pushed without a problem.
    records: u64,
    /// The checkpoints, by seq.
    checkpoints: Vec<Checkpoint>,
    /// For each seq a checkpoint names, the hash of that record once pushed.
    signed: BTreeMap<u64, Option<String>>,
    /// The first problem among the records; later ones are not checked.
    problem: Option<Problem>,
}

impl ChainVerifier {
    /// A verifier of `chain` from `from_seq`, whose first record links to
    /// `first_prev`, against its `checkpoints` (any order).
    pub fn new(chain: &str, from_seq: u64, first_prev: &str, mut checkpoints: Vec<Checkpoint>) -> Self {
        checkpoints.sort_by_key(|c| c.seq);
        let signed = checkpoints.iter().filter(|c| c.seq >= from_seq).map(|c| (c.seq, None)).collect();
        ChainVerifier {
            chain: chain.to_owned(),
            from_seq,
            first_prev: first_prev.to_owned(),
            prev: first_prev.to_owned(),
            records: 0,
            checkpoints,
            signed,
            problem: None,
        }
    }

    /// Check the next record: its chain, its seq (no gap), its link and its
    /// hash. After the first problem, further records are ignored.
    pub fn push(&mut self, record: &AuditRecord) {
        if self.problem.is_some() {
            return;
        }
        let expected = self.from_seq.saturating_add(self.records);
        let problem = if record.chain != self.chain {
            Some(Problem::WrongChain { seq: record.seq })
        } else if record.seq != expected {
            Some(Problem::SeqGap { expected, found: record.seq })
        } else if record.prev != self.prev {
            Some(Problem::BrokenLink { seq: expected })
        } else if record.expected_hash().ok().as_deref() != Some(record.hash.as_str()) {
            Some(Problem::BadHash { seq: expected })
        } else {
            None
        };
        if problem.is_some() {
            self.problem = problem;
            return;
        }
        if let Some(slot) = self.signed.get_mut(&expected) {
            *slot = Some(record.hash.clone());
        }
        record.hash.clone_into(&mut self.prev);
        self.records += 1;
    }

    /// The verdict: the first record problem, else each checkpoint by seq
    /// (chain, trusted key id, signature), then that each checkpoint's hash
    /// is its record's, then that none lies beyond the last record.
    pub fn finish(self, trusted: &[PublicKey]) -> Result<ChainReport, Problem> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let (chain, from_seq) = (self.chain.as_str(), self.from_seq);
        let last_seq = from_seq.saturating_sub(1).saturating_add(self.records);
        let keys: Vec<(String, &PublicKey)> = trusted.iter().map(|k| (k.key_id(), k)).collect();
        for checkpoint in &self.checkpoints {
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
        for checkpoint in &self.checkpoints {
            let signed = match checkpoint.seq {
                seq if seq.saturating_add(1) == from_seq => Some(self.first_prev.as_str()),
                seq if seq < from_seq => return Err(Problem::CheckpointMismatch { seq }),
                seq => self.signed.get(&seq).and_then(|h| h.as_deref()),
            };
            if signed.is_some_and(|hash| hash != checkpoint.hash) {
                return Err(Problem::CheckpointMismatch { seq: checkpoint.seq });
            }
        }
        let covered_seq = self.checkpoints.last().map_or(0, |c| c.seq);
        if covered_seq > last_seq {
            return Err(Problem::Truncated { checkpoint_seq: covered_seq, last_seq });
        }
        Ok(ChainReport {
            chain: self.chain,
            records: self.records,
            last_seq,
            last_hash: self.prev,
            checkpoints: self.checkpoints.len() as u64,
            covered_seq,
        })
    }
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
