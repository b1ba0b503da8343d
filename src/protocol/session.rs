//! Legacy (2025) conversations: what `initialize` negotiated for a stdio
//! process or an HTTP session.
//!
//! Invariants: the 2026-07-28 era never touches this module; the HTTP store
//! holds at most `capacity` sessions and forgets idle ones, so clients that
//! never close theirs cannot exhaust it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

pub use super::session_share::PER_PRINCIPAL;
use super::session_share::{Owner, Shares};
use crate::sync::lock;
use crate::wire::LogLevel;
use crate::wire::denial::Denial;

/// What a legacy conversation has negotiated so far.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    /// Set by a successful `initialize`.
    pub version: Option<String>,
    pub client_capabilities: Map<String, Value>,
    /// Set by `logging/setLevel`; `None`: no log notifications.
    pub log_level: Option<LogLevel>,
    /// The principal that opened the session; every later request must be theirs.
    pub principal: Option<String>,
    /// That principal's tenant (`None`: a platform principal), for the tenant's share of the capacity.
    pub tenant: Option<String>,
}

/// The client's answer to a server-to-client request: its result, or its error object.
pub type ClientAnswer = Result<Value, Value>;

/// One legacy conversation.
#[derive(Debug)]
pub struct LegacySession {
    id: String,
    state: Mutex<SessionState>,
    last_seen: Mutex<Instant>,
    /// Server-to-client requests waiting for the client's response, by request id.
    pending: Mutex<HashMap<String, oneshot::Sender<ClientAnswer>>>,
    next_request: AtomicU64,
}

impl LegacySession {
    /// A new conversation with a fresh, unguessable id.
    pub fn new() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            state: Mutex::new(SessionState::default()),
            last_seen: Mutex::new(Instant::now()),
            pending: Mutex::default(),
            next_request: AtomicU64::new(1),
        }
    }

    /// A fresh id for a server-to-client request, and where its answer will arrive.
    pub fn expect_answer(&self) -> (String, oneshot::Receiver<ClientAnswer>) {
        // Unguessable, so that nobody can answer a question they were not shown.
        let mut nonce = [0u8; 8];
        rand::rng().fill_bytes(&mut nonce);
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let id = format!("tollgate-{n}-{}", hex::encode(nonce));
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        (id, rx)
    }

    /// Forget a request that will not be answered (timed out or cancelled).
    pub fn forget(&self, id: &str) {
        lock(&self.pending).remove(id);
    }

    /// Deliver the client's response; false if no request with this id is waiting
    /// (an unknown or late answer is dropped, never delivered to another request).
    pub fn answer(&self, id: &Value, outcome: ClientAnswer) -> bool {
        let Some(id) = id.as_str() else { return false };
        match lock(&self.pending).remove(id) {
            Some(waiting) => waiting.send(outcome).is_ok(),
            None => false,
        }
    }

    /// The id sent as `Mcp-Session-Id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A snapshot of the negotiated state.
    pub fn state(&self) -> SessionState {
        lock(&self.state).clone()
    }

    /// Change the negotiated state.
    pub fn update(&self, f: impl FnOnce(&mut SessionState)) {
        f(&mut lock(&self.state));
    }

    fn touch(&self) {
        *lock(&self.last_seen) = Instant::now();
    }

    fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(*lock(&self.last_seen))
    }
}

impl Default for LegacySession {
    fn default() -> Self {
        Self::new()
    }
}

/// HTTP legacy sessions by id.
#[derive(Debug)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Arc<LegacySession>>>,
    shares: Shares,
    idle_timeout: Duration,
}

impl SessionStore {
    pub fn new(capacity: usize, idle_timeout: Duration) -> Self {
        Self { sessions: Mutex::new(HashMap::new()), shares: Shares::of(capacity), idle_timeout }
    }

    /// Keep a newly initialized session, evicting idle ones first, if it fits
    /// the capacity and its tenant's and principal's shares of it
    /// (-31503 `sessions_full` naming the share otherwise).
    pub fn insert(&self, session: Arc<LegacySession>) -> Result<(), Denial> {
        let mut map = lock(&self.sessions);
        let now = Instant::now();
        map.retain(|_, s| s.idle_for(now) < self.idle_timeout);
        let held: Vec<SessionState> = map.values().map(|s| s.state()).collect();
        let new = session.state();
        self.shares.admit(held.iter().map(owner), owner(&new))?;
        map.insert(session.id().to_owned(), session);
        Ok(())
    }

    /// The live session with this id (refreshing its idle clock).
    pub fn get(&self, id: &str) -> Option<Arc<LegacySession>> {
        let mut map = lock(&self.sessions);
        let now = Instant::now();
        let session = map.get(id).cloned()?;
        if session.idle_for(now) >= self.idle_timeout {
            map.remove(id);
            return None;
        }
        session.touch();
        Some(session)
    }

    /// End a session; false if it did not exist.
    pub fn remove(&self, id: &str) -> bool {
        lock(&self.sessions).remove(id).is_some()
    }

    /// Number of live sessions (for metrics).
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn owner(state: &SessionState) -> Owner<'_> {
    Owner { tenant: state.tenant.as_deref(), principal: state.principal.as_deref() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_store_refuses_and_idle_sessions_are_evicted() {
        let store = SessionStore::new(1, Duration::from_secs(3600));
        assert!(store.insert(Arc::new(LegacySession::new())).is_ok());
        let full = Denial::SessionsFull { share: crate::wire::denial::SessionShare::Capacity, limit: 1 };
        assert_eq!(store.insert(Arc::new(LegacySession::new())), Err(full));
        let idle = SessionStore::new(1, Duration::ZERO);
        let s = Arc::new(LegacySession::new());
        assert!(idle.insert(Arc::clone(&s)).is_ok());
        assert!(idle.get(s.id()).is_none(), "an idle session is forgotten");
        assert!(idle.insert(Arc::new(LegacySession::new())).is_ok(), "room was made");
    }

    #[test]
    fn one_principal_cannot_fill_the_store() {
        let store = SessionStore::new(1000, Duration::from_secs(3600));
        let owned = |who: &str| {
            let s = Arc::new(LegacySession::new());
            s.update(|st| st.principal = Some(who.to_owned()));
            s
        };
        for _ in 0..PER_PRINCIPAL {
            assert!(store.insert(owned("k1")).is_ok());
        }
        let full = Denial::SessionsFull { share: crate::wire::denial::SessionShare::Principal, limit: PER_PRINCIPAL };
        assert_eq!(store.insert(owned("k1")), Err(full));
        assert!(store.insert(owned("k2")).is_ok(), "another principal still gets a session");
    }

    #[test]
    fn session_ids_are_unique_and_long() {
        let (a, b) = (LegacySession::new(), LegacySession::new());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 32);
    }
}
