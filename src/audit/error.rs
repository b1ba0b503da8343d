//! The one error type of the audit layer: everything that can go wrong while
//! building, encoding, signing or loading audit data. Every variant says what
//! was wrong and, where the user can act, what to do.

use std::path::PathBuf;

/// Why an audit operation failed.
///
/// Chain verification has its own type, [`crate::audit::Problem`], because it
/// reports findings about a log rather than failures of an operation.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Audit data holds only integers; a float has no single canonical form
    /// that every verifier reproduces, so it is refused instead of rounded.
    #[error(
        "canonical JSON refuses the floating-point number {value} at {path}: \
         audit data holds only integers"
    )]
    Float {
        /// Where the number sits, e.g. `$.usage.tool_calls`.
        path: String,
        /// The number as serde_json printed it.
        value: String,
    },

    /// RFC 8785 writes every number as an IEEE 754 double; integers beyond
    /// ±(2^53−1) would be silently rounded, so two different records could
    /// hash alike. They are refused.
    #[error(
        "canonical JSON refuses the integer {value} at {path}: beyond ±9007199254740991 \
         it cannot be represented exactly (RFC 8785 numbers are doubles)"
    )]
    UnsafeInteger {
        /// Where the number sits.
        path: String,
        /// The integer as written.
        value: String,
    },

    /// The canonicalizer itself failed (should not happen for values that
    /// passed the number checks).
    #[error("canonical JSON serialization failed: {0}")]
    Canonical(#[source] serde_json::Error),

    /// A record or checkpoint field does not have the required form.
    #[error("invalid audit field `{field}`: {detail}")]
    InvalidField {
        /// The field's JSON name.
        field: &'static str,
        /// What is wrong with it.
        detail: String,
    },

    /// A JSON document is not an audit record (wrong shape, unknown or missing
    /// field, duplicate key, wrong type).
    #[error("malformed audit record: {0}")]
    MalformedRecord(String),

    /// A JSON document is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),

    /// A public key pin or encoding is not a usable Ed25519 public key.
    #[error("invalid Ed25519 public key: {0}")]
    InvalidPublicKey(String),

    /// A checkpoint names a key id other than the key it is checked against.
    #[error("checkpoint at seq {seq} was signed by key {found}, not by the trusted key {expected}")]
    KeyMismatch {
        /// The checkpoint's seq.
        seq: u64,
        /// The key id the checkpoint names.
        found: String,
        /// The key id of the key it was checked against.
        expected: String,
    },

    /// A checkpoint's signature does not verify.
    #[error("checkpoint signature at seq {seq} does not verify: {detail}")]
    BadSignature {
        /// The checkpoint's seq.
        seq: u64,
        /// Why (bad encoding or failed verification).
        detail: String,
    },

    /// The operating system could not supply randomness for a new key.
    #[error("cannot generate a signing key: the OS random source failed: {0}")]
    Entropy(String),

    /// `write_new` refuses to replace an existing key file.
    #[error(
        "signing key file {} already exists; refusing to overwrite it \
         (move it away first if you really mean to replace the key)",
        path.display()
    )]
    KeyFileExists {
        /// The key file.
        path: PathBuf,
    },

    /// Reading or writing the key file failed.
    #[error("signing key file {}: {source}", path.display())]
    KeyFileIo {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The key file is readable or writable by group or others.
    #[error(
        "signing key file {} has mode {mode:04o}, open to group or others; \
         run `chmod 600 {}` and check who may have copied it",
        path.display(),
        path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key file's content is not a tollgate signing key.
    #[error("signing key file {} is not a tollgate signing key: {detail}", path.display())]
    KeyFileFormat {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}
