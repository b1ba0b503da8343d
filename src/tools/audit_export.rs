//! `audit.export_package` (both editions) and `tenant.export_data`
//! (multi-tenant edition): build the tenant's signed audit package, keep it in
//! the data dir for download at `GET /packages/{id}`, and say where it is.
//!
//! Invariants: both only read the store (they run on a read connection,
//! never holding the writer); the call is audited and metered by the commit
//! (`audit_exports` or `data_exports`); they run only after the commit's
//! reservation decided replay and quota, so a replayed or refused call
//! builds nothing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::{EditionKind, Editions};
use super::registry::{BillingClass, NoArguments, ReadTool, Registry, RegistryError, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::audit::SigningKey;
use crate::billing::{Counter, Feature};
use crate::identity::Role;
use crate::package::files::DOWNLOAD_TTL_SECS;
use crate::package::manifest::FileEntry;
use crate::package::{BuildError, ExportRange, PackageFiles, build_package};
use crate::store::datadir::DataDir;

/// Register the export tools.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_read(ExportPackage)?;
    r.add_read(ExportData)?;
    Ok(())
}

/// Where a built package can be fetched.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExportOutput {
    /// The package id (derived from its manifest: the same package has the same id).
    pub package_id: String,
    /// The first and last seq it covers.
    pub from_seq: u64,
    pub to_seq: u64,
    /// Records in the package.
    pub record_count: u64,
    /// Signed checkpoints in it (the export's own last).
    pub checkpoint_count: u64,
    /// `sha256:` of its manifest.json.
    pub manifest_sha256: String,
    /// Size of the `.tar` in bytes.
    pub size: u64,
    /// Path of the `.tar` on this server (GET with the same credentials).
    pub download_url: String,
    /// When the download stops working (RFC 3339 UTC).
    pub expires_at: String,
    /// Fingerprint of the signing key (pin it from `tollgate audit pubkey`, not from here).
    pub key_fingerprint: String,
    /// Every file of the package with its digest and size, sorted by path.
    pub files: Vec<ArtifactView>,
}

/// One file of a package.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ArtifactView {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

impl From<&FileEntry> for ArtifactView {
    fn from(f: &FileEntry) -> Self {
        Self { path: f.path.clone(), sha256: f.sha256.clone(), size: f.size }
    }
}

/// Builds and keeps the package.
fn export(cx: &ToolCx, conn: &crate::store::Db, range: ExportRange) -> Result<ExportOutput, ToolError> {
    let tenant = cx.tenant.as_ref().ok_or_else(|| ToolError::new(ToolErrorCode::NotFound, "no such tenant"))?;
    let dir = cx.data_dir.clone();
    let key = SigningKey::load(&DataDir::new(&dir).signing_key())
        .map_err(|e| ToolError::new(ToolErrorCode::Internal, format!("signing key: {e}")))?;
    let built = build_package(conn, &tenant.0, range, &key, &cx.audit_keys).map_err(|e| match e {
        BuildError::NoSuchTenant => ToolError::new(ToolErrorCode::NotFound, "no such tenant"),
        BuildError::EmptyChain => ToolError::new(ToolErrorCode::FailedPrecondition, e.to_string()),
        BuildError::BadRange(_) => ToolError::invalid_argument("/to_seq", e.to_string()),
        other => ToolError::new(ToolErrorCode::Internal, other.to_string()),
    })?;
    let now = cx.clock.now();
    let expires_at = crate::clock::rfc3339(now + time::Duration::seconds(DOWNLOAD_TTL_SECS));
    let files = PackageFiles::new(&dir);
    files.sweep(&crate::clock::rfc3339(now));
    let stored = files
        .keep(&built, &tenant.0, &expires_at)
        .map_err(|e| ToolError::new(ToolErrorCode::Internal, format!("cannot keep the package: {e}")))?;
    let m = &built.manifest;
    Ok(ExportOutput {
        download_url: format!("/packages/{}", stored.id),
        package_id: stored.id,
        from_seq: m.range.from_seq,
        to_seq: m.range.to_seq,
        record_count: m.record_count,
        checkpoint_count: m.checkpoint_count,
        manifest_sha256: stored.manifest_sha256,
        size: stored.size,
        expires_at,
        key_fingerprint: m.public_key.fingerprint.clone(),
        files: m.files.iter().map(ArtifactView::from).collect(),
    })
}

/// Who may export a package, and download one of their own tenant.
pub const EXPORTERS: &[Role] = &[Role::TenantAdmin, Role::Auditor];

/// `audit.export_package` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// First seq of the range (default 1).
    #[schemars(range(min = 1))]
    pub from_seq: Option<u64>,
    /// Last seq of the range (default: the last record).
    #[schemars(range(min = 1))]
    pub to_seq: Option<u64>,
}

/// `audit.export_package`.
pub struct ExportPackage;

impl<E: EditionKind> ReadTool<E> for ExportPackage {
    type Input = ExportInput;
    type Output = ExportOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: EXPORTERS,
            tenant_scoped: true,
            feature: Some(Feature::AuditExport),
            charges: &[(Counter::AuditExports, 1)],
            billing: BillingClass::Safety,
            heavy: true,
            ..ToolSpec::open(
                "audit.export_package",
                1,
                "Export the audit package",
                E::says(
                    "Build your tenant's signed audit package for a closed range of its audit chain (default: all of it) and get a download link (GET it with the same credentials). Verify it offline with `tollgate audit verify` or examples/verify_package.py.",
                    "Build the signed audit package for a closed range of the audit chain (default: all of it) and get a download link (GET it with the same credentials). Verify it offline with `tollgate audit verify` or examples/verify_package.py.",
                ),
            )
        }
    }

    fn read(&self, input: ExportInput, cx: &ToolCx, conn: &crate::store::Db) -> Result<ExportOutput, ToolError> {
        export(cx, conn, ExportRange { from_seq: input.from_seq, to_seq: input.to_seq })
    }
}

/// `tenant.export_data`: everything the tenant has with us, as a package.
pub struct ExportData;

impl<E: EditionKind> ReadTool<E> for ExportData {
    type Input = NoArguments;
    type Output = ExportOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: &[Role::TenantAdmin],
            editions: Editions::MultiTenantOnly,
            tenant_scoped: true,
            feature: Some(Feature::DataExport),
            charges: &[(Counter::DataExports, 1)],
            billing: BillingClass::Safety,
            heavy: true,
            ..ToolSpec::open(
                "tenant.export_data",
                1,
                "Export the tenant's data",
                "Export everything tollgate holds about your tenant (tenant, keys' metadata, plan history, usage ledger, the whole signed audit chain) as a deterministic list of artifacts written as an audit package, with a download link.",
            )
        }
    }

    fn read(&self, _input: NoArguments, cx: &ToolCx, conn: &crate::store::Db) -> Result<ExportOutput, ToolError> {
        export(cx, conn, ExportRange::default())
    }
}
