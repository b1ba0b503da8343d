//! Gate step 1: authenticate the request's credential.
//!
//! Fail closed: no credential, a bad one, or a store that cannot answer all
//! refuse the call (-31401 with a reason, or -31503).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Admission, Refusal, Step};
use crate::gate::credentials::{AuthError, Authenticator};
use crate::wire::denial::{Denial, Forbid};

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
    }
}

impl Step for Authenticate {
    fn name(&self) -> &'static str {
        "authenticate"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let bound = call.context.session_principal.as_deref();
            let principal = match self.authenticator.authenticate_on(&call.context.credential, bound) {
                Ok(p) => p,
                // The key's principal is known: the refusal is audited in its chain, not aggregated.
                Err(AuthError::Mismatch(key)) => {
                    let e = auth_error(&AuthError::Mismatch(key.clone()));
                    call.principal = Some(*key);
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
    use crate::identity::AuthFailure;

    #[test]
    fn ambiguous_credentials_are_a_bad_request_with_a_stable_reason() {
        let e = auth_error(&AuthError::Refused(AuthFailure::AmbiguousCredentials)).to_rpc();
        assert_eq!((e.code, e.http_status()), (crate::wire::errors::INVALID_REQUEST, 400));
        assert_eq!(e.data.as_ref().and_then(|d| d["reason"].as_str()), Some("ambiguous_credentials"));
        let missing = auth_error(&AuthError::Refused(AuthFailure::MissingCredential)).to_rpc();
        assert_eq!(missing.http_status(), 401);
    }
}
