//! A reservation in flight, released through the writer if its call ends
//! without committing (cancelled, or its commit failed).
//!
//! Invariant: every way out of a reserved call either completes the
//! reservation in the call's commit or queues its release.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::handle::Store;
use super::reservations::release;

/// A reservation in flight. Every clone shares it; when the last is dropped
/// before [`Held::completed`] (the call was cancelled, or its commit failed),
/// the reservation is released through the writer.
#[derive(Clone)]
pub struct Held(Arc<HeldInner>);

struct HeldInner {
    store: Arc<Store>,
    request_id: String,
    done: AtomicBool,
}

impl Held {
    /// Track the reservation of `request_id` (taken before it is committed,
    /// so that no way out of the call forgets it).
    pub fn new(store: Arc<Store>, request_id: String) -> Self {
        Self(Arc::new(HeldInner { store, request_id, done: AtomicBool::new(false) }))
    }

    /// The call's commit released it (or nothing was reserved).
    pub fn completed(&self) {
        self.0.done.store(true, Ordering::Release);
    }
}

impl Drop for HeldInner {
    fn drop(&mut self) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        let id = std::mem::take(&mut self.request_id);
        if let Err(e) = self.store.write_detached(move |w| release(w.conn, &id)) {
            tracing::warn!(error = %e, "a reservation could not be released; it is released at the next start");
        }
    }
}
