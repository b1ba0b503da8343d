//! The customer audit package (DESIGN.md, "Customer audit package"): a
//! deterministic directory and `.tar` that prove, offline, that a tenant's
//! audit records for a closed range are complete, unaltered and signed by us.
//!
//! Invariant: a package is a pure function of the store as of record
//! `to_seq` and the signing key, so building the same range again gives the
//! same bytes; verification trusts only a pinned key.

pub mod build;
pub mod files;
pub mod manifest;
pub mod summary;
mod summary_html;
pub mod tree;
pub mod verify;

pub use build::{BuildError, ExportRange, build_package};
pub use files::{PackageFiles, StoredPackage};
pub use manifest::Manifest;
pub use tree::Tree;
pub use verify::{PackageProblem, PackageReport, Trust, verify_tree};

/// `format` of every manifest: names what the directory is.
pub const FORMAT: &str = "tollgate-audit-package";

/// `format_version` this build writes. Version 2 added `public_keys` (key
/// rotation); verifiers also read version 1 (no `public_keys`: the manifest's
/// key signed everything) and refuse any other rather than guess.
pub const FORMAT_VERSION: u64 = 2;

/// The versions verifiers read.
pub const READABLE_VERSIONS: [u64; 2] = [1, 2];

/// The file names of a package, relative to its root, in sorted order.
pub mod paths {
    /// The signed manifest.
    pub const MANIFEST: &str = "manifest.json";
    /// The tenant's records for the range, one canonical JSON per line.
    pub const RECORDS: &str = "audit/records.jsonl";
    /// Signed checkpoints of the range, the export checkpoint last.
    pub const CHECKPOINTS: &str = "evidence/checkpoints.jsonl";
    /// The exporter's own verification of the range.
    pub const VERIFICATION: &str = "evidence/verification.json";
    /// Key ids and metadata only (never a secret or digest).
    pub const KEYS: &str = "exports/keys.json";
    /// The plan and billing history.
    pub const PLAN_HISTORY: &str = "exports/plan_history.json";
    /// The tenant.
    pub const TENANT: &str = "exports/tenant.json";
    /// The usage ledger events of the range's calls.
    pub const USAGE: &str = "exports/usage.jsonl";
    /// Human summary (self-contained HTML).
    pub const SUMMARY_HTML: &str = "reports/summary.html";
    /// Machine summary the HTML is rendered from.
    pub const SUMMARY_JSON: &str = "reports/summary.json";
}

#[cfg(test)]
mod tests;
