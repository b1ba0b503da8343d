//! The principal-level policy, written once: whether a principal may use a
//! tool at all — its edition, a flag, the role, the plan's entitlement and
//! the account's billing status. The gate's steps decide a call with these
//! functions, and `tools/list` shows exactly the tools they would admit.
//!
//! Invariant: per-call checks (rate limits, argument validation, client
//! capabilities, quota) are not here: a tool that needs a capability is
//! listed (the conformance suite requires it) and refused when called.

use serde_json::json;
use time::OffsetDateTime;

use super::flags::Flags;
use crate::billing::{BillingView, Status};
use crate::config::Flag;
use crate::identity::Role;
use crate::store::{Store, billing};
use crate::tools::spec::BillingClass;
use crate::tools::{Edition, RegisteredTool};
use crate::wire::denial::{Denial, Forbid};

/// The tool exists in this server's edition (the `multi_tenant` flag).
pub fn edition(tool: &RegisteredTool, multi_tenant: bool) -> Result<(), Denial> {
    if tool.edition == Edition::of(multi_tenant) { Ok(()) } else { Err(disabled(Flag::MultiTenant)) }
}

/// No flag turns the tool off (its edition's included).
pub fn flag(tool: &RegisteredTool, flags: &Flags) -> Result<(), Denial> {
    match flags.disabled_flag(tool) {
        None => Ok(()),
        Some(flag) => Err(disabled(flag)),
    }
}

/// The one refusal of every flag: -31403 `feature_disabled`, `data.flag` naming it.
fn disabled(flag: Flag) -> Denial {
    Denial::forbidden(Forbid::FeatureDisabled, "this tool is disabled on this server", json!({ "flag": flag.key() }))
}

/// The principal's role may call the tool.
pub fn role(tool: &RegisteredTool, role: Role) -> Result<(), Denial> {
    let allowed = tool.spec.roles;
    if allowed.is_empty() || allowed.contains(&role) {
        return Ok(());
    }
    let required: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    Err(Denial::forbidden(
        Forbid::RoleRequired,
        "your role may not call this tool",
        json!({ "required": required, "role": role.as_str() }),
    ))
}

/// The tenant's plan includes the tool's feature (platform principals have no plan).
pub fn entitlement(tool: &RegisteredTool, view: Option<&BillingView>) -> Result<(), Denial> {
    let (Some(view), Some(feature)) = (view, tool.spec.feature) else { return Ok(()) };
    if view.entitles(feature) {
        Ok(())
    } else {
        Err(Denial::forbidden(
            Forbid::NotEntitled,
            "your plan does not include this tool",
            json!({ "feature": feature.as_str(), "plan": view.plan.as_str() }),
        ))
    }
}

/// The account's billing status allows the tool: everything while active or
/// trialing; safety and account tools always; past due, only reads.
pub fn billing_status(tool: &RegisteredTool, view: Option<&BillingView>, now: OffsetDateTime) -> Result<(), Denial> {
    let Some(view) = view else { return Ok(()) };
    let status = view.effective_status(now);
    let allowed = match (status, tool.spec.billing) {
        (Status::Active | Status::Trialing, _) => true,
        (_, BillingClass::Safety | BillingClass::Account) => true,
        (Status::PastDue, BillingClass::Regular) => tool.spec.annotations.read_only_hint,
        (Status::Canceled, BillingClass::Regular) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denial::forbidden(
            Forbid::BillingStatus,
            "the account's billing status does not allow this tool",
            json!({ "status": status.as_str() }),
        ))
    }
}

/// Every principal-level check at once: what `tools/list` shows.
pub fn allows(
    tool: &RegisteredTool,
    who: Role,
    flags: &Flags,
    view: Option<&BillingView>,
    now: OffsetDateTime,
) -> Result<(), Denial> {
    flag(tool, flags)?;
    role(tool, who)?;
    billing_status(tool, view, now)?;
    entitlement(tool, view)
}

/// The billing view of a tenant principal's tenant, read fresh (a plan or
/// status change applies to the very next request); `None` for platform
/// principals. A tenant without a readable billing state is refused (fail closed).
pub fn billing_view(store: &Store, tenant: Option<&str>) -> Result<Option<BillingView>, Denial> {
    let Some(tenant) = tenant else { return Ok(None) };
    let row = store
        .read(|c| {
            c.set_scope(Some(tenant))?;
            billing::get(c, tenant)
        })
        .map_err(|e| Denial::Unavailable(e.to_string()))?;
    let row = row.ok_or_else(|| Denial::Unavailable("the caller's tenant has no billing state".into()))?;
    BillingView::from_row(&row).map(Some).map_err(Denial::Unavailable)
}
