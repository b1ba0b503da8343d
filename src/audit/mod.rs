//! The tamper-evident audit log's pure logic: records, canonical JSON, the
//! hash chain, signed checkpoints and offline verification (DESIGN.md,
//! "Audit log"). Only this module builds records; it does no I/O besides the
//! signing key file, so the store and the exporter decide where bytes go.

mod canonical;
mod checkpoint;
mod error;
mod fields;
mod problem;
mod record;
mod signing;
#[cfg(test)]
pub(crate) mod testing;
mod verify;

pub use canonical::{MAX_SAFE_INTEGER, canonical_json};
pub use checkpoint::{Checkpoint, CheckpointType};
pub use error::AuditError;
pub use fields::DIGEST_PREFIX;
pub use problem::{ChainReport, Problem};
pub use record::{Aggregate, AuditRecord, Decision, GENESIS, RecordDraft, SYSTEM_CHAIN, digest, digest_json};
pub use signing::{KEY_FILE_HEADER, PublicKey, SigningKey, describe};
pub use verify::{ChainVerifier, parse_checkpoints_jsonl, parse_records_jsonl, verify_chain, verify_range};

/// A fresh request id (16 random bytes, hex).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    hex::encode(bytes)
}
