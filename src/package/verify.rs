//! Offline verification of a package against a pinned key.
//! Invariant: a package passes only if the manifest is signed by the pinned
//! key, every listed file is present with its digest and size and nothing
//! else is, the records form an unbroken chain over the manifest's range,
//! every checkpoint is signed by the pinned key and matches its record, and
//! the last record is signed. Otherwise the first problem is named, in the
//! order documented in docs/audit-package.md (the Python verifier keeps it).

use serde_json::{Value, json};

use super::manifest::Manifest;
use super::tree::{Tree, safe_path};
use super::{FORMAT, READABLE_VERSIONS, paths};
use crate::audit::verify_range;
use crate::audit::{GENESIS, Problem, PublicKey, digest, parse_checkpoints_jsonl, parse_records_jsonl};

/// Which keys a verifier trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// `--pubkey HEX` and `--fingerprint sha256:HEX`, each repeatable: a key
    /// the package lists is trusted when it is one of `keys` or has one of
    /// `fingerprints`.
    Pinned {
        /// Pinned public keys.
        keys: Vec<PublicKey>,
        /// Pinned fingerprints (`sha256:<hex>`).
        fingerprints: Vec<String>,
    },
    /// `--trust-embedded-key`: every key the package lists. Proves only
    /// integrity, not origin; reported loudly.
    Embedded,
}

impl Trust {
    /// Trust exactly one key.
    pub fn public_key(key: PublicKey) -> Self {
        Trust::Pinned { keys: vec![key], fingerprints: Vec::new() }
    }

    /// Trust exactly the key with this fingerprint.
    pub fn fingerprint(fingerprint: impl Into<String>) -> Self {
        Trust::Pinned { keys: Vec::new(), fingerprints: vec![fingerprint.into()] }
    }

    /// Whether `key` is trusted.
    pub fn accepts(&self, key: &PublicKey) -> bool {
        match self {
            Trust::Pinned { keys, fingerprints } => {
                keys.contains(key) || fingerprints.iter().any(|f| key.matches_pin(f))
            }
            Trust::Embedded => true,
        }
    }

    /// The pins, for messages.
    fn describe(&self) -> String {
        match self {
            Trust::Pinned { keys, fingerprints } => {
                let all: Vec<String> =
                    keys.iter().map(PublicKey::fingerprint).chain(fingerprints.iter().cloned()).collect();
                all.join(", ")
            }
            Trust::Embedded => "the embedded keys".into(),
        }
    }
}

/// The first thing wrong with a package. [`PackageProblem::code`] is the
/// stable name both verifiers print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageProblem {
    /// The package could not be read at all.
    #[error("the package cannot be read: {0}")]
    Unreadable(String),
    /// No manifest.json.
    #[error("manifest.json is missing")]
    ManifestMissing,
    /// manifest.json is not a manifest of a version we read.
    #[error("manifest.json is malformed: {0}")]
    ManifestMalformed(String),
    /// The manifest's signing key is not pinned.
    #[error("{0}")]
    UntrustedKey(String),
    /// The manifest's signature fails.
    #[error("the manifest signature does not verify: manifest.json was edited or forged")]
    BadManifestSignature,
    /// A listed file is absent.
    #[error("{0} is listed in the manifest but missing")]
    FileMissing(String),
    /// A file is present that the manifest does not list.
    #[error("{0} is not listed in the manifest: files were added")]
    UnlistedFile(String),
    /// A record or checkpoint problem.
    #[error("{file}: {problem}")]
    Chain {
        /// The file the problem is in.
        file: &'static str,
        /// The problem.
        problem: Problem,
    },
    /// The records do not match the manifest's range, count, first or last record.
    #[error("the records do not match the manifest: {0}")]
    RangeMismatch(String),
    /// The last record is not covered by a signed checkpoint.
    #[error(
        "the last record (seq {last_seq}) is not signed by any checkpoint (signed through seq {covered_seq}): checkpoints were dropped"
    )]
    NotCovered {
        /// The last record's seq.
        last_seq: u64,
        /// The highest signed seq.
        covered_seq: u64,
    },
    /// A file's bytes differ from its manifest digest or size.
    #[error("{0} does not match its sha256 or size in the manifest: it was replaced or edited")]
    FileDigestMismatch(String),
}

impl PackageProblem {
    /// Stable snake_case name.
    pub fn code(&self) -> &'static str {
        match self {
            PackageProblem::Unreadable(_) => "unreadable",
            PackageProblem::ManifestMissing => "manifest_missing",
            PackageProblem::ManifestMalformed(_) => "manifest_malformed",
            PackageProblem::UntrustedKey(_) => "untrusted_key",
            PackageProblem::BadManifestSignature => "bad_manifest_signature",
            PackageProblem::FileMissing(_) => "file_missing",
            PackageProblem::UnlistedFile(_) => "unlisted_file",
            PackageProblem::Chain { problem, .. } => problem.code(),
            PackageProblem::RangeMismatch(_) => "range_mismatch",
            PackageProblem::NotCovered { .. } => "not_covered",
            PackageProblem::FileDigestMismatch(_) => "file_digest_mismatch",
        }
    }

    /// `{code, message}` for JSON reports.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string()})
    }
}

/// What a valid package holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageReport {
    /// The tenant id.
    pub tenant: String,
    /// Its slug.
    pub slug: String,
    /// First and last seq.
    pub range: (u64, u64),
    /// Records verified.
    pub records: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Files checked (manifest excluded).
    pub files: u64,
    /// Fingerprint of the key that signed it.
    pub fingerprint: String,
    /// Whether trust came from a pin (false: `--trust-embedded-key`).
    pub pinned: bool,
}

fn text<'a>(tree: &'a Tree, path: &'static str) -> Result<&'a str, PackageProblem> {
    let bytes = tree.get(path).ok_or_else(|| PackageProblem::FileMissing(path.to_owned()))?;
    std::str::from_utf8(bytes).map_err(|_| PackageProblem::Chain {
        file: path,
        problem: Problem::Malformed { line: 0, detail: "not UTF-8".into() },
    })
}

/// The manifest's signing key, once a pin accepts it, and every listed key
/// a pin accepts (the keys checkpoints may be signed by).
fn trusted_keys(manifest: &Manifest, trust: &Trust) -> Result<(PublicKey, Vec<PublicKey>), PackageProblem> {
    let listed = manifest.listed_keys().map_err(PackageProblem::ManifestMalformed)?;
    let signer = PublicKey::from_hex(&manifest.public_key.hex)
        .map_err(|e| PackageProblem::ManifestMalformed(format!("public_key: {e}")))?;
    if !trust.accepts(&signer) {
        return Err(PackageProblem::UntrustedKey(format!(
            "the package is signed by key {}, not by the pinned keys ({})",
            signer.fingerprint(),
            trust.describe()
        )));
    }
    Ok((signer, listed.into_iter().filter(|k| trust.accepts(k)).collect()))
}

/// Verifies a package held in memory; see the module doc for what passes.
pub fn verify_tree(tree: &Tree, trust: &Trust) -> Result<PackageReport, PackageProblem> {
    let raw = tree.get(paths::MANIFEST).ok_or(PackageProblem::ManifestMissing)?;
    let manifest: Manifest =
        serde_json::from_slice(raw).map_err(|e| PackageProblem::ManifestMalformed(e.to_string()))?;
    if manifest.format != FORMAT || !READABLE_VERSIONS.contains(&manifest.format_version) {
        return Err(PackageProblem::ManifestMalformed(format!(
            "format {:?} version {} is not {FORMAT} version 1 or 2",
            manifest.format, manifest.format_version
        )));
    }
    if (manifest.format_version >= 2) != manifest.public_keys.is_some() {
        return Err(PackageProblem::ManifestMalformed(
            "public_keys is required in format version 2 and absent in version 1".into(),
        ));
    }
    let (key, trusted) = trusted_keys(&manifest, trust)?;
    manifest.verify_signature(&key).map_err(|_| PackageProblem::BadManifestSignature)?;

    for entry in &manifest.files {
        if !safe_path(&entry.path) || entry.path == paths::MANIFEST {
            return Err(PackageProblem::ManifestMalformed(format!("file path {:?} is not allowed", entry.path)));
        }
        if !tree.contains_key(&entry.path) {
            return Err(PackageProblem::FileMissing(entry.path.clone()));
        }
    }
    if let Some(extra) =
        tree.keys().find(|p| p.as_str() != paths::MANIFEST && !manifest.files.iter().any(|f| &f.path == *p))
    {
        return Err(PackageProblem::UnlistedFile(extra.clone()));
    }

    let records = parse_records_jsonl(text(tree, paths::RECORDS)?)
        .map_err(|problem| PackageProblem::Chain { file: paths::RECORDS, problem })?;
    let checkpoints = parse_checkpoints_jsonl(text(tree, paths::CHECKPOINTS)?)
        .map_err(|problem| PackageProblem::Chain { file: paths::CHECKPOINTS, problem })?;
    let (from, to) = (manifest.range.from_seq, manifest.range.to_seq);
    if from == 0 || (from == 1 && manifest.first.prev != GENESIS) {
        return Err(PackageProblem::ManifestMalformed(
            "the range must start at seq 1 or later, and seq 1 links to the genesis value".into(),
        ));
    }
    let report = verify_range(&manifest.chain, from, &manifest.first.prev, &records, &checkpoints, &trusted).map_err(
        |problem| {
            let file = match problem {
                Problem::UntrustedKey { .. }
                | Problem::BadCheckpointSignature { .. }
                | Problem::CheckpointMismatch { .. }
                | Problem::Truncated { .. } => paths::CHECKPOINTS,
                _ => paths::RECORDS,
            };
            PackageProblem::Chain { file, problem }
        },
    )?;
    let first = records.first();
    let mismatch = if report.last_seq != to || report.records != manifest.record_count {
        Some(format!(
            "the manifest says seqs {from} to {to} ({} records); the file has {} records ending at seq {}",
            manifest.record_count, report.records, report.last_seq
        ))
    } else if first.is_none_or(|r| r.hash != manifest.first.hash || r.seq != manifest.first.seq) {
        Some("the first record is not the one the manifest names".to_owned())
    } else if report.last_hash != manifest.last.hash || manifest.last.seq != to {
        Some("the last record is not the one the manifest names".to_owned())
    } else {
        None
    };
    if let Some(detail) = mismatch {
        return Err(PackageProblem::RangeMismatch(detail));
    }
    if report.covered_seq < to {
        return Err(PackageProblem::NotCovered { last_seq: to, covered_seq: report.covered_seq });
    }
    if report.checkpoints != manifest.checkpoint_count {
        return Err(PackageProblem::RangeMismatch(format!(
            "the manifest lists {} checkpoints; the file has {}",
            manifest.checkpoint_count, report.checkpoints
        )));
    }
    for entry in &manifest.files {
        let bytes = tree.get(&entry.path).map(Vec::as_slice).unwrap_or_default();
        if digest(bytes) != entry.sha256 || bytes.len() as u64 != entry.size {
            return Err(PackageProblem::FileDigestMismatch(entry.path.clone()));
        }
    }
    Ok(PackageReport {
        tenant: manifest.tenant.id.clone(),
        slug: manifest.tenant.slug.clone(),
        range: (from, to),
        records: report.records,
        checkpoints: report.checkpoints,
        files: manifest.files.len() as u64,
        fingerprint: key.fingerprint(),
        pinned: !matches!(trust, Trust::Embedded),
    })
}
