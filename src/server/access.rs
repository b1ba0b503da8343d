//! Governed requests that are not a `tools/call`: downloading an audit
//! package (`GET /packages/{id}`) and acting on a legacy session (its DELETE,
//! a client's answer on it). The transport hands over the credential and
//! turns the decision into a status; it decides nothing itself.
//!
//! Invariants: these authenticate exactly as a `tools/call` does, and every
//! refusal leaves the record a refused call would (unauthenticated ones
//! aggregated in the flood-denial windows); another tenant's package and
//! another principal's session answer exactly like missing ones; a package
//! is never handed out without its audit record.

use serde_json::{Map, json};

use crate::audit::new_request_id;
use crate::audit::{Decision, RecordDraft, digest_json};
use crate::gate::auth_error;
use crate::gate::credentials::{AuthError, AuthFailure};
use crate::identity::{Credential, Principal};
use crate::package::PackageFiles;
use crate::package::files::StoredPackage;
use crate::server::call::{Caller, Governance, chain_of};
use crate::store::audit_log;
use crate::tools::audit_export::EXPORTERS;
use crate::wire::TransportKind;
use crate::wire::errors::RpcError;

/// The tool name package downloads are recorded under.
pub const DOWNLOAD: &str = "package.download";
/// The tool name a legacy session's DELETE is recorded under.
pub const SESSION_DELETE: &str = "session.delete";
/// The tool name a client's answer on a legacy session is recorded under.
pub const SESSION_ANSWER: &str = "session.answer";

/// What a download request gets.
#[derive(Debug)]
pub enum Download {
    /// The package and its `.tar`, opened and its length known, to be
    /// streamed from disk (the download is audited): the server never holds
    /// a whole package in memory.
    Granted { package: StoredPackage, tar: tokio::fs::File, len: u64 },
    /// Not authenticated, or the store cannot answer: the wire error.
    Refused(RpcError),
    /// An unknown id, another tenant's package, or a role that may not
    /// download: all the same to the caller.
    NotFound,
    /// The package expired (or was swept).
    Gone,
}

/// Why a request on a legacy session is refused.
#[derive(Debug)]
pub enum SessionRefusal {
    /// Not authenticated, or the store cannot answer: the wire error.
    Refused(RpcError),
    /// Another principal's session: told it does not exist, like an unknown id.
    NotFound,
}

impl Governance {
    /// Decide a download of package `id`: only an auditor or tenant admin of
    /// the package's own tenant gets it, before it expires.
    pub async fn download_package(&self, credential: &Credential, transport: TransportKind, id: &str) -> Download {
        let request_id = new_request_id();
        let caller = Caller { credential, transport, request_id: &request_id };
        let principal = match self.authenticate_caller(&caller, None, DOWNLOAD) {
            Ok(p) => p,
            Err(e) => return Download::Refused(auth_error(&e).to_rpc()),
        };
        if !EXPORTERS.contains(&principal.role) {
            return self.refuse_download(&caller, &principal, id, "role_required", Download::NotFound).await;
        }
        let files = PackageFiles::new(&self.store.data_dir());
        let own = principal.tenant.as_ref();
        // Another tenant's package is recorded exactly like a missing one: the
        // caller's own chain cannot tell them apart either.
        let Some(package) = files.get(id).filter(|p| own.is_some_and(|t| t.0 == p.tenant)) else {
            return self.refuse_download(&caller, &principal, id, "not_found", Download::NotFound).await;
        };
        let now = self.clock.now_rfc3339();
        if package.expires_at.as_str() < now.as_str() {
            return self.refuse_download(&caller, &principal, id, "package_expired", Download::Gone).await;
        }
        let tar = files.tar_path(&package.id);
        // Opened before the record is written, so a swept file is refused as
        // before; once open, a sweep cannot take the bytes from the reader.
        let Some((file, len)) = open_tar(&tar).await else {
            return self.refuse_download(&caller, &principal, id, "package_expired", Download::Gone).await;
        };
        let mut draft = draft(&caller, &principal, &package.tenant, now, Decision::Allow, None);
        draft.result_digest = Some(package.manifest_sha256.clone());
        let chain = package.tenant.clone();
        if let Err(e) = self.store.write(move |w| audit_log::append(w, &chain, draft).map(|_| ())).await {
            // Never hand out a package without its audit record.
            return Download::Refused(RpcError::unavailable(e));
        }
        Download::Granted { package, tar: file, len }
    }

    /// Record a refused download in the caller's chain; `outcome` if recorded.
    async fn refuse_download(
        &self,
        caller: &Caller<'_>,
        principal: &Principal,
        id: &str,
        reason: &str,
        outcome: Download,
    ) -> Download {
        let chain = chain_of(&self.store, Some(principal), None);
        let mut draft = draft(caller, principal, &chain, self.clock.now_rfc3339(), Decision::Deny, Some(reason));
        draft.args_digest = digest_json(&json!({ "package_id": id })).ok();
        match self.store.write(move |w| audit_log::append(w, &chain, draft).map(|_| ())).await {
            Ok(()) => outcome,
            Err(e) => Download::Refused(RpcError::unavailable(e)),
        }
    }

    /// Decide a request that acts on a legacy session opened by `owner`
    /// (`action`: [`SESSION_DELETE`] or [`SESSION_ANSWER`]): only that
    /// principal may. A refusal is recorded as a refused `tools/call` on that
    /// session is (`session_principal_mismatch`, aggregated).
    pub fn session_owner(
        &self,
        credential: &Credential,
        transport: TransportKind,
        owner: Option<&str>,
        action: &str,
    ) -> Result<Principal, SessionRefusal> {
        let request_id = new_request_id();
        let caller = Caller { credential, transport, request_id: &request_id };
        // A session nobody owns is nobody's: an empty owner matches no principal.
        match self.authenticate_caller(&caller, Some(owner.unwrap_or_default()), action) {
            Ok(p) => Ok(p),
            Err(AuthError::Refused(AuthFailure::SessionPrincipalMismatch)) => Err(SessionRefusal::NotFound),
            Err(e) => Err(SessionRefusal::Refused(auth_error(&e).to_rpc())),
        }
    }
}

/// The package's `.tar` opened for reading and its length; `None` when it is
/// missing or unreadable (swept), which the caller treats as expired.
async fn open_tar(path: &std::path::Path) -> Option<(tokio::fs::File, u64)> {
    let file = tokio::fs::File::open(path).await.ok()?;
    let meta = file.metadata().await.ok()?;
    meta.is_file().then_some((file, meta.len()))
}

fn draft(
    caller: &Caller<'_>,
    principal: &Principal,
    tenant: &str,
    ts: String,
    decision: Decision,
    reason: Option<&str>,
) -> RecordDraft {
    RecordDraft {
        ts,
        request_id: caller.request_id.to_owned(),
        principal: principal.id.clone(),
        tenant: tenant.to_owned(),
        tool: Some(DOWNLOAD.into()),
        version: None,
        decision,
        reason: reason.map(str::to_owned),
        args_digest: None,
        result_digest: None,
        usage: Map::new(),
        transport: caller.transport.as_str().into(),
        aggregate: None,
    }
}

impl Governance {
    /// The key a `tollgate stdio` process was started with, checked like the
    /// credential of any call: a refusal is counted in the flood-denial
    /// windows (`stdio.start`), so a bad start-up key is audited too.
    pub fn admit_stdio_key(&self, credential: &Credential) -> Result<Principal, crate::wire::denial::Denial> {
        let request_id = new_request_id();
        let caller = Caller { credential, transport: TransportKind::Stdio, request_id: &request_id };
        self.authenticate_caller(&caller, None, "stdio.start").map_err(|e| auth_error(&e))
    }
}
