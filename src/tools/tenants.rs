//! Tenant tools: `tenant.bootstrap`, `tenant.get`, `tenant.list`,
//! `tenant.suspend`, `tenant.resume` (multi-tenant mode only).
//!
//! Invariant: a tenant id is deterministic from its slug, and another
//! tenant's id answers exactly like a missing one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::{EditionKind, Editions};
use super::registry::{Annotations, NoArguments, Registry, RegistryError, Tool, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::billing::PlanName;
use crate::identity::{Role, TenantId, key_format};
use crate::store::{WriteCx, keys, tenants};
use crate::wire::cursor;

/// Register the tenant tools.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_typed(Bootstrap)?;
    r.add_typed(Get)?;
    r.add_typed(List)?;
    r.add_typed(SetStatus { suspend: true })?;
    r.add_typed(SetStatus { suspend: false })?;
    Ok(())
}

const PLATFORM: &[Role] = &[Role::PlatformAdmin];
const WRITE: Annotations = Annotations::WRITE;

fn not_found() -> ToolError {
    ToolError::new(ToolErrorCode::NotFound, "no such tenant")
}

/// `tenant.bootstrap` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapInput {
    /// Unique, lowercase, 3-63 characters of `a-z`, `0-9` and `-`.
    #[schemars(regex(pattern = r"^[a-z0-9-]{3,63}$"))]
    pub slug: String,
    /// A human-readable name (1-200 characters).
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,
    /// The plan to start on; `free` when absent.
    pub plan: Option<PlanName>,
}

/// The new tenant; its first tenant-admin key is shown here once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BootstrapOutput {
    pub tenant_id: String,
    pub slug: String,
    pub plan: PlanName,
    pub namespaces: Vec<String>,
    /// The first `tenant_admin` key's id.
    pub key_id: String,
    /// The first `tenant_admin` key (`tg_…`): shown once, never stored.
    pub api_key: String,
}

/// Creates a tenant.
pub struct Bootstrap;

impl<E: EditionKind> Tool<E> for Bootstrap {
    type Input = BootstrapInput;
    type Output = BootstrapOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: WRITE,
            roles: PLATFORM,
            editions: Editions::MultiTenantOnly,
            returns_secret: true,
            flag: Some(crate::config::Flag::TenantBootstrap),
            ..ToolSpec::open(
                "tenant.bootstrap",
                1,
                "Bootstrap a tenant",
                "Create a tenant with a unique slug (its id is derived from the slug), the namespace `default`, a plan (free unless given) and a first tenant_admin API key, shown once.",
            )
        }
    }

    fn run(&self, input: BootstrapInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<BootstrapOutput, ToolError> {
        let slug_ok = (3..=63).contains(&input.slug.len())
            && input.slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(ToolError::invalid_argument("/slug", "slug must be 3-63 characters of a-z, 0-9 and -"));
        }
        if crate::store::lifecycle::slug_retired(tx.conn, &input.slug)? {
            return Err(ToolError::new(
                ToolErrorCode::Conflict,
                format!("the slug {:?} belonged to a deleted tenant and stays reserved; choose another", input.slug),
            ));
        }
        let id = TenantId::for_slug(&input.slug);
        // What follows writes the new tenant's rows, under its scope.
        tx.conn.set_scope(Some(&id.0))?;
        let plan = input.plan.unwrap_or(PlanName::Free);
        let now = cx.clock.now_rfc3339();
        let row = tenants::TenantRow {
            id: id.0.clone(),
            slug: input.slug.clone(),
            display_name: input.display_name,
            plan: plan.as_str().into(),
            status: "active".into(),
            created_at: now.clone(),
        };
        if !tenants::insert(tx.conn, &row)? {
            return Err(ToolError::new(ToolErrorCode::Conflict, format!("the slug {:?} is taken", input.slug)));
        }
        crate::store::billing::set(
            tx.conn,
            &id.0,
            &crate::store::billing::BillingRow {
                plan: plan.as_str().into(),
                status: "active".into(),
                trial_ends_at: None,
                version: 1,
                overrides: "{}".into(),
            },
            &now,
            &cx.principal.id,
        )?;
        let issued = key_format::generate();
        keys::insert(
            tx.conn,
            &keys::KeyRow {
                key_id: issued.key_id.0.clone(),
                tenant_id: Some(id.0.clone()),
                role: Role::TenantAdmin.as_str().into(),
                label: "first tenant admin".into(),
                secret_digest: issued.secret_digest.clone(),
                status: "active".into(),
                created_at: now,
                expires_at: None,
                revoked_at: None,
                replaced_by: None,
            },
        )?;
        Ok(BootstrapOutput {
            namespaces: tenants::namespaces(tx.conn, &id.0)?,
            tenant_id: id.0,
            slug: input.slug,
            plan,
            key_id: issued.key_id.0,
            api_key: issued.token,
        })
    }
}

/// A tenant and its namespaces.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantView {
    #[serde(flatten)]
    pub tenant: tenants::TenantRow,
    pub namespaces: Vec<String>,
}

/// Reads a tenant.
pub struct Get;

impl<E: EditionKind> Tool<E> for Get {
    type Input = NoArguments;
    type Output = TenantView;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: &[Role::PlatformAdmin, Role::TenantAdmin],
            editions: Editions::MultiTenantOnly,
            tenant_scoped: true,
            ..ToolSpec::open("tenant.get", 1, "Get a tenant", "Read a tenant: slug, name, plan, status and namespaces.")
        }
    }

    fn run(&self, _input: NoArguments, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<TenantView, ToolError> {
        let Some(id) = &cx.tenant else {
            return Err(ToolError::invalid_argument("/tenant_id", "name the tenant to read"));
        };
        let tenant = tenants::get(tx.conn, &id.0)?.ok_or_else(not_found)?;
        Ok(TenantView { namespaces: tenants::namespaces(tx.conn, &id.0)?, tenant })
    }
}

/// `tenant.list` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Where to continue (from `next_cursor`).
    pub cursor: Option<String>,
    /// Page size; clamped to the configured maximum.
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

/// One page of tenants.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput {
    pub tenants: Vec<tenants::TenantRow>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Lists tenants.
pub struct List;

impl<E: EditionKind> Tool<E> for List {
    type Input = ListInput;
    type Output = ListOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: PLATFORM,
            editions: Editions::MultiTenantOnly,
            ..ToolSpec::open("tenant.list", 1, "List tenants", "List every tenant in id order, a page at a time.")
        }
    }

    fn run(&self, input: ListInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<ListOutput, ToolError> {
        let limit = usize::try_from(input.limit.unwrap_or(50)).unwrap_or(usize::MAX).clamp(1, cx.config.max_page_size);
        let after = match input.cursor.as_deref() {
            None => None,
            Some(c) => {
                Some(cursor::decode_key(c).ok_or_else(|| ToolError::invalid_argument("/cursor", "invalid cursor"))?)
            }
        };
        let mut page = tenants::list(tx.conn, after.as_deref(), limit + 1)?;
        let next_cursor = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|t| cursor::encode_key(&t.id))
        } else {
            None
        };
        Ok(ListOutput { tenants: page, next_cursor })
    }
}

/// `tenant.suspend` / `tenant.resume` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    pub tenant_id: String,
}

/// A tenant's status after the change.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOutput {
    pub tenant_id: String,
    /// `active` or `suspended`.
    pub status: String,
}

/// Suspends or resumes a tenant (its keys stop or start working at once).
pub struct SetStatus {
    suspend: bool,
}

impl<E: EditionKind> Tool<E> for SetStatus {
    type Input = StatusInput;
    type Output = StatusOutput;

    fn spec(&self) -> ToolSpec {
        let base = if self.suspend {
            ToolSpec::open(
                "tenant.suspend",
                1,
                "Suspend a tenant",
                "Suspend a tenant: its keys are refused until it is resumed.",
            )
        } else {
            ToolSpec::open("tenant.resume", 1, "Resume a tenant", "Resume a suspended tenant: its keys work again.")
        };
        ToolSpec {
            annotations: WRITE,
            roles: PLATFORM,
            editions: Editions::MultiTenantOnly,
            tenant_scoped: true,
            ..base
        }
    }

    fn run(&self, input: StatusInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<StatusOutput, ToolError> {
        let status = if self.suspend { "suspended" } else { "active" };
        if !tenants::set_status(tx.conn, &input.tenant_id, status)? {
            return Err(not_found());
        }
        if self.suspend {
            // A suspended tenant's keys are refused: its open listen streams end too.
            let audience = crate::events::Audience::Tenant(crate::identity::TenantId(input.tenant_id.clone()));
            cx.announcements.end_streams(crate::events::Ending::Audience(audience));
        }
        Ok(StatusOutput { tenant_id: input.tenant_id, status: status.into() })
    }
}
