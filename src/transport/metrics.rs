//! The `/metrics` listener, separate from the MCP endpoint so that it is
//! never exposed with it (loopback unless told otherwise).
//!
//! Invariant: it serves only `GET /metrics` (and `/healthz`), reads no
//! request data, and runs no gate: it carries no tenant data to protect.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::protocol::endpoint::McpServer;

/// Bind the metrics listener (printing its address on stderr) and serve it in the background.
pub async fn spawn(server: Arc<McpServer>, listen: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {listen} (--metrics-listen): {e}")))?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        tracing::warn!(%local, "the metrics listener is not on loopback; keep it off public networks");
    }
    eprintln!("metrics on http://{local}/metrics");
    let app = Router::new()
        .route("/metrics", get(move || async move { scrape(&server) }))
        .route("/healthz", get(|| async { "ok\n" }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(local)
}

fn scrape(server: &McpServer) -> Response {
    let body = crate::metrics::get().render(server.sessions.len());
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
