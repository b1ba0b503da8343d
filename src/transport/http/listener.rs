//! The accept loop of `serve`, over plain TCP or TLS: connection limit,
//! handshake and header timeouts, a per-request deadline, graceful shutdown.
//!
//! Invariants: at most `max_connections` connections are served at once, and
//! at most `max_per_address` from one client address (more are closed at
//! accept, before any byte is read, and counted); the client certificate a
//! request is credited with comes from the TLS session of its own connection
//! (a request extension), never from a header; on shutdown nothing new is
//! accepted and in-flight requests get `shutdown_grace` to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::per_address::AddressSlots;
use crate::identity::CertFingerprint;
use crate::metrics;

/// Limits and TLS of the listener.
#[derive(Clone)]
pub struct ListenOptions {
    /// `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections served at once from one client address (an IPv6 /64).
    pub max_per_address: usize,
    /// Loopback clients (a same-host proxy, local tools) are not capped per address.
    pub exempt_loopback: bool,
    /// A TLS handshake that takes longer is dropped.
    pub handshake_timeout: Duration,
    /// Longest wait for a request's headers (also bounds an idle keep-alive connection).
    pub header_timeout: Duration,
    /// Longest time from a request's headers to its response's headers (a
    /// streamed response body is not cut).
    pub request_timeout: Duration,
    /// How long in-flight requests may run after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            tls: None,
            max_connections: 1024,
            max_per_address: 256,
            exempt_loopback: true,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The verified client certificate of the connection a request arrived on
/// (a request extension set by this listener only).
#[derive(Debug, Clone)]
pub struct ClientCert(pub CertFingerprint);

/// Serve `app` on `listener` until `shutdown` resolves; then call
/// `on_shutdown` (to end long-lived streams) and wait for in-flight
/// requests up to the grace period.
pub async fn run(
    listener: TcpListener,
    app: Router,
    options: ListenOptions,
    shutdown: impl Future<Output = ()>,
    on_shutdown: impl FnOnce(),
) -> std::io::Result<()> {
    let limit = Arc::new(Semaphore::new(options.max_connections));
    let per_address = AddressSlots::new(options.max_per_address, options.exempt_loopback);
    let graceful = GracefulShutdown::new();
    let acceptor = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // The address's share first, so a refused address never takes a global slot.
        let Some(slot) = per_address.try_acquire(peer.ip()) else {
            metrics::get().connection_refused_per_address();
            drop(stream);
            continue;
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            metrics::get().connection_refused();
            drop(stream);
            continue;
        };
        let (app, options, acceptor, watcher) = (app.clone(), options.clone(), acceptor.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _permit = (permit, slot);
            match acceptor {
                None => serve_connection(stream, peer, None, app, &options, watcher).await,
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(options.handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                    };
                    let cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|der| ClientCert(CertFingerprint::of_der(der.as_ref())));
                    serve_connection(tls, peer, cert, app, &options, watcher).await;
                }
            }
        });
    }
    drop(listener);
    on_shutdown();
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing the remaining connections");
    }
    Ok(())
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    cert: Option<ClientCert>,
    app: Router,
    options: &ListenOptions,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _open = metrics::get().connection_opened();
    let deadline = options.request_timeout;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        if let Some(c) = &cert {
            request.extensions_mut().insert(c.clone());
        }
        let app = app.clone();
        async move {
            match tokio::time::timeout(deadline, app.oneshot(request)).await {
                Ok(answer) => answer,
                Err(_) => Ok(timed_out()),
            }
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(options.header_timeout);
    let connection = http.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// 503 for a request that outran `request_timeout` (its id is unknown here).
fn timed_out() -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": crate::wire::errors::UNAVAILABLE,
            "message": "Unavailable: the request took longer than the server's request timeout; retry later",
            "data": { "reason": "request_timeout" }
        }
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Adds `Strict-Transport-Security` to every answer (TLS listeners only).
pub async fn hsts(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(crate::transport::tls::HSTS));
    response
}
