//! OAuth subject tools: `identity.invite`, `identity.redeem`, `identity.list`
//! and `identity.unbind`.
//!
//! Invariants: a subject is bound only by proof — it redeems, with its own
//! verified token, a one-time code a tenant admin made; nobody binds a
//! subject by naming it. Every failed redemption (unknown, expired or used
//! code, a code for the other kind, a subject bound anywhere already, a
//! caller that is not an unbound OAuth subject) answers the same, so
//! redeeming reveals nothing about other tenants. A code is shown once and
//! only its digest is stored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::ToolCx;
use super::edition::EditionKind;
use super::registry::{Annotations, BillingClass, Registry, RegistryError, Tool, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::identity::SubjectKind;
use crate::identity::{Role, RoleWire};
use crate::store::{WriteCx, oauth_bindings};

/// Register the four tools (both editions; roles are written the edition's way).
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_typed(Invite)?;
    r.add_typed(Redeem)?;
    r.add_typed(List)?;
    r.add_typed(Unbind)?;
    Ok(())
}

const ADMINS: &[Role] = &[Role::PlatformAdmin, Role::TenantAdmin];
/// Longest and default invite lifetime.
const MAX_TTL_SECS: u64 = 7 * 24 * 3600;
const DEFAULT_TTL_SECS: u64 = 24 * 3600;

/// The one answer for every failed redemption.
fn invalid_code() -> ToolError {
    ToolError::new(
        ToolErrorCode::FailedPrecondition,
        "invalid invite code: it is unknown, expired or used, or this token cannot redeem it; \
         ask a tenant admin for a new invite (identity.invite) and redeem it with your own OAuth token",
    )
}

fn digest(code: &str) -> String {
    hex::encode(sha2::Sha256::digest(code.trim().as_bytes()))
}

fn effective_tenant(cx: &ToolCx) -> Result<&crate::identity::TenantId, ToolError> {
    cx.tenant.as_ref().ok_or_else(|| ToolError::invalid_argument("/tenant_id", "name the tenant (platform admin)"))
}

/// `identity.invite`.
pub struct Invite;

/// `identity.invite` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteInput<R> {
    /// The role the redeeming subject will hold (never platform_admin).
    pub role: R,
    /// Who may redeem it: a person (`user`) or a service's client-credentials token (`client`).
    pub kind: SubjectKind,
    /// Seconds until the code expires (60 .. 604800; default 86400).
    #[serde(default)]
    #[schemars(range(min = 60, max = 604800))]
    pub ttl_secs: Option<u64>,
}

/// A new invite: the code is shown once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InviteOutput<R> {
    /// The one-time code to hand to the subject (secret until redeemed).
    pub code: String,
    pub invite_id: String,
    pub role: R,
    pub kind: SubjectKind,
    pub expires_at: String,
}

impl<E: EditionKind> Tool<E> for Invite {
    type Input = InviteInput<E::Role>;
    type Output = InviteOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            annotations: Annotations::WRITE,
            roles: ADMINS,
            returns_secret: true,
            ..ToolSpec::open(
                "identity.invite",
                1,
                "Invite an OAuth subject",
                "Make a one-time code that binds the OAuth subject redeeming it (identity.redeem, with its own token) \
                 to your account with a role.",
            )
        }
    }

    fn run(&self, input: Self::Input, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        let role = input.role.into_role();
        if role == Role::PlatformAdmin {
            return Err(ToolError::invalid_argument("/role", "an OAuth subject acts with a tenant role"));
        }
        let ttl = input.ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
        if !(60..=MAX_TTL_SECS).contains(&ttl) {
            return Err(ToolError::invalid_argument("/ttl_secs", "between 60 and 604800 seconds"));
        }
        let tenant = effective_tenant(cx)?;
        let now = cx.clock.now();
        let code = format!("tgi_{}", hex::encode(rand::random::<[u8; 20]>()));
        let invite_id = format!("inv_{}", &digest(&code)[..16]);
        let expires_at = crate::clock::rfc3339(now + time::Duration::seconds(i64::try_from(ttl).unwrap_or(0)));
        oauth_bindings::create_invite(
            tx.conn,
            &oauth_bindings::InviteRow {
                code_digest: digest(&code),
                invite_id: invite_id.clone(),
                tenant_id: tenant.0.clone(),
                role: role.as_str().into(),
                kind: input.kind.as_str().into(),
                created_by: cx.principal.id.clone(),
                created_at: crate::clock::rfc3339(now),
                expires_at: expires_at.clone(),
            },
        )?;
        Ok(InviteOutput { code, invite_id, role: input.role, kind: input.kind, expires_at })
    }
}

/// `identity.redeem`.
pub struct Redeem;

/// `identity.redeem` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemInput {
    /// The code `identity.invite` made.
    #[schemars(length(min = 1, max = 100))]
    pub code: String,
}

/// The new binding.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RedeemOutput<R> {
    /// The principal id this subject acts as from the next call on (`whoami` names its account).
    pub principal: String,
    pub role: R,
    pub kind: SubjectKind,
}

impl<E: EditionKind> Tool<E> for Redeem {
    type Input = RedeemInput;
    type Output = RedeemOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations::WRITE,
            // Anyone authenticated: an unbound subject (a viewer with no tenant, which the
            // gate lets call only this tool) redeems; anyone else hears "invalid code".
            roles: &[],
            billing: BillingClass::Account,
            ..ToolSpec::open(
                "identity.redeem",
                1,
                "Redeem an invite",
                "Bind the OAuth subject of this call's access token to the account that made the invite. \
                 Call it with your own OAuth token before anything else.",
            )
        }
    }

    fn run(&self, input: RedeemInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        // Only a verified, unbound OAuth subject redeems; anyone else hears the same as a bad code.
        let Some(grant) = cx.principal.oauth.as_ref().filter(|g| g.bound_role.is_none()) else {
            return Err(invalid_code());
        };
        let subject = &grant.subject;
        let now = cx.clock.now_rfc3339();
        let Some(invite) = oauth_bindings::redeem_invite(tx.conn, &digest(&input.code), &now)? else {
            return Err(invalid_code());
        };
        let role = Role::parse(&invite.role).filter(|r| *r != Role::PlatformAdmin).ok_or_else(invalid_code)?;
        if invite.kind != subject.kind.as_str() {
            return Err(invalid_code());
        }
        let row = oauth_bindings::OAuthBindingRow {
            issuer: subject.issuer.clone(),
            kind: subject.kind.as_str().into(),
            subject: subject.subject.clone(),
            tenant_id: invite.tenant_id.clone(),
            role: role.as_str().into(),
            invite_id: invite.invite_id,
            created_at: now,
        };
        // Bound elsewhere (or here) already: the same answer; the savepoint rolls the redemption back.
        if !oauth_bindings::bind(tx.conn, &row)? {
            return Err(invalid_code());
        }
        Ok(RedeemOutput { principal: subject.principal_id(), role: E::Role::from_role(role), kind: subject.kind })
    }
}

/// `identity.list`.
pub struct List;

/// `identity.list` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {}

/// One bound subject.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BindingView<R> {
    pub issuer: String,
    pub kind: SubjectKind,
    pub subject: String,
    pub role: R,
    pub invite_id: String,
    pub created_at: String,
}

/// The account's bound subjects, oldest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput<R> {
    pub bindings: Vec<BindingView<R>>,
}

impl<E: EditionKind> Tool<E> for List {
    type Input = ListInput;
    type Output = ListOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            roles: ADMINS,
            billing: BillingClass::Safety,
            ..ToolSpec::open(
                "identity.list",
                1,
                "List OAuth subjects",
                "List the OAuth subjects bound to your account.",
            )
        }
    }

    fn run(&self, _: ListInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        let tenant = effective_tenant(cx)?;
        let bindings = oauth_bindings::list(tx.conn, &tenant.0)?
            .into_iter()
            .filter_map(|b| {
                Some(BindingView {
                    kind: SubjectKind::parse(&b.kind)?,
                    role: E::Role::from_role(Role::parse(&b.role)?),
                    issuer: b.issuer,
                    subject: b.subject,
                    invite_id: b.invite_id,
                    created_at: b.created_at,
                })
            })
            .collect();
        Ok(ListOutput { bindings })
    }
}

/// `identity.unbind`.
pub struct Unbind;

/// `identity.unbind` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnbindInput {
    /// The issuer identifier, as `identity.list` shows it.
    #[schemars(length(min = 1, max = 2000))]
    pub issuer: String,
    #[schemars(length(min = 1, max = 255))]
    pub subject: String,
    /// Only this kind (default: both a user and a client of that name).
    #[serde(default)]
    pub kind: Option<SubjectKind>,
}

/// What was removed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UnbindOutput {
    /// How many bindings were removed (a user and a client of one name are two).
    pub unbound: u64,
}

impl<E: EditionKind> Tool<E> for Unbind {
    type Input = UnbindInput;
    type Output = UnbindOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations { destructive_hint: true, idempotent_hint: true, ..Annotations::WRITE },
            tenant_scoped: true,
            roles: ADMINS,
            billing: BillingClass::Safety,
            ..ToolSpec::open(
                "identity.unbind",
                1,
                "Unbind an OAuth subject",
                "Remove an OAuth subject's binding to your account; its very next call is refused.",
            )
        }
    }

    fn run(&self, input: UnbindInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<UnbindOutput, ToolError> {
        let tenant = effective_tenant(cx)?;
        let kind = input.kind.map(SubjectKind::as_str);
        let removed = oauth_bindings::unbind(tx.conn, &tenant.0, &input.issuer, kind, &input.subject)?;
        if removed == 0 {
            return Err(ToolError::new(ToolErrorCode::NotFound, "no such OAuth subject binding"));
        }
        // Its listen streams end too (the principal id names the issuer by its label).
        let kinds = input.kind.map_or(vec![SubjectKind::User, SubjectKind::Client], |k| vec![k]);
        let subject = input.subject.as_str();
        let ids = cx
            .config
            .oauth
            .issuers
            .iter()
            .filter(|i| i.url == input.issuer)
            .flat_map(|i| kinds.iter().map(move |k| format!("oauth:{}:{}:{}", i.name, k.as_str(), subject)))
            .collect();
        cx.announcements.end_streams(crate::events::Ending::Principals(ids));
        Ok(UnbindOutput { unbound: u64::try_from(removed).unwrap_or(u64::MAX) })
    }
}
