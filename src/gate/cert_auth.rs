//! How a key and a client certificate presented together resolve to one principal.
//!
//! Invariants: a certificate alone acts only if bound; a key and a bound
//! certificate must name the same tenant (else `credential_mismatch`), and
//! then the key's principal acts with the narrower of the two roles — adding
//! a credential never widens what a request may do.

use super::authenticator::{AuthError, AuthFailure};
use crate::identity::Principal;

/// Combine what the key and the certificate resolved to.
pub fn combine(by_key: Option<Principal>, by_cert: Option<Principal>) -> Result<Principal, AuthError> {
    match (by_key, by_cert) {
        (None, None) => Err(AuthError::Refused(AuthFailure::UnknownCertificate)),
        (Some(key), None) => Ok(key),
        (None, Some(cert)) => Ok(cert),
        (Some(key), Some(cert)) if key.tenant.is_some() && key.tenant == cert.tenant => {
            Ok(Principal { role: key.role.narrower(cert.role), ..key })
        }
        (Some(key), Some(_)) => Err(AuthError::Mismatch(Box::new(key))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{PrincipalKind, Role, TenantId};

    fn p(id: &str, role: Role, tenant: Option<&str>) -> Principal {
        Principal { id: id.into(), kind: PrincipalKind::ApiKey, role, tenant: tenant.map(|t| TenantId(t.into())) }
    }

    #[test]
    fn key_and_cert_of_one_tenant_act_as_the_key_with_the_narrower_role() {
        let got = combine(Some(p("k1", Role::TenantAdmin, Some("a"))), Some(p("cert:x", Role::Viewer, Some("a"))));
        let got = got.expect("same tenant");
        assert_eq!((got.id.as_str(), got.role), ("k1", Role::Viewer));
        let got = combine(Some(p("k1", Role::Auditor, Some("a"))), Some(p("cert:x", Role::Operator, Some("a"))));
        assert_eq!(got.ok().map(|p| p.role), Some(Role::Auditor));
    }

    #[test]
    fn key_and_cert_of_different_tenants_are_a_mismatch() {
        let got = combine(Some(p("k1", Role::TenantAdmin, Some("a"))), Some(p("cert:x", Role::Viewer, Some("b"))));
        assert!(matches!(got, Err(AuthError::Mismatch(k)) if k.id == "k1"));
        let platform = combine(Some(p("k0", Role::PlatformAdmin, None)), Some(p("cert:x", Role::Viewer, Some("b"))));
        assert!(matches!(platform, Err(AuthError::Mismatch(_))));
    }

    #[test]
    fn an_unbound_cert_alone_is_refused_and_with_a_key_the_key_acts() {
        assert!(matches!(combine(None, None), Err(AuthError::Refused(AuthFailure::UnknownCertificate))));
        let key = p("k1", Role::Operator, Some("a"));
        assert_eq!(combine(Some(key.clone()), None).ok(), Some(key));
    }
}
