//! The operator console: `admin.overview` and `admin.tenants`, for the
//! platform admin, behind the `admin_console` flag (off by default).
//!
//! Invariant: both are read tools — they run on a read-only connection and
//! change nothing; their calls leave only their own audit records, ledger
//! rows and checkpoints (and the counters of those records).

pub mod access;
pub mod gates;
pub mod overview;
pub mod tenants;

use super::registry::{Registry, RegistryError};

/// Register the console tools.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_read(overview::Overview)?;
    r.add_read(tenants::Tenants)?;
    Ok(())
}
