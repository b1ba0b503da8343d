//! How a deletion plan gets confirmed: the seam between "here is what will
//! be removed" and "remove it".
//!
//! Invariant: [`Confirmed`] can only be made here, and only for the digest of
//! the plan the user saw; `delete::execute` takes one, so nothing deletes a
//! tenant without a confirmation of the current plan.
//!
//! Two routes: a client that can answer elicitation is asked (an
//! `input_required` result for 2026-07-28 clients, `elicitation/create` for
//! 2025 ones) with the plan digest bound into the question
//! ([`crate::tools::ask::Input::ask`]), and [`Confirmed::by_user_answer`] turns
//! the answer into a confirmation; any other client gets a token round trip:
//! the plan call returns a one-time token (stored only as its digest, bound to
//! the tenant and the plan's digest, expiring) that the second call presents.

use crate::store::Db;

use crate::audit::digest;
use crate::store::{StoreError, lifecycle};

/// How long a deletion token works.
pub const TOKEN_TTL_SECS: i64 = 10 * 60;

/// Proof that the plan with this digest was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    plan_digest: String,
}

impl Confirmed {
    /// The digest of the plan that was confirmed.
    pub fn plan_digest(&self) -> &str {
        &self.plan_digest
    }

    /// The interactive seam: the user answered a confirmation request that
    /// carried `plan_digest` in its sealed state. `accepted` is their answer.
    pub fn by_user_answer(plan_digest: &str, accepted: bool) -> Result<Self, Denied> {
        if accepted { Ok(Self { plan_digest: plan_digest.to_owned() }) } else { Err(Denied::Declined) }
    }
}

/// Why a confirmation was refused (each a stable reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No plan has this token, or it was made for another tenant.
    #[error(
        "invalid_token: this confirm_token is not one tollgate issued for this tenant; call again without it to get a plan and a token"
    )]
    InvalidToken,
    /// The token was already used.
    #[error("token_used: this confirm_token was already used; call again without it to get a new plan")]
    TokenUsed,
    /// The token expired.
    #[error("token_expired: this confirm_token has expired; call again without it to get a new plan")]
    TokenExpired,
    /// The tenant's data changed since the plan was made.
    #[error("plan_changed: the tenant's data changed since the plan was made; review the new plan and confirm again")]
    PlanChanged,
    /// The user declined.
    #[error("declined: the deletion was not confirmed")]
    Declined,
}

/// A new one-time token: `tgdel_` and 64 hex digits of OS randomness.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("tgdel_{}", hex::encode(bytes))
}

/// Remembers `plan_digest` for `tenant` under the digest of `token`.
pub fn remember(
    conn: &Db,
    tenant: &str,
    plan_digest: &str,
    token: &str,
    now: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    lifecycle::insert_plan(conn, &digest(token.as_bytes()), tenant, plan_digest, now, expires_at)
}

/// The token route: `token` confirms the current plan (`current_digest`) of
/// `tenant` if it was issued for this tenant, is unused and unexpired, and
/// was issued with this very plan. A confirmed token is used up.
pub fn by_token(
    conn: &Db,
    tenant: &str,
    current_digest: &str,
    token: &str,
    now: &str,
) -> Result<Result<Confirmed, Denied>, StoreError> {
    let key = digest(token.as_bytes());
    let Some(pending) = lifecycle::plan_by_token(conn, &key)?.filter(|p| p.tenant_id == tenant) else {
        return Ok(Err(Denied::InvalidToken));
    };
    if pending.used_at.is_some() {
        return Ok(Err(Denied::TokenUsed));
    }
    if pending.expires_at.as_str() <= now {
        return Ok(Err(Denied::TokenExpired));
    }
    if pending.plan_digest != current_digest {
        return Ok(Err(Denied::PlanChanged));
    }
    if !lifecycle::use_token(conn, &key, now)? {
        return Ok(Err(Denied::TokenUsed));
    }
    Ok(Ok(Confirmed { plan_digest: pending.plan_digest }))
}
