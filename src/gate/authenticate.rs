//! Gate step 1: authenticate the request's credential.
//!
//! Fail closed: no credential, a bad one, or a store that cannot answer all
//! refuse the call (-31401 with a reason, or -31503).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Admission, Refusal, Step};
use crate::gate::credentials::{AuthError, Authenticator};
use crate::identity::{AuthFailure, Principal, PrincipalKind, Role};
use crate::identity::{OAuthGrant, SubjectKind};
use crate::wire::denial::{Denial, Forbid};

/// The one tool an OAuth subject no tenant has bound may call.
pub const REDEEM_TOOL: &str = "identity.redeem";

/// Authenticates the caller.
pub struct Authenticate {
    authenticator: Arc<Authenticator>,
}

impl Authenticate {
    pub fn new(authenticator: Arc<Authenticator>) -> Self {
        Self { authenticator }
    }
}

/// The denial for an authentication failure.
pub fn auth_error(e: &AuthError) -> Denial {
    match e {
        AuthError::Refused(f) => Denial::Unauthenticated(*f),
        AuthError::Unavailable(s) => Denial::Unavailable(s.to_string()),
        AuthError::Mismatch(_) => Denial::forbidden(Forbid::CredentialMismatch, "", serde_json::json!({})),
        AuthError::Unbound(_) => Denial::Unauthenticated(AuthFailure::UnboundSubject),
        AuthError::NoScope { scope, .. } => Denial::forbidden(
            Forbid::InsufficientScope,
            "your access token carries no scope your binding's role includes; obtain one with the scope named",
            serde_json::json!({ "scope": scope }),
        ),
    }
}

/// Whether a requested tool name (`name` or `name.vN`) is `identity.redeem`.
fn is_redeem(requested: &str) -> bool {
    requested == REDEEM_TOOL || requested.strip_prefix(REDEEM_TOOL).is_some_and(|v| v.starts_with(".v"))
}

impl Step for Authenticate {
    fn name(&self) -> &'static str {
        "authenticate"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let bound = call.context.session_principal.as_deref();
            // An OAuth token whose key is not cached yet is fetched for, within the negative cache.
            self.authenticator.prepare(&call.context.credential).await;
            let principal = match self.authenticator.authenticate_on(&call.context.credential, bound) {
                Ok(p) => p,
                // The key's principal is known: the refusal is audited in its chain, not aggregated.
                Err(AuthError::Mismatch(key)) => {
                    let e = auth_error(&AuthError::Mismatch(key.clone()));
                    call.principal = Some(*key);
                    return Err(Refusal::Deny(e));
                }
                // A verified but unbound subject may redeem an invite, and do nothing else.
                Err(AuthError::Unbound(subject)) if is_redeem(&call.requested_name) => {
                    let kind = match subject.kind {
                        SubjectKind::User => PrincipalKind::OauthUser,
                        SubjectKind::Client => PrincipalKind::OauthClient,
                    };
                    Principal {
                        id: subject.principal_id(),
                        kind,
                        role: Role::Viewer,
                        tenant: None,
                        oauth: Some(Box::new(OAuthGrant { subject: *subject, bound_role: None })),
                    }
                }
                // The subject is known (its token verified): audited in its tenant's chain.
                Err(AuthError::NoScope { principal, scope }) => {
                    let e = auth_error(&AuthError::NoScope { principal: principal.clone(), scope });
                    call.principal = Some(*principal);
                    return Err(Refusal::Deny(e));
                }
                Err(e) => return Err(Refusal::Deny(auth_error(&e))),
            };
            call.principal = Some(principal);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_credentials_are_a_bad_request_with_a_stable_reason() {
        let e = auth_error(&AuthError::Refused(AuthFailure::AmbiguousCredentials)).to_rpc();
        assert_eq!((e.code, e.http_status()), (crate::wire::errors::INVALID_REQUEST, 400));
        assert_eq!(e.data.as_ref().and_then(|d| d["reason"].as_str()), Some("ambiguous_credentials"));
        let missing = auth_error(&AuthError::Refused(AuthFailure::MissingCredential)).to_rpc();
        assert_eq!(missing.http_status(), 401);
    }

    #[test]
    fn token_refusals_are_401_an_unbound_subject_403_and_a_missing_issuer_503() {
        let status = |e: AuthError| auth_error(&e).to_rpc().http_status();
        for f in [AuthFailure::TokenExpired, AuthFailure::TokenSignature, AuthFailure::TokenAudience] {
            assert_eq!(status(AuthError::Refused(f)), 401, "{f:?}");
        }
        assert_eq!(status(AuthError::Refused(AuthFailure::UnboundSubject)), 403);
        assert_eq!(status(AuthError::Refused(AuthFailure::IssuerUnavailable)), 503);
        let e =
            auth_error(&AuthError::NoScope { principal: Box::new(Principal::local_admin()), scope: "tollgate:admin" })
                .to_rpc();
        let data = e.data.unwrap_or_default();
        assert_eq!(
            (e.code, data["reason"].as_str(), data["scope"].as_str()),
            (crate::wire::errors::FORBIDDEN, Some("insufficient_scope"), Some("tollgate:admin"))
        );
    }

    #[test]
    fn only_identity_redeem_is_open_to_an_unbound_subject() {
        assert!(is_redeem("identity.redeem"));
        assert!(is_redeem("identity.redeem.v1"));
        assert!(!is_redeem("identity.redeemer"));
        assert!(!is_redeem("identity.list"));
        assert!(!is_redeem("whoami"));
    }
}
