//! Key tools: `key.issue`, `key.rotate`, `key.revoke`, `key.list`.
//!
//! Invariants: a caller manages only the keys of its own scope (its tenant,
//! or the platform for a platform admin); another scope's key id answers
//! exactly like a missing one; a secret appears only in the result of the
//! call that created it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::EditionKind;
use super::registry::{Annotations, BillingClass, NoArguments, Registry, RegistryError, Tool, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::billing::{Counter, Feature};
use crate::clock;
use crate::identity::{Role, RoleWire, key_format};
use crate::store::{WriteCx, keys};

/// Register the key tools (both editions; roles are written the edition's way).
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_typed(Issue)?;
    r.add_typed(Rotate)?;
    r.add_typed(Revoke)?;
    r.add_typed(List)?;
    Ok(())
}

const ADMINS: &[Role] = &[Role::PlatformAdmin, Role::TenantAdmin];
const WRITE: Annotations = Annotations::WRITE;
/// Longest rotation grace period.
pub const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

fn not_found() -> ToolError {
    ToolError::new(ToolErrorCode::NotFound, "no such key")
}

/// A replaced key is not rotated again: each rotation would otherwise add a
/// key that outlives the old one's grace, past the plan's cap.
fn already_rotated(successor: &str) -> ToolError {
    ToolError::new(
        ToolErrorCode::KeyAlreadyRotated,
        format!("this key was already rotated and is replaced by {successor}; rotate that key instead"),
    )
}

/// The caller's key scope: its tenant; for a platform admin the effective
/// tenant (the one it named, or `default` in the single-tenant edition), else
/// the platform itself (`None`). A named tenant that does not exist is `not_found`.
pub(crate) fn scope(cx: &ToolCx, tx: &WriteCx<'_>) -> Result<Option<String>, ToolError> {
    if !cx.principal.is_platform() {
        return Ok(cx.principal.tenant.as_ref().map(|t| t.0.clone()));
    }
    match &cx.tenant {
        None => Ok(None),
        Some(t) if crate::store::tenants::get(tx.conn, &t.0)?.is_some() => Ok(Some(t.0.clone())),
        Some(_) => Err(ToolError::new(ToolErrorCode::NotFound, "no such tenant")),
    }
}

/// A key of the caller's scope, or `not_found` (also for other scopes' keys).
fn own_key(cx: &ToolCx, tx: &WriteCx<'_>, key_id: &str) -> Result<keys::KeyRow, ToolError> {
    let scope = scope(cx, tx)?;
    let row = keys::get(tx.conn, key_id)?.ok_or_else(not_found)?;
    if row.tenant_id != scope { Err(not_found()) } else { Ok(row) }
}

/// A key as `key.list` shows it: metadata only.
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyView<R> {
    pub key_id: String,
    pub role: R,
    pub label: String,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The key that replaced this one in a rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

fn view<R: RoleWire>(row: keys::KeyRow, now: &str) -> KeyView<R> {
    let expired = row.expires_at.as_deref().is_some_and(|e| e <= now);
    let status = if row.status == "active" && expired { "expired".to_owned() } else { row.status };
    KeyView {
        key_id: row.key_id,
        role: R::from_role(Role::parse(&row.role).unwrap_or(Role::Viewer)),
        label: row.label,
        status,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        replaced_by: row.replaced_by,
    }
}

/// `key.issue` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInput<R> {
    /// The new key's role (within the caller's scope).
    pub role: R,
    /// What the key is for (1-200 characters).
    #[schemars(length(min = 1, max = 200))]
    pub label: String,
    /// When the key stops working (RFC 3339, in the future); never when absent.
    pub expires_at: Option<String>,
}

/// A new key: the secret is shown here once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IssuedOutput<R> {
    pub key_id: String,
    /// `tg_…`: shown once, never stored.
    pub api_key: String,
    pub role: R,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// Issue a key within the plan's active-key cap. The cap counts every key
/// that can authenticate; a rotation (`replacing`) swaps one unreplaced key
/// for another, so it is held to the count of keys no rotation has replaced:
/// during a grace the only excess is one old key per rotation, after it none.
fn issue<R: RoleWire>(
    cx: &ToolCx,
    tx: &WriteCx<'_>,
    replacing: bool,
    wire_role: R,
    label: String,
    expires_at: Option<String>,
) -> Result<IssuedOutput<R>, ToolError> {
    let role = wire_role.into_role();
    let scope = scope(cx, tx)?;
    // Platform keys in the platform scope, tenant roles in a tenant's.
    let allowed = if scope.is_none() { role == Role::PlatformAdmin } else { role != Role::PlatformAdmin };
    if !allowed {
        return Err(ToolError::invalid_argument("/role", "this role cannot be issued in your scope"));
    }
    let now = cx.clock.now();
    if let (Some(b), Some(tenant)) = (&cx.billing, scope.as_deref()) {
        let at = clock::rfc3339(now);
        let cap = u64::from(b.limits.max_active_keys);
        let over = if replacing {
            // The key being replaced is among these and stops counting after its grace.
            crate::store::billing::unreplaced_active_keys(tx.conn, tenant, &at)? > cap
        } else {
            crate::store::billing::active_keys(tx.conn, tenant, &at)? >= cap
        };
        if over {
            return Err(ToolError::new(
                ToolErrorCode::FailedPrecondition,
                format!("the plan allows {} active keys; revoke one first", b.limits.max_active_keys),
            ));
        }
    }
    let expires_at = match expires_at {
        None => None,
        Some(e) => {
            let t = clock::parse(&e)
                .ok_or_else(|| ToolError::invalid_argument("/expires_at", "expires_at must be RFC 3339"))?;
            if t <= now {
                return Err(ToolError::invalid_argument("/expires_at", "expires_at must be in the future"));
            }
            Some(clock::rfc3339(t))
        }
    };
    let issued = key_format::generate();
    keys::insert(
        tx.conn,
        &keys::KeyRow {
            key_id: issued.key_id.0.clone(),
            tenant_id: scope,
            role: role.as_str().into(),
            label: label.clone(),
            secret_digest: issued.secret_digest.clone(),
            status: "active".into(),
            created_at: clock::rfc3339(now),
            expires_at: expires_at.clone(),
            revoked_at: None,
            replaced_by: None,
        },
    )?;
    Ok(IssuedOutput { key_id: issued.key_id.0, api_key: issued.token, role: wire_role, label, expires_at })
}

/// Issues a key.
pub struct Issue;

impl<E: EditionKind> Tool<E> for Issue {
    type Input = IssueInput<E::Role>;
    type Output = IssuedOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            annotations: WRITE,
            roles: ADMINS,
            charges: &[(Counter::KeysIssued, 1)],
            returns_secret: true,
            ..ToolSpec::open(
                "key.issue",
                1,
                "Issue an API key",
                "Issue an API key with a role, a label and an optional expiry. The secret is shown once.",
            )
        }
    }

    fn run(&self, input: Self::Input, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        issue(cx, tx, false, input.role, input.label, input.expires_at)
    }
}

/// `key.rotate` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    pub key_id: String,
    /// How long the old key keeps working (0 .. 2592000 seconds).
    #[schemars(range(max = 2_592_000))]
    pub grace_seconds: u64,
}

/// The replacement key and when the old one stops.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RotateOutput<R> {
    #[serde(flatten)]
    pub new_key: IssuedOutput<R>,
    pub old_key_id: String,
    /// The old key works until then.
    pub old_key_expires_at: String,
}

/// Rotates a key.
pub struct Rotate;

impl<E: EditionKind> Tool<E> for Rotate {
    type Input = RotateInput;
    type Output = RotateOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            annotations: WRITE,
            roles: ADMINS,
            feature: Some(Feature::KeyRotation),
            charges: &[(Counter::KeysIssued, 1)],
            returns_secret: true,
            ..ToolSpec::open(
                "key.rotate",
                1,
                "Rotate an API key",
                "Issue a replacement for a key (same role and label); the old key keeps working for grace_seconds, then stops.",
            )
        }
    }

    fn run(&self, input: RotateInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        if input.grace_seconds > MAX_GRACE_SECONDS {
            return Err(ToolError::invalid_argument("/grace_seconds", "grace_seconds is at most 2592000 (30 days)"));
        }
        let old = own_key(cx, tx, &input.key_id)?;
        if let Some(successor) = &old.replaced_by {
            return Err(already_rotated(successor));
        }
        let expired = old.expires_at.as_deref().is_some_and(|e| e <= cx.clock.now_rfc3339().as_str());
        if old.status != "active" || expired {
            return Err(ToolError::new(
                ToolErrorCode::FailedPrecondition,
                "only an active, unexpired key can be rotated; issue a new key instead",
            ));
        }
        let role =
            Role::parse(&old.role).ok_or_else(|| ToolError::new(ToolErrorCode::Internal, "stored role unknown"))?;
        let new_key = issue(cx, tx, true, E::Role::from_role(role), old.label.clone(), old.expires_at.clone())?;
        let grace = time::Duration::seconds(i64::try_from(input.grace_seconds).unwrap_or(0));
        let old_end = clock::rfc3339(cx.clock.now() + grace);
        if !keys::retire(tx.conn, &old.key_id, &old_end, &new_key.key_id)? {
            // Checked above in this transaction; a miss means the row changed under us.
            return Err(ToolError::new(ToolErrorCode::Internal, "the key changed during its rotation; retry"));
        }
        let effective = keys::get(tx.conn, &old.key_id)?.and_then(|k| k.expires_at).unwrap_or(old_end);
        Ok(RotateOutput { new_key, old_key_id: old.key_id, old_key_expires_at: effective })
    }
}

/// `key.revoke` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    pub key_id: String,
}

/// The revoked key.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RevokeOutput {
    pub key_id: String,
    pub status: String,
    pub revoked_at: String,
}

/// Revokes a key (effective on the next request).
pub struct Revoke;

impl<E: EditionKind> Tool<E> for Revoke {
    type Input = RevokeInput;
    type Output = RevokeOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            annotations: Annotations { destructive_hint: true, idempotent_hint: true, ..WRITE },
            roles: ADMINS,
            billing: BillingClass::Safety,
            ..ToolSpec::open(
                "key.revoke",
                1,
                "Revoke an API key",
                "Revoke a key at once; requests with it are refused from then on.",
            )
        }
    }

    fn run(&self, input: RevokeInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<RevokeOutput, ToolError> {
        let key = own_key(cx, tx, &input.key_id)?;
        let now = cx.clock.now_rfc3339();
        keys::revoke(tx.conn, &key.key_id, &now)?;
        cx.announcements.end_streams(crate::events::Ending::Principals(vec![key.key_id.clone()]));
        let revoked_at = keys::get(tx.conn, &key.key_id)?.and_then(|k| k.revoked_at).unwrap_or(now);
        Ok(RevokeOutput { key_id: key.key_id, status: "revoked".into(), revoked_at })
    }
}

/// Every key of the caller's scope, oldest first (metadata only, never secrets).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOutput<R> {
    pub keys: Vec<KeyView<R>>,
}

/// Lists the keys of the caller's scope.
pub struct List;

impl<E: EditionKind> Tool<E> for List {
    type Input = NoArguments;
    type Output = ListOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            roles: ADMINS,
            billing: BillingClass::Safety,
            ..ToolSpec::open(
                "key.list",
                1,
                "List API keys",
                "List the keys you manage: ids, roles, labels, status and dates. Never secrets.",
            )
        }
    }

    fn run(&self, _input: NoArguments, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        let now = cx.clock.now_rfc3339();
        let rows = keys::list(tx.conn, scope(cx, tx)?.as_deref())?;
        Ok(ListOutput { keys: rows.into_iter().map(|r| view(r, &now)).collect() })
    }
}
