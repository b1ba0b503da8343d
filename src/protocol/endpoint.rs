//! The MCP endpoint as transports see it: one entry point per kind of message.
//!
//! Invariant: every transport goes through [`McpServer::request`], so the same
//! request gets the same answer on stdio, HTTP and HTTPS.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;

use super::era::{self, Route};
use super::session::{LegacySession, SessionStore};
use super::{methods, shape};
use crate::config::Config;
use crate::identity::Credential;
use crate::server::call::Governance;
use crate::server::dispatch::{DEFAULT_PAGE_SIZE, Dispatcher};
use crate::store::Store;
use crate::tools::{self, Registry, registry::RegistryError};
use crate::wire::NotificationSink;
use crate::wire::TransportKind;
use crate::wire::errors::RpcError;
use crate::wire::jsonrpc::{self, Incoming, Notification, Request};

/// The only legacy revision whose clients may send JSON-RPC batches.
pub const BATCH_VERSION: &str = "2025-03-26";

/// Most messages in one batch (a batch must not multiply one request's cost without bound).
pub const MAX_BATCH: usize = 32;

/// How the server is put together.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Register the conformance suites' fixture tools (loopback only).
    pub conformance: bool,
    /// Tools per `tools/list` page.
    pub page_size: usize,
    /// Most legacy HTTP sessions held at once.
    pub session_capacity: usize,
    /// A legacy HTTP session unused this long is forgotten.
    pub session_idle: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            conformance: false,
            page_size: DEFAULT_PAGE_SIZE,
            session_capacity: 1024,
            session_idle: Duration::from_secs(30 * 60),
        }
    }
}

/// Why the server could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("dispatcher: {0}")]
    Dispatcher(#[from] jsonrpsee::core::RegisterMethodError),
}

/// One server, shared by every transport.
pub struct McpServer {
    dispatcher: Dispatcher,
    /// Legacy HTTP sessions.
    pub sessions: SessionStore,
    pub options: ServerOptions,
}

/// The tools a server with these options offers.
pub fn registry(options: &ServerOptions) -> Result<Registry, RegistryError> {
    let mut registry: Registry = tools::standard()?;
    if options.conformance {
        tools::conformance::register(&mut registry)?;
    }
    Ok(registry)
}

impl McpServer {
    /// A server over an open store.
    pub fn new(options: ServerOptions, store: Arc<Store>, config: Config) -> Result<Arc<Self>, BuildError> {
        let registry = Arc::new(registry(&options)?);
        let clock = store.clock.clone();
        let gov = Arc::new(Governance::new(store, clock, config, registry)?);
        let dispatcher = Dispatcher::new(gov, options.page_size)?;
        let sessions = SessionStore::new(options.session_capacity, options.session_idle);
        Ok(Arc::new(Self { dispatcher, sessions, options }))
    }

    /// Called once the transport stops accepting: every listen stream ends
    /// with its closing message, so that in-flight requests can drain.
    pub fn begin_shutdown(&self) {
        self.governance().events.close_all();
    }

    /// The tools this server offers.
    pub fn registry(&self) -> &Arc<Registry> {
        self.dispatcher.registry()
    }

    /// The governed core (store, clock, config).
    pub fn governance(&self) -> &Arc<Governance> {
        self.dispatcher.governance()
    }

    /// Serve one request; the result is already shaped for its era.
    pub async fn request(
        &self,
        request: &Request,
        route: &Route,
        transport: TransportKind,
        sink: Option<NotificationSink>,
        credential: Credential,
    ) -> Result<Value, RpcError> {
        let context = era::admit(request, route, transport, sink, credential, &self.governance().sealed_asker())?;
        let era = context.era;
        let result = if methods::is_era_method(&request.method) {
            let session = match route {
                Route::Legacy { session } => Some(session),
                Route::Modern { .. } => None,
            };
            methods::call(self.governance(), &request.method, &request.params, &context, session)?
        } else {
            self.dispatcher.call(&request.method, &request.params, context).await?
        };
        Ok(shape::finish(era, result))
    }

    /// A client notification. Cancellation is the transport's to act on; the
    /// rest needs no answer and changes nothing we keep.
    pub fn notification(&self, notification: &Notification) {
        tracing::debug!(method = %notification.method, "client notification");
    }

    /// A JSON-RPC batch: served element by element on a 2025-03-26 conversation,
    /// refused everywhere else. `None` when every element was a notification.
    pub async fn batch(
        &self,
        items: Vec<Box<serde_json::value::RawValue>>,
        session: Option<&Arc<LegacySession>>,
        transport: TransportKind,
        credential: &Credential,
    ) -> Result<Option<Vec<jsonrpc::Reply>>, RpcError> {
        let Some(session) = session.filter(|s| s.state().version.as_deref() == Some(BATCH_VERSION)) else {
            return Err(RpcError::invalid_request(format!(
                "Invalid request: JSON-RPC batches are accepted only on {BATCH_VERSION} sessions"
            )));
        };
        if items.len() > MAX_BATCH {
            return Err(RpcError::invalid_request(format!(
                "Invalid request: a batch holds at most {MAX_BATCH} messages"
            )));
        }
        let route = Route::Legacy { session: Arc::clone(session) };
        let replies = join_all(items.into_iter().map(|item| {
            let route = &route;
            async move {
                match jsonrpc::parse(item.get().as_bytes()) {
                    Ok(Incoming::Request(req)) if req.method == "initialize" => Some(jsonrpc::failure(
                        &req.id,
                        &RpcError::invalid_request("Invalid request: initialize cannot be batched"),
                    )),
                    Ok(Incoming::Request(req)) => {
                        Some(match self.request(&req, route, transport, None, credential.clone()).await {
                            Ok(result) => jsonrpc::success(&req.id, result),
                            Err(e) => jsonrpc::failure(&req.id, &e),
                        })
                    }
                    Ok(Incoming::Notification(n)) => {
                        self.notification(&n);
                        None
                    }
                    Ok(Incoming::Response { .. }) => None,
                    Ok(Incoming::Batch(_)) => Some(jsonrpc::failure(
                        &jsonrpc::Id::null(),
                        &RpcError::invalid_request("Invalid request: nested batch"),
                    )),
                    Err(rejected) => Some(jsonrpc::failure(&rejected.id, &rejected.error)),
                }
            }
        }))
        .await;
        let replies: Vec<jsonrpc::Reply> = replies.into_iter().flatten().collect();
        Ok((!replies.is_empty()).then_some(replies))
    }
}
