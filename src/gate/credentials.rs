//! Authentication: a credential in, a principal or a stable reason out.
//!
//! Invariants: fail closed (any doubt is a refusal); a wrong secret and an
//! unknown key id answer the same; expiry and tenant status are read at every
//! request, so a revocation, an expiry or a suspension applies to the very
//! next call.

use std::sync::Arc;

use super::jwks::KeyCache;
use super::jwt;
use crate::clock::Clock;
use crate::config::OAuthConfig;
pub use crate::identity::AuthFailure;
use crate::identity::oauth::{effective_role, scope_for};
use crate::identity::{Credential, Principal, PrincipalKind, Role, TenantId, key_format};
use crate::identity::{OAuthGrant, OAuthSubject, SubjectKind};
use crate::store::{Store, StoreError, keys, oauth_bindings, tenants};

/// Authentication outcome; `Unavailable` when the store cannot answer (fail closed).
#[derive(Debug, Clone)]
pub enum AuthError {
    Refused(AuthFailure),
    Unavailable(StoreError),
    /// A key and a client certificate of different tenants (or a platform key
    /// with a tenant certificate): -31403 `credential_mismatch`, audited
    /// under the key's principal, which this carries.
    Mismatch(Box<Principal>),
    /// A verified OAuth token whose subject no tenant has bound (it may only
    /// redeem an invite): -31403 `unbound_subject` otherwise.
    Unbound(Box<OAuthSubject>),
    /// A bound OAuth subject whose token carries no tollgate scope that its
    /// binding's role includes: -31403 `insufficient_scope`, asking for `scope`.
    NoScope {
        principal: Box<Principal>,
        scope: &'static str,
    },
}

/// What OAuth validation needs: the issuers' keys and this resource.
pub struct OAuth {
    pub keys: Arc<KeyCache>,
    resource: String,
    leeway_secs: i64,
}

/// Resolves credentials to principals.
pub struct Authenticator {
    store: Arc<Store>,
    clock: Clock,
    multi_tenant: bool,
    oauth: Option<OAuth>,
}

impl Authenticator {
    pub fn new(store: Arc<Store>, clock: Clock, multi_tenant: bool) -> Self {
        Self { store, clock, multi_tenant, oauth: None }
    }

    /// Accept JWT access tokens as `config` says (nothing changes when no issuer is set).
    pub fn with_oauth(mut self, config: &OAuthConfig) -> Self {
        if config.enabled() {
            self.oauth = Some(OAuth {
                keys: Arc::new(KeyCache::new(config, self.clock.clone())),
                resource: config.resource.clone(),
                leeway_secs: i64::try_from(config.leeway_secs).unwrap_or(0),
            });
        }
        self
    }

    /// The OAuth settings in force, if any.
    pub fn oauth(&self) -> Option<&OAuth> {
        self.oauth.as_ref()
    }

    /// Before a JWT is verified: fetch its issuer's keys if its `kid` is not
    /// cached and the negative cache allows a fetch now (one fetch in flight
    /// per issuer; everything else returns at once).
    pub async fn prepare(&self, credential: &Credential) {
        let (Some(oauth), Credential::Bearer(token)) = (&self.oauth, credential) else { return };
        if let Some(issuer) = jwt::needs_fetch(token, &oauth.keys) {
            let _ = oauth.keys.refresh(&issuer, false).await;
        }
    }

    /// Who presents this credential, on a legacy session opened by `bound` (if any).
    pub fn authenticate_on(&self, credential: &Credential, bound: Option<&str>) -> Result<Principal, AuthError> {
        let principal = self.authenticate(credential)?;
        match bound {
            Some(owner) if owner != principal.id => Err(AuthError::Refused(AuthFailure::SessionPrincipalMismatch)),
            _ => Ok(principal),
        }
    }

    /// Who presents this credential.
    pub fn authenticate(&self, credential: &Credential) -> Result<Principal, AuthError> {
        let token = match credential {
            Credential::None => return Err(AuthError::Refused(AuthFailure::MissingCredential)),
            Credential::Ambiguous => return Err(AuthError::Refused(AuthFailure::AmbiguousCredentials)),
            Credential::LocalAdmin => return Ok(Principal::local_admin()),
            Credential::Bearer(t) if jwt::looks_like_jwt(t) => return self.token(t),
            Credential::Bearer(t) => t,
            Credential::Certificate { fingerprint, bearer } => {
                // The bearer beside a certificate is a tollgate key or an OAuth token.
                let by_bearer = |t: &str| if jwt::looks_like_jwt(t) { self.token(t) } else { self.key(t) };
                let by_key = bearer.as_deref().map(by_bearer).transpose()?;
                let by_cert = self.certificate(fingerprint)?;
                return combine(by_key, by_cert);
            }
        };
        self.key(token)
    }

    /// The principal of a bearer key.
    fn key(&self, token: &str) -> Result<Principal, AuthError> {
        let (key_id, secret) = key_format::parse(token).ok_or(AuthError::Refused(AuthFailure::MalformedKey))?;
        let (row, tenant) = self
            .store
            .read(|conn| {
                let row = keys::get(conn, &key_id.0)?;
                // The key names its tenant; only then are that tenant's rows read.
                let tenant = match row.as_ref().and_then(|r| r.tenant_id.as_deref()) {
                    Some(t) => {
                        conn.set_scope(Some(t))?;
                        tenants::get(conn, t)?
                    }
                    None => None,
                };
                Ok((row, tenant))
            })
            .map_err(AuthError::Unavailable)?;
        let row = row.ok_or(AuthError::Refused(AuthFailure::InvalidKey))?;
        if !key_format::matches(secret, &row.secret_digest) {
            return Err(AuthError::Refused(AuthFailure::InvalidKey));
        }
        if row.status != "active" {
            return Err(AuthError::Refused(AuthFailure::Revoked));
        }
        let now = self.clock.now_rfc3339();
        if row.expires_at.as_deref().is_some_and(|e| e <= now.as_str()) {
            return Err(AuthError::Refused(AuthFailure::Expired));
        }
        let role = Role::parse(&row.role).ok_or(AuthError::Refused(AuthFailure::InvalidKey))?;
        let tenant_id = match (&row.tenant_id, tenant) {
            (None, _) if role == Role::PlatformAdmin => None,
            (Some(_), Some(t)) if role != Role::PlatformAdmin => {
                if t.status != "active" {
                    return Err(AuthError::Refused(AuthFailure::TenantInactive));
                }
                if !self.multi_tenant && t.id != TenantId::default_tenant().0 {
                    return Err(AuthError::Refused(AuthFailure::TenantDisabled));
                }
                Some(TenantId(t.id))
            }
            // A tenant key whose tenant is gone, or a platform row with a tenant role: refuse.
            _ => return Err(AuthError::Refused(AuthFailure::InvalidKey)),
        };
        Ok(Principal { id: row.key_id, kind: PrincipalKind::ApiKey, role, tenant: tenant_id, oauth: None })
    }

    /// The principal of a JWT access token: verified (RFC 9068), then bound.
    fn token(&self, token: &str) -> Result<Principal, AuthError> {
        // No issuer is configured: no JWT's issuer can be trusted.
        let Some(oauth) = &self.oauth else { return Err(AuthError::Refused(AuthFailure::TokenIssuer)) };
        let expect = jwt::Expect {
            resource: &oauth.resource,
            leeway_secs: oauth.leeway_secs,
            now: self.clock.now().unix_timestamp(),
        };
        let subject = match jwt::verify(token, &oauth.keys, &expect) {
            Ok(s) => {
                crate::metrics::get().oauth_token_accepted(&s.issuer_name);
                s
            }
            Err(jwt::Verdict::Refused(f)) => return Err(AuthError::Refused(f)),
            // An unknown key: refused now; `prepare` (a `tools/call`) fetches first, and
            // other requests start a fetch for the next one, within the negative cache.
            Err(jwt::Verdict::NeedKeys { issuer, may_refresh }) => {
                if may_refresh {
                    spawn_refresh(&oauth.keys, &issuer);
                }
                return Err(AuthError::Refused(AuthFailure::TokenSignature));
            }
            Err(jwt::Verdict::KeysUnavailable) => return Err(AuthError::Refused(AuthFailure::IssuerUnavailable)),
        };
        let found = self
            .store
            .read(|conn| {
                let b = oauth_bindings::get(conn, &subject.issuer, subject.kind.as_str(), &subject.subject)?;
                let Some(b) = b else { return Ok(None) };
                conn.set_scope(Some(&b.tenant_id))?;
                let tenant = tenants::get(conn, &b.tenant_id)?;
                Ok(Some((b, tenant)))
            })
            .map_err(AuthError::Unavailable)?;
        let Some((binding, tenant)) = found else { return Err(AuthError::Unbound(Box::new(subject))) };
        let bound = Role::parse(&binding.role).filter(|r| *r != Role::PlatformAdmin);
        let (Some(bound), Some(tenant)) = (bound, tenant) else {
            return Err(AuthError::Unbound(Box::new(subject)));
        };
        if tenant.status != "active" {
            return Err(AuthError::Refused(AuthFailure::TenantInactive));
        }
        if !self.multi_tenant && tenant.id != TenantId::default_tenant().0 {
            return Err(AuthError::Refused(AuthFailure::TenantDisabled));
        }
        let kind = match subject.kind {
            SubjectKind::User => PrincipalKind::OauthUser,
            SubjectKind::Client => PrincipalKind::OauthClient,
        };
        let effective = effective_role(bound, &subject.scopes);
        let principal = Principal {
            id: subject.principal_id(),
            kind,
            role: effective.unwrap_or(Role::Viewer),
            tenant: Some(TenantId(tenant.id)),
            oauth: Some(Box::new(OAuthGrant { subject, bound_role: Some(bound) })),
        };
        match effective {
            Some(_) => Ok(principal),
            None => Err(AuthError::NoScope { principal: Box::new(principal), scope: scope_for(bound) }),
        }
    }

    /// The principal a client certificate is bound to, if any; a binding that
    /// cannot act (tenant suspended, or hidden by single-tenant mode) refuses.
    fn certificate(&self, fingerprint: &crate::identity::CertFingerprint) -> Result<Option<Principal>, AuthError> {
        let found = self
            .store
            .read(|conn| {
                let Some(b) = crate::store::cert_bindings::get(conn, &fingerprint.0)? else { return Ok(None) };
                conn.set_scope(Some(&b.tenant_id))?;
                let tenant = tenants::get(conn, &b.tenant_id)?;
                Ok(Some((b, tenant)))
            })
            .map_err(AuthError::Unavailable)?;
        let Some((binding, tenant)) = found else { return Ok(None) };
        let role = Role::parse(&binding.role).filter(|r| *r != Role::PlatformAdmin);
        let (Some(role), Some(tenant)) = (role, tenant) else {
            return Err(AuthError::Refused(AuthFailure::UnknownCertificate));
        };
        if tenant.status != "active" {
            return Err(AuthError::Refused(AuthFailure::TenantInactive));
        }
        if !self.multi_tenant && tenant.id != TenantId::default_tenant().0 {
            return Err(AuthError::Refused(AuthFailure::TenantDisabled));
        }
        Ok(Some(Principal {
            id: fingerprint.principal_id(),
            kind: PrincipalKind::Certificate,
            role,
            tenant: Some(TenantId(tenant.id)),
            oauth: None,
        }))
    }
}

/// Start a key fetch for `issuer` in the background (when a runtime runs).
fn spawn_refresh(keys: &Arc<KeyCache>, issuer: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let keys = Arc::clone(keys);
    let issuer = issuer.to_owned();
    runtime.spawn(async move {
        if let Some(i) = keys.issuer(&issuer).cloned() {
            let _ = keys.refresh(&i, false).await;
        }
    });
}

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
mod cert_tests {
    use super::*;
    use crate::identity::{PrincipalKind, Role, TenantId};

    fn p(id: &str, role: Role, tenant: Option<&str>) -> Principal {
        Principal {
            id: id.into(),
            kind: PrincipalKind::ApiKey,
            role,
            tenant: tenant.map(|t| TenantId(t.into())),
            oauth: None,
        }
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
