//! `GET /packages/{id}`: download an audit package built by
//! `audit.export_package` or `tenant.export_data`.
//!
//! Invariants: this handler decides nothing: the governed core
//! ([`crate::server::access`]) authenticates with the same code as `/mcp`, decides
//! who may have the package and audits every decision; here its decision
//! only becomes a status (another tenant's package and an unknown id are the
//! same 404; an expired package is 410). The tar is streamed from the file
//! the core opened, never read whole into memory.

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use tokio_util::io::ReaderStream;

use super::reply::{rpc_error_reply, status_only};
use super::{AppState, credential};
use crate::server::access::Download;

/// Bytes read from the package file per body chunk.
const CHUNK: usize = 64 * 1024;

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
    let credential = credential(&state, &headers, cert.as_ref());
    let (package, tar, len) = match gov.download_package(&credential, state.options.transport, &id).await {
        Download::Granted { package, tar, len } => (package, tar, len),
        Download::Refused(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
            return rpc_error_reply(status, &e);
        }
        Download::NotFound => return status_only(StatusCode::NOT_FOUND, &[]),
        Download::Gone => return status_only(StatusCode::GONE, &[]),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.tar\"", package.id))
        .header("x-manifest-sha256", package.manifest_sha256)
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::CONTENT_LENGTH, len)
        // Streamed from the open file in 64 KiB chunks: memory per download
        // is bounded whatever the package's size.
        .body(Body::from_stream(ReaderStream::with_capacity(tar, CHUNK)))
        .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR, &[]))
}
