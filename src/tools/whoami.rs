//! `whoami`: tells the caller who it is and how it reached the server.
//!
//! One declaration, v1 in both editions: the multi-tenant edition's output
//! also names the caller's tenant; the single-tenant edition's has no tenant
//! and writes roles without tenant wording. It has no effect.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::{EditionKind, Multi, Single};
use super::registry::{Annotations, BillingClass, Tool, ToolSpec};
use super::result::ToolError;
use crate::billing::{Counter, PlanName, Status};
use crate::identity::{PrincipalKind, Role, RoleWire};
use crate::store::WriteCx;
use crate::wire::TransportKind;
use crate::wire::{Era, SERVER_INFO};

/// `whoami` takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiInput {}

/// Who the server thinks is calling, and over what.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoamiOutput<R> {
    /// `modern` (2026-07-28, stateless) or `legacy` (2025 revisions, initialize handshake).
    pub era: Era,
    /// The protocol revision this call was served under.
    pub protocol_version: String,
    /// `stdio`, `http` or `https`.
    pub transport: TransportKind,
    /// Name and version of the server.
    pub server: ServerIdentity,
    /// The caller: a key id, or `local` for the local admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// How the caller proved itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_kind: Option<PrincipalKind>,
    /// The caller's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<R>,
    /// The plan the caller's account is on (absent for platform principals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanName>,
    /// The account's billing status as it applies now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_status: Option<Status>,
    /// `tool_calls` left this month, this call included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_tool_calls: Option<u64>,
}

/// The server's name and version.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ServerIdentity {
    pub name: String,
    pub version: String,
}

fn describe<R: RoleWire>(cx: &ToolCx, tx: &WriteCx<'_>) -> WhoamiOutput<R> {
    let billing = cx.billing.as_ref();
    let remaining = match (billing, cx.principal.tenant.as_ref()) {
        (Some(b), Some(t)) => {
            let period = crate::billing::period::containing(cx.clock.now());
            crate::store::billing::total(tx.conn, &t.0, Counter::ToolCalls.as_str(), &period.name)
                .ok()
                .map(|used| b.limits.tool_calls.saturating_sub(used))
        }
        _ => None,
    };
    WhoamiOutput {
        plan: billing.map(|b| b.plan),
        billing_status: billing.map(|b| b.effective_status(cx.clock.now())),
        remaining_tool_calls: remaining,
        era: cx.call.era,
        protocol_version: cx.call.protocol_version.clone(),
        transport: cx.call.transport,
        server: ServerIdentity { name: SERVER_INFO.name.to_owned(), version: SERVER_INFO.version.to_owned() },
        principal: Some(cx.principal.id.clone()),
        principal_kind: matches!(cx.principal.kind, PrincipalKind::ApiKey | PrincipalKind::Local)
            .then_some(cx.principal.kind),
        role: Some(R::from_role(cx.principal.role)),
    }
}

/// What `whoami` answers in an edition.
pub trait WhoamiEdition: EditionKind {
    type Output: Serialize + JsonSchema;

    fn answer(base: WhoamiOutput<Self::Role>, tenant: Option<String>) -> Self::Output;
}

/// Who the server thinks is calling, for which tenant, and over what.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoamiTenantOutput {
    #[serde(flatten)]
    pub base: WhoamiOutput<Role>,
    /// The tenant the caller acts for; absent for platform principals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl WhoamiEdition for Multi {
    type Output = WhoamiTenantOutput;

    fn answer(base: WhoamiOutput<Role>, tenant: Option<String>) -> WhoamiTenantOutput {
        WhoamiTenantOutput { base, tenant }
    }
}

impl WhoamiEdition for Single {
    type Output = WhoamiOutput<crate::identity::AccountRole>;

    fn answer(base: Self::Output, _tenant: Option<String>) -> Self::Output {
        base
    }
}

/// `whoami`.
pub struct Whoami;

impl<E: WhoamiEdition> Tool<E> for Whoami {
    type Input = WhoamiInput;
    type Output = E::Output;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations::READ_ONLY,
            billing: BillingClass::Account,
            ..ToolSpec::open(
                "whoami",
                1,
                "Who am I",
                E::says(
                    "Show who is calling (principal, role and tenant) and how the call reached the server: protocol era and version, transport, server identity.",
                    "Show who is calling (principal and role) and how the call reached the server: protocol era and version, transport, server identity.",
                ),
            )
        }
    }

    fn run(&self, _input: WhoamiInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<E::Output, ToolError> {
        Ok(E::answer(describe(cx, tx), cx.tenant.as_ref().map(|t| t.0.clone())))
    }
}
