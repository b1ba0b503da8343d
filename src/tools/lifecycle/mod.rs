//! Tenant data lifecycle tools: `tenant.delete` (behind the `tenant_delete`
//! flag, plan-then-confirm, blocked by a legal hold) and `tenant.legal_hold`.
//! (`tenant.export_data` lives with the audit export in `audit_export.rs`.)

pub mod confirm;
pub mod delete;
pub mod legal_hold;

use super::registry::{Registry, RegistryError};

/// Register the lifecycle tools.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_typed(delete::Delete)?;
    r.add_typed(legal_hold::LegalHoldTool)?;
    Ok(())
}
