//! Authentication of requests that are not a `tools/call`, and the flood
//! record of an unauthenticated refusal.
//!
//! Invariants: every such request authenticates exactly as a `tools/call`
//! does and takes from the same key and tenant rate limits; every refusal is
//! counted in the flood-denial windows (aggregated, so a flood costs nothing).

use crate::audit::SYSTEM_CHAIN;
use crate::billing::BillingView;
use crate::gate::credentials::{AuthError, AuthFailure};
use crate::gate::{Requester, auth_error};
use crate::identity::{Credential, Principal, key_format};
use crate::server::call::{Caller, Governance};
use crate::store::denials::DenialKey;
use crate::tools::context::CallContext;
use crate::wire::denial::Forbid;
use crate::wire::errors::RpcError;

impl Governance {
    /// Authenticate a request that is not a `tools/call` (`tools/list`,
    /// `initialize`, `ping`, `logging/setLevel`, `subscriptions/listen`) and
    /// take it from the key's and tenant's rate limits, the same buckets as a
    /// `tools/call`; a refusal is counted in the flood-denial windows.
    pub fn authenticate(&self, cx: &CallContext, method: &str) -> Result<Principal, RpcError> {
        self.authenticate_with_billing(cx, method).map(|(principal, _)| principal)
    }

    /// [`Self::authenticate`], also giving the billing view the rate limits
    /// read (so `tools/list` does not read it a second time).
    pub fn authenticate_with_billing(
        &self,
        cx: &CallContext,
        method: &str,
    ) -> Result<(Principal, Option<BillingView>), RpcError> {
        let principal = self
            .authenticate_caller(&Caller::of(cx), cx.session_principal.as_deref(), method)
            .map_err(|e| auth_error(&e).to_rpc())?;
        let requester = Requester {
            principal: &principal,
            transport: cx.transport,
            request_id: &cx.request_id,
            method: Some(method),
        };
        let billing = self.rate_limits.admit(&requester).map_err(|d| d.to_rpc())?;
        Ok((principal, billing))
    }

    /// [`Self::authenticate`] for any request, on a legacy session opened by
    /// `bound` (if any): a refusal is counted in the flood-denial windows under `method`.
    pub(crate) fn authenticate_caller(
        &self,
        caller: &Caller<'_>,
        bound: Option<&str>,
        method: &str,
    ) -> Result<Principal, AuthError> {
        self.authenticator.authenticate_on(caller.credential, bound).inspect_err(|e| {
            match e {
                AuthError::Refused(f) => self.note_flood(caller, *f, Some(method)),
                // Audited under the key's principal in its own chain, aggregated like other refusals.
                AuthError::Mismatch(key) => {
                    let chain = key.tenant.as_ref().map_or_else(|| SYSTEM_CHAIN.to_owned(), |t| t.0.clone());
                    let denial = DenialKey {
                        chain,
                        principal: key.id.clone(),
                        reason: Forbid::CredentialMismatch.reason().to_owned(),
                        tool: Some(method.to_owned()),
                        transport: caller.transport.as_str().to_owned(),
                    };
                    self.store.denials.note(denial, self.clock.now(), caller.request_id);
                }
                AuthError::Unbound(_) => self.note_flood(caller, AuthFailure::UnboundSubject, Some(method)),
                // The subject verified: its refusal is aggregated under its own principal.
                AuthError::NoScope { principal, .. } => {
                    let chain = principal.tenant.as_ref().map_or_else(|| SYSTEM_CHAIN.to_owned(), |t| t.0.clone());
                    let denial = DenialKey {
                        chain,
                        principal: principal.id.clone(),
                        reason: Forbid::InsufficientScope.reason().to_owned(),
                        tool: Some(method.to_owned()),
                        transport: caller.transport.as_str().to_owned(),
                    };
                    self.store.denials.note(denial, self.clock.now(), caller.request_id);
                }
                AuthError::Unavailable(_) => {}
            }
        })
    }

    pub(crate) fn note_flood(&self, caller: &Caller<'_>, failure: AuthFailure, tool: Option<&str>) {
        // A real key refused for its state (revoked, expired, tenant) is named by its
        // public id; anything else is `anonymous`, so random forged ids cannot split
        // a flood into many records.
        let principal = match caller.credential {
            Credential::Bearer(token) if failure.names_a_real_key() => key_format::parse(token).map(|(id, _)| id.0),
            _ => None,
        };
        let reason = failure.reason();
        let key = DenialKey {
            chain: SYSTEM_CHAIN.to_owned(),
            principal: principal.unwrap_or_else(|| "anonymous".to_owned()),
            reason: reason.to_owned(),
            tool: tool.map(str::to_owned),
            transport: caller.transport.as_str().to_owned(),
        };
        self.store.denials.note(key, self.clock.now(), caller.request_id);
    }
}
