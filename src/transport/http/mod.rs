//! Streamable HTTP at `/mcp`, plus `/healthz` and `/readyz`.
//!
//! Invariants: the era is decided per request from `MCP-Protocol-Version`
//! (absent or legacy: 2025; 2026-07-28: modern; any other value is refused
//! on the modern path before its method is looked at); every answer's status
//! is decided before a stream starts (a response turns into SSE only when the
//! handler sends a notification, after every check has passed); Origin and
//! Host are checked before anything else is read.

mod guard;
pub mod listener;
pub mod oauth;
mod packages;
mod per_address;
mod reply;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::identity::{CertFingerprint, Credential};
use crate::protocol::endpoint::McpServer;
use crate::protocol::era::Route;
use crate::protocol::headers::{self, HeaderField, McpHeaders};
use crate::protocol::session::LegacySession;
use crate::protocol::{meta, version};
use crate::server::access::SessionRefusal;
use crate::wire::errors::RpcError;
use crate::wire::is_legacy_version;
use crate::wire::jsonrpc::{self, Incoming};

pub use guard::AllowedHosts;
use reply::{json_reply, rpc_error_reply, status_only};
pub use state::HttpOptions;
pub(crate) use state::{AppState, credential};

/// Header that names a legacy session.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Default largest accepted request body.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The HTTP application (routes and limits), transport-agnostic below TCP/TLS.
pub fn router(server: Arc<McpServer>, options: HttpOptions) -> Router {
    let limit = options.max_body_bytes;
    let resource = options.oauth.clone();
    let state = AppState { server, options: Arc::new(options) };
    let mut router = Router::new()
        .route("/mcp", axum::routing::any(mcp))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/packages/{id}", get(packages::download));
    if let Some(r) = &resource {
        let document = Router::new().route(&r.metadata_path, get(oauth::metadata)).with_state(Arc::clone(r));
        router = router.merge(document);
    }
    router
        .layer(axum::middleware::map_response_with_state(resource, oauth::challenge))
        .layer(axum::middleware::map_response(reply::security_headers))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// `/readyz`: 200 only when the store takes a write (an empty transaction
/// through the single writer), else 503: a server that cannot commit cannot
/// serve governed calls.
async fn ready(State(state): State<AppState>) -> Response {
    match state.server.governance().store.write(|_| Ok(())).await {
        Ok(()) => status_only(StatusCode::OK, &[]),
        Err(e) => rpc_error_reply(StatusCode::SERVICE_UNAVAILABLE, &RpcError::unavailable(e)),
    }
}

/// Bind, print the address on stderr, and serve (HTTPS when `listen_options`
/// has TLS) until SIGTERM or Ctrl-C; then stop accepting, tell long-lived
/// streams through [`McpServer::shutdown`], and let in-flight requests finish.
pub async fn serve(
    server: Arc<McpServer>,
    listen: SocketAddr,
    mut options: HttpOptions,
    listen_options: listener::ListenOptions,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {listen}: {e} (try another --listen, or port 0 for a free one)"),
        )
    })?;
    let local = listener.local_addr()?;
    options.allowed_hosts.add_bound(local);
    let tls = listen_options.tls.is_some();
    eprintln!("listening on {}://{local}/mcp", if tls { "https" } else { "http" });
    let sweeper = Arc::clone(&server);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            sweeper.governance().sweep();
        }
    });
    let shutting_down = Arc::clone(&server);
    let mut app = router(server, options);
    if tls {
        app = app.layer(axum::middleware::map_response(listener::hsts));
    }
    listener::run(listener, app, listen_options, shutdown_signal(), move || shutting_down.begin_shutdown()).await?;
    eprintln!("shutting down: in-flight requests finished");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

async fn mcp(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    cert: Option<axum::Extension<listener::ClientCert>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let cert = cert.map(|axum::Extension(c)| c.0);
    let cert = cert.as_ref();
    if let Err(e) = state.server.governance().admit_address(peer.ip(), state.options.transport) {
        return reply::rate_limited(&e);
    }
    if let Err(status) = state.options.allowed_hosts.check(&headers) {
        return rpc_error_reply(status, &RpcError::invalid_request("Forbidden: Origin or Host is not allowed"));
    }
    let modern = match headers.get(headers::PROTOCOL_VERSION) {
        None => false,
        Some(v) => !is_legacy_version(v.to_str().unwrap_or_default()),
    };
    match method {
        Method::POST => {}
        Method::DELETE if !modern => return delete_session(&state, &headers, cert),
        _ => return status_only(StatusCode::METHOD_NOT_ALLOWED, &[("allow", "POST")]),
    }
    if let Err(resp) = guard::check_post_headers(&headers) {
        return resp;
    }
    let bytes = match axum::body::to_bytes(body, state.options.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let e = RpcError::invalid_request(format!(
                "Invalid request: body larger than {} bytes",
                state.options.max_body_bytes
            ));
            return rpc_error_reply(StatusCode::PAYLOAD_TOO_LARGE, &e);
        }
    };
    if modern {
        modern_post(&state, &headers, &bytes, cert).await
    } else {
        legacy_post(&state, &headers, &bytes, cert).await
    }
}

/// Carry an HTTP `Idempotency-Key` into `_meta` (the body's own key wins). A
/// header that is not text is carried as `null`, which the gate refuses,
/// rather than silently running the call without deduplication.
fn with_idempotency_header(mut request: jsonrpc::Request, headers: &HeaderMap) -> jsonrpc::Request {
    let Some(raw) = headers.get("idempotency-key") else { return request };
    let key = raw.to_str().map_or(serde_json::Value::Null, |k| serde_json::json!(k));
    let meta = request.params.entry("_meta").or_insert_with(|| serde_json::json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.entry(crate::wire::META_IDEMPOTENCY_KEY).or_insert(key);
    }
    request
}

fn mcp_headers(headers: &HeaderMap) -> McpHeaders {
    let field = |name: &str| HeaderField::from_bytes(headers.get(name).map(|v| v.as_bytes()));
    McpHeaders {
        protocol_version: field(headers::PROTOCOL_VERSION),
        method: field(headers::METHOD),
        name: field(headers::NAME),
    }
}

/// A POST whose `MCP-Protocol-Version` is not 2025: 2026-07-28, or a value we
/// do not speak, which [`version::refuse_unsupported`] answers before the
/// method or any session is looked at.
async fn modern_post(state: &AppState, headers: &HeaderMap, bytes: &Bytes, cert: Option<&CertFingerprint>) -> Response {
    let incoming = match jsonrpc::parse(bytes) {
        Ok(i) => i,
        Err(rejected) => {
            return json_reply(StatusCode::BAD_REQUEST, &jsonrpc::failure(&rejected.id, &rejected.error), &[]);
        }
    };
    let mcp = mcp_headers(headers);
    let (id, params) = match &incoming {
        Incoming::Request(r) => (r.id.clone(), Some(&r.params)),
        Incoming::Notification(n) => (jsonrpc::Id::null(), Some(&n.params)),
        Incoming::Response { .. } | Incoming::Batch(_) => (jsonrpc::Id::null(), None),
    };
    if let Some(e) = version::refuse_unsupported(&mcp.protocol_version, params) {
        return json_reply(reply::modern_status(&e), &jsonrpc::failure(&id, &e), &[]);
    }
    match incoming {
        Incoming::Request(request) => {
            let route = Route::Modern { headers: Some(mcp) };
            reply::serve_request(
                Arc::clone(&state.server),
                with_idempotency_header(request, headers),
                route,
                state.options.transport,
                true,
                credential(state, headers, cert),
            )
            .await
        }
        Incoming::Notification(n) => {
            state.server.notification(&n);
            status_only(StatusCode::ACCEPTED, &[])
        }
        Incoming::Response { .. } => status_only(StatusCode::ACCEPTED, &[]),
        Incoming::Batch(_) => rpc_error_reply(
            StatusCode::BAD_REQUEST,
            &RpcError::invalid_request("Invalid request: JSON-RPC batches are not part of protocol version 2026-07-28"),
        ),
    }
}

async fn legacy_post(state: &AppState, headers: &HeaderMap, bytes: &Bytes, cert: Option<&CertFingerprint>) -> Response {
    let incoming = match jsonrpc::parse(bytes) {
        Ok(i) => i,
        Err(rejected) => {
            return json_reply(StatusCode::BAD_REQUEST, &jsonrpc::failure(&rejected.id, &rejected.error), &[]);
        }
    };
    let transport = state.options.transport;
    if let Incoming::Request(request) = &incoming {
        if headers.get(headers::PROTOCOL_VERSION).is_none() && meta::has_modern_marker(&request.params) {
            let e =
                RpcError::header_mismatch(headers::PROTOCOL_VERSION, "is required when _meta names a protocol version");
            return json_reply(StatusCode::BAD_REQUEST, &jsonrpc::failure(&request.id, &e), &[]);
        }
        if request.method == "initialize" {
            return initialize(state, request.clone(), credential(state, headers, cert)).await;
        }
    }
    let session = match find_session(state, headers) {
        Ok(s) => s,
        Err((status, error)) => {
            let id = match &incoming {
                Incoming::Request(r) => r.id.clone(),
                _ => jsonrpc::Id::null(),
            };
            return json_reply(status, &jsonrpc::failure(&id, &error), &[]);
        }
    };
    match incoming {
        Incoming::Request(request) => {
            let route = Route::Legacy { session };
            reply::serve_request(
                Arc::clone(&state.server),
                with_idempotency_header(request, headers),
                route,
                transport,
                false,
                credential(state, headers, cert),
            )
            .await
        }
        Incoming::Notification(n) => {
            state.server.notification(&n);
            status_only(StatusCode::ACCEPTED, &[])
        }
        Incoming::Response { id, outcome } => {
            // The answer to a question a tool put on this session's exchange: only
            // the session's own principal may answer (a confirmation is an authorization).
            if let Err(refused) = session_owner(state, headers, cert, &session, crate::server::access::SESSION_ANSWER) {
                return refused;
            }
            if !session.answer(&id, outcome) {
                tracing::debug!(%id, "a client response matched no waiting request");
            }
            status_only(StatusCode::ACCEPTED, &[])
        }
        Incoming::Batch(items) => {
            match state.server.batch(items, Some(&session), transport, &credential(state, headers, cert)).await {
                Ok(Some(replies)) => json_reply(StatusCode::OK, &replies, &[]),
                Ok(None) => status_only(StatusCode::ACCEPTED, &[]),
                Err(e) => rpc_error_reply(StatusCode::BAD_REQUEST, &e),
            }
        }
    }
}

async fn initialize(state: &AppState, request: jsonrpc::Request, credential: Credential) -> Response {
    let session = Arc::new(LegacySession::new());
    let route = Route::Legacy { session: Arc::clone(&session) };
    let outcome = state.server.request(&request, &route, state.options.transport, None, credential).await;
    match outcome {
        Ok(result) => {
            if let Err(denial) = state.server.sessions.insert(Arc::clone(&session)) {
                let error = denial.to_rpc();
                return json_reply(reply::legacy_status(&error), &jsonrpc::failure(&request.id, &error), &[]);
            }
            let id = session.id().to_owned();
            json_reply(StatusCode::OK, &jsonrpc::success(&request.id, result), &[(SESSION_HEADER, id)])
        }
        Err(e) => json_reply(reply::legacy_status(&e), &jsonrpc::failure(&request.id, &e), &[]),
    }
}

fn find_session(state: &AppState, headers: &HeaderMap) -> Result<Arc<LegacySession>, (StatusCode, RpcError)> {
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        let e = RpcError::invalid_request(
            "Bad Request: no session. Send `initialize` first (2025 revisions), or send \
             MCP-Protocol-Version: 2026-07-28 with Mcp-Method and params._meta (stateless)",
        )
        .with_data(serde_json::json!({ "reason": "session_required" }));
        return Err((StatusCode::BAD_REQUEST, e));
    };
    state.server.sessions.get(id).ok_or_else(|| {
        let e = RpcError::new(
            crate::wire::errors::SESSION_NOT_FOUND,
            "Session not found: it expired or was closed; initialize a new one",
        )
        .with_data(serde_json::json!({ "reason": "session_not_found" }));
        (StatusCode::NOT_FOUND, e)
    })
}

/// End a legacy session: only its own principal may (another one is told
/// the session does not exist, exactly like an unknown id).
fn delete_session(state: &AppState, headers: &HeaderMap, cert: Option<&CertFingerprint>) -> Response {
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        return status_only(StatusCode::BAD_REQUEST, &[]);
    };
    let Some(session) = state.server.sessions.get(id) else { return status_only(StatusCode::NOT_FOUND, &[]) };
    if let Err(refused) = session_owner(state, headers, cert, &session, crate::server::access::SESSION_DELETE) {
        return refused;
    }
    if state.server.sessions.remove(id) {
        status_only(StatusCode::OK, &[])
    } else {
        status_only(StatusCode::NOT_FOUND, &[])
    }
}

/// The governed core's decision on a request that acts on `session`: only
/// its own principal may; any other is told the session does not exist,
/// exactly like an unknown id (and the refusal is audited there).
fn session_owner(
    state: &AppState,
    headers: &HeaderMap,
    cert: Option<&CertFingerprint>,
    session: &LegacySession,
    action: &str,
) -> Result<(), Response> {
    let credential = credential(state, headers, cert);
    let owner = session.state().principal;
    match state.server.governance().session_owner(&credential, state.options.transport, owner.as_deref(), action) {
        Ok(_) => Ok(()),
        Err(SessionRefusal::Refused(e)) => {
            Err(rpc_error_reply(StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::UNAUTHORIZED), &e))
        }
        Err(SessionRefusal::NotFound) => Err(status_only(StatusCode::NOT_FOUND, &[])),
    }
}
