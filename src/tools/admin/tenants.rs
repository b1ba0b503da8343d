//! `admin.tenants`: the console's tenant list — a page at a time, filtered
//! by plan, status, billing status and slug prefix, each row with its usage
//! against its limits this period.
//!
//! Invariants: `limit` is clamped to `max_page_size`; the cursor is the last
//! id seen (keyset), so tenants added between pages never repeat or hide a row.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::ToolCx;
use super::super::edition::EditionKind;
use super::super::registry::{ReadTool, ToolSpec};
use super::super::result::{ToolError, ToolErrorCode};
use super::access::console_spec;
use crate::billing::{BillingView, Counter, PlanName, Status, period};
use crate::store::console::{self, TenantFilter};
use crate::store::{Db, billing};
use crate::wire::cursor;

/// A tenant's own status.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

/// `admin.tenants` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantsInput {
    /// Where to continue (from `next_cursor`).
    pub cursor: Option<String>,
    /// Page size (default 50); clamped to the configured maximum.
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// Only tenants on this plan.
    pub plan: Option<PlanName>,
    /// Only tenants with this status.
    pub status: Option<TenantStatus>,
    /// Only tenants whose recorded billing status is this.
    pub billing_status: Option<Status>,
    /// Only tenants whose slug starts with this.
    #[schemars(length(min = 1, max = 63))]
    pub slug_prefix: Option<String>,
}

/// One counter this period.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UsageLine {
    pub counter: Counter,
    pub used: u64,
    pub limit: u64,
    pub remaining: u64,
}

/// A tenant as the console lists it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantLine {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    pub plan: String,
    pub status: String,
    pub billing_status: String,
    pub created_at: String,
    pub usage: Vec<UsageLine>,
}

/// One page of tenants.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantsOutput {
    /// The period the usage is of (`YYYY-MM`, UTC).
    pub period: String,
    pub tenants: Vec<TenantLine>,
    /// Pass back as `cursor` (with the same filters) for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `admin.tenants`.
pub struct Tenants;

impl<E: EditionKind> ReadTool<E> for Tenants {
    type Input = TenantsInput;
    type Output = TenantsOutput;

    fn spec(&self) -> ToolSpec {
        console_spec(
            "admin.tenants",
            "Console tenant list",
            "Read-only operator console: tenants in id order, a page at a time, filtered by plan, status, billing status and slug prefix, each with its usage against its limits this period.",
        )
    }

    fn read(&self, input: TenantsInput, cx: &ToolCx, conn: &Db) -> Result<TenantsOutput, ToolError> {
        let limit = usize::try_from(input.limit.unwrap_or(50)).unwrap_or(usize::MAX).clamp(1, cx.config.max_page_size);
        let after = match input.cursor.as_deref() {
            None => None,
            Some(c) => {
                Some(cursor::decode_key(c).ok_or_else(|| ToolError::invalid_argument("/cursor", "invalid cursor"))?)
            }
        };
        let filter = TenantFilter {
            plan: input.plan.map(PlanName::as_str),
            status: input.status.map(TenantStatus::as_str),
            billing_status: input.billing_status.map(Status::as_str),
            slug_prefix: input.slug_prefix.as_deref(),
        };
        let mut page = console::tenant_page(conn, &filter, after.as_deref(), limit + 1)?;
        let next_cursor = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|t| cursor::encode_key(&t.id))
        } else {
            None
        };
        let period = period::containing(cx.clock.now());
        let mut tenants = Vec::with_capacity(page.len());
        for t in page {
            let row = billing::get(conn, &t.id)?
                .ok_or_else(|| ToolError::new(ToolErrorCode::Internal, "a listed tenant has no billing state"))?;
            let limits = BillingView::from_row(&row).map_err(|e| ToolError::new(ToolErrorCode::Internal, e))?.limits;
            let mut usage = Vec::with_capacity(Counter::ALL.len());
            for counter in Counter::ALL {
                let used = billing::total(conn, &t.id, counter.as_str(), &period.name)?;
                let limit = limits.of(counter);
                usage.push(UsageLine { counter, used, limit, remaining: limit.saturating_sub(used) });
            }
            tenants.push(TenantLine {
                id: t.id,
                slug: t.slug,
                display_name: t.display_name,
                plan: t.plan,
                status: t.status,
                billing_status: t.billing_status,
                created_at: t.created_at,
                usage,
            });
        }
        Ok(TenantsOutput { period: period.name, tenants, next_cursor })
    }
}
