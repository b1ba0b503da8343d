//! Locks that keep serving after a panic elsewhere.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lock `m`. A poisoned lock only means another thread panicked mid-update of
/// plain data (maps, flags); the data is still usable, so keep serving.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
