//! `GET /packages/{id}`: download an audit package built by
//! `audit.export_package` or `tenant.export_data`.
//!
//! Invariants: the same credentials as `/mcp` (a bearer key), checked by the
//! same authenticator; only an auditor or tenant admin of the package's own
//! tenant gets it — anyone else, and an unknown id, get the same 404; an
//! expired package is 410; every download is audited in the tenant's chain.

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Map;

use super::reply::{rpc_error_reply, status_only};
use super::{AppState, credential};
use crate::audit::{Decision, RecordDraft};
use crate::gate::auth_error;
use crate::identity::Role;
use crate::package::PackageFiles;
use crate::store::audit_log;

/// The handler.
pub(super) async fn download(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    cert: Option<axum::Extension<super::listener::ClientCert>>,
) -> Response {
    let cert = cert.map(|axum::Extension(c)| c.0);
    let gov = state.server.governance();
    if let Err(e) = gov.admit_address(peer.ip(), state.options.transport) {
        return super::reply::rate_limited(&e);
    }
    if let Err(status) = state.options.allowed_hosts.check(&headers) {
        return status_only(status, &[]);
    }
    let principal = match gov.authenticator.authenticate(&credential(&state, &headers, cert.as_ref())) {
        Ok(p) => p,
        Err(e) => {
            let error = auth_error(&e);
            let status = if error.code == crate::wire::errors::UNAVAILABLE {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            return rpc_error_reply(status, &error);
        }
    };
    let Ok(Some(dir)) =
        gov.store.read(|c| Ok(c.path().and_then(|p| std::path::Path::new(p).parent().map(std::path::PathBuf::from))))
    else {
        return status_only(StatusCode::SERVICE_UNAVAILABLE, &[]);
    };
    let files = PackageFiles::new(&dir);
    let allowed = matches!(principal.role, Role::TenantAdmin | Role::Auditor);
    let Some(package) =
        files.get(&id).filter(|p| allowed && principal.tenant.as_ref().is_some_and(|t| t.0 == p.tenant))
    else {
        return status_only(StatusCode::NOT_FOUND, &[]);
    };
    let now = gov.clock.now_rfc3339();
    if package.expires_at.as_str() < now.as_str() {
        return status_only(StatusCode::GONE, &[]);
    }
    let tar = files.tar_path(&package.id);
    let Ok(Ok(bytes)) = tokio::task::spawn_blocking(move || std::fs::read(tar)).await else {
        return status_only(StatusCode::GONE, &[]);
    };
    let draft = RecordDraft {
        ts: now,
        request_id: crate::audit::new_request_id(),
        principal: principal.id.clone(),
        tenant: package.tenant.clone(),
        tool: Some("package.download".into()),
        version: None,
        decision: Decision::Allow,
        reason: None,
        args_digest: None,
        result_digest: Some(package.manifest_sha256.clone()),
        usage: Map::new(),
        transport: state.options.transport.as_str().into(),
        aggregate: None,
    };
    let chain = package.tenant.clone();
    if let Err(e) = gov.store.write(move |w| audit_log::append(w, &chain, draft).map(|_| ())).await {
        // Never hand out a package without its audit record.
        return rpc_error_reply(StatusCode::SERVICE_UNAVAILABLE, &crate::wire::errors::RpcError::unavailable(e));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.tar\"", package.id))
        .header("x-manifest-sha256", package.manifest_sha256)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(bytes))
        .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR, &[]))
}
