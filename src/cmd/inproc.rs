//! A tollgate HTTP server inside this process on a free loopback port, for
//! the commands that drive a data dir through the real call path (`demo`,
//! `seed`) rather than writing to the store behind the gate's back.
//!
//! Invariant: every change these commands make is a governed, audited call;
//! stopping the server flushes its checkpoints and closes the store.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::protocol::endpoint::{McpServer, ServerOptions};
use crate::store::{Store, StoreOptions};
use crate::transport::http::{AllowedHosts, HttpOptions};
use crate::wire::TransportKind;

/// A running in-process server.
pub struct InProcess {
    pub addr: SocketAddr,
    store: Arc<Store>,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    /// Serve `dir` with `config` on 127.0.0.1 (a free port).
    pub async fn start(dir: &Path, config: Config) -> Result<Self, String> {
        let store = Store::open(dir, Clock::system(), StoreOptions::default()).map_err(|e| e.to_string())?;
        let oauth = crate::transport::http::oauth::ProtectedResource::of(&config.oauth);
        let server = McpServer::new(ServerOptions::default(), Arc::clone(&store), config).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let options = HttpOptions {
            max_body_bytes: crate::transport::http::DEFAULT_MAX_BODY,
            allowed_hosts: AllowedHosts::default(),
            transport: TransportKind::Http,
            local_admin_fallback: false,
            oauth,
        };
        let app = crate::transport::http::router(server, options).into_make_service_with_connect_info::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, store, stop, serving })
    }

    /// Stop serving and close the store (its final checkpoints are signed).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.serving.await;
        self.store.shutdown();
    }
}
