//! Events between the instances of a PostgreSQL deployment: `NOTIFY` inside
//! the transaction that made the change, `LISTEN` on a dedicated session.
//!
//! Invariants: a payload carries ids only (a tenant id, key ids), never data;
//! it is delivered only if its transaction committed (PostgreSQL sends
//! notifications at COMMIT); an instance ignores its own (its writer's backend
//! pid); after the listening session is lost and re-established, the listener
//! is told to resynchronise (notifications sent in between are gone). The
//! listening session must reach PostgreSQL directly: a transaction-pooling
//! proxy (PgBouncer in transaction mode) does not keep LISTEN.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::error::StoreError;
use super::sql::{Db, Kind, args};

/// The channel tollgate's instances talk on.
pub const CHANNEL: &str = "tollgate_events";

/// Largest payload PostgreSQL accepts, with room to spare.
pub const MAX_PAYLOAD: usize = 7000;

/// Queue `payload` for the other instances, delivered when the current
/// transaction commits (nothing on SQLite: one process, no one to tell).
pub fn announce(conn: &Db, payload: &str) -> Result<(), StoreError> {
    if conn.kind() == Kind::Postgres {
        conn.one("SELECT pg_notify(?1, ?2)", args![CHANNEL, payload], |_| Ok(()))?;
    }
    Ok(())
}

/// What the listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Another instance's payload.
    Payload(String),
    /// The listening session was re-established: anything may have been missed.
    Resync,
}

/// The listening thread; stops when dropped.
pub struct Listener {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Listen on `url`, skipping notifications sent by backend `own_pid` (this
/// instance's writer), handing the rest to `on`.
pub(super) fn listen(url: String, own_pid: i32, on: Box<dyn Fn(Heard) + Send>) -> Result<Listener, StoreError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::Builder::new().name("tollgate-listen".into()).spawn(move || {
        let mut first = true;
        while !flag.load(Ordering::Relaxed) {
            match super::pg_tls::connect(&url).and_then(|mut c| {
                c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                Ok(c)
            }) {
                Ok(mut client) => {
                    if !first {
                        tracing::warn!("the event listener reconnected; resynchronising");
                        on(Heard::Resync);
                    }
                    first = false;
                    pump(&mut client, own_pid, &flag, on.as_ref());
                }
                Err(e) => {
                    tracing::error!(error = %e, "the event listener cannot connect; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    })?;
    Ok(Listener { stop, handle: Some(handle) })
}

/// Deliver notifications until the session fails or `stop` is set.
fn pump(client: &mut postgres::Client, own_pid: i32, stop: &AtomicBool, on: &dyn Fn(Heard)) {
    use postgres::fallible_iterator::FallibleIterator;
    while !stop.load(Ordering::Relaxed) {
        {
            let mut notifications = client.notifications();
            let mut batch = notifications.timeout_iter(Duration::from_millis(250));
            loop {
                match batch.next() {
                    Ok(Some(n)) if n.process_id() != own_pid => on(Heard::Payload(n.payload().to_owned())),
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "the event listener lost its session");
                        return;
                    }
                }
            }
        }
        if client.is_closed() {
            return;
        }
    }
}
