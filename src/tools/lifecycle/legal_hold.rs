//! `tenant.legal_hold`: place or lift a legal hold (platform admin). A tenant
//! under hold cannot be deleted.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::identity::Role;
use crate::store::lifecycle::{self, LegalHold};
use crate::store::{WriteCx, tenants};
use crate::tools::ToolCx;
use crate::tools::edition::{EditionKind, Editions};
use crate::tools::registry::{Annotations, Tool, ToolSpec};
use crate::tools::result::{ToolError, ToolErrorCode};

/// `tenant.legal_hold` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldInput {
    /// The tenant.
    pub tenant_id: String,
    /// true places (or replaces) the hold; false lifts it.
    pub hold: bool,
    /// Why (a case reference); required to place a hold.
    #[schemars(length(min = 1, max = 500))]
    pub reason: Option<String>,
}

/// The tenant's hold after the call.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LegalHoldOutput {
    pub tenant_id: String,
    /// The hold in force, if any.
    pub legal_hold: Option<LegalHold>,
}

/// Places or lifts a legal hold.
pub struct LegalHoldTool;

impl<E: EditionKind> Tool<E> for LegalHoldTool {
    type Input = LegalHoldInput;
    type Output = LegalHoldOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations::WRITE,
            roles: &[Role::PlatformAdmin],
            editions: Editions::MultiTenantOnly,
            tenant_scoped: true,
            ..ToolSpec::open(
                "tenant.legal_hold",
                1,
                "Place or lift a legal hold",
                "Place (hold: true, with a reason) or lift (hold: false) a legal hold on a tenant. A tenant under legal hold cannot be deleted.",
            )
        }
    }

    fn run(&self, input: LegalHoldInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<LegalHoldOutput, ToolError> {
        let tenant = cx.tenant.as_ref().map(|t| t.0.clone()).unwrap_or(input.tenant_id);
        if tenants::get(tx.conn, &tenant)?.is_none() {
            return Err(ToolError::new(ToolErrorCode::NotFound, "no such tenant"));
        }
        if input.hold {
            let reason = input
                .reason
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| ToolError::invalid_argument("/reason", "a hold needs a reason"))?;
            let hold = LegalHold { reason, set_at: cx.clock.now_rfc3339(), principal: cx.principal.id.clone() };
            lifecycle::set_legal_hold(tx.conn, &tenant, &hold)?;
        } else {
            lifecycle::clear_legal_hold(tx.conn, &tenant)?;
        }
        Ok(LegalHoldOutput { legal_hold: lifecycle::legal_hold(tx.conn, &tenant)?, tenant_id: tenant })
    }
}
