//! Certificate tools: `key.bind_cert` and `key.unbind_cert` (mTLS identity).
//!
//! Invariants: a certificate is bound only over a connection that presents
//! it (verified by rustls) together with a tenant admin's key — a fingerprint
//! is public, so naming one proves nothing; a fingerprint belongs to at most
//! one tenant, and a conflict answers exactly like an unusable certificate,
//! so binding reveals nothing about other tenants; another tenant's binding
//! answers `not_found` like a missing one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::EditionKind;
use super::registry::{Annotations, BillingClass, Registry, RegistryError, Tool, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::identity::{Credential, PrincipalKind, Role, RoleWire};
use crate::store::{WriteCx, cert_bindings};

/// Register `key.bind_cert` and `key.unbind_cert` (both editions; roles are
/// written the edition's way).
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_typed(BindCert)?;
    r.add_typed(UnbindCert)?;
    Ok(())
}

const TENANT_ADMIN: &[Role] = &[Role::TenantAdmin];

/// The one answer for "no usable certificate", "already bound" (anywhere) and "not presented".
fn unusable() -> ToolError {
    ToolError::new(
        ToolErrorCode::FailedPrecondition,
        "no bindable client certificate: connect over mTLS presenting a verified certificate that is not bound yet, \
         together with your key (Authorization: Bearer)",
    )
}

/// `key.bind_cert`.
pub struct BindCert;

/// `key.bind_cert` input: what the presented certificate will act as.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindInput<R> {
    /// The role the certificate acts with (never platform_admin).
    pub role: R,
    /// What the certificate is for (1-200 characters).
    #[schemars(length(min = 1, max = 200))]
    pub label: String,
}

/// The new binding.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BindOutput<R> {
    /// SHA-256 of the certificate's DER, lowercase hex (what `key.unbind_cert` takes).
    pub fingerprint: String,
    /// The principal id the certificate acts as (`cert:<fingerprint>`).
    pub principal: String,
    pub role: R,
    pub label: String,
    pub created_at: String,
}

impl<E: EditionKind> Tool<E> for BindCert {
    type Input = BindInput<E::Role>;
    type Output = BindOutput<E::Role>;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            tenant_scoped: true,
            annotations: Annotations::WRITE,
            roles: TENANT_ADMIN,
            ..ToolSpec::open(
                "key.bind_cert",
                1,
                "Bind a client certificate",
                "Bind the client certificate this mTLS connection presents to your account, with a role and a label. \
                 Call it with your key over a connection that presents the certificate.",
            )
        }
    }

    fn run(&self, input: Self::Input, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<Self::Output, ToolError> {
        let role = input.role.into_role();
        if role == Role::PlatformAdmin {
            return Err(ToolError::invalid_argument("/role", "a certificate acts with a tenant role"));
        }
        let Credential::Certificate { fingerprint, bearer: Some(_) } = &cx.call.credential else {
            return Err(unusable());
        };
        // The key acts (the certificate was unbound); anything else means it is bound already.
        let (PrincipalKind::ApiKey, Some(tenant)) = (cx.principal.kind, cx.principal.tenant.as_ref()) else {
            return Err(unusable());
        };
        let created_at = cx.clock.now_rfc3339();
        let row = cert_bindings::CertBindingRow {
            fingerprint: fingerprint.0.clone(),
            tenant_id: tenant.0.clone(),
            role: role.as_str().into(),
            label: input.label.clone(),
            bound_by: cx.principal.id.clone(),
            created_at: created_at.clone(),
        };
        if !cert_bindings::insert(tx.conn, &row)? {
            return Err(unusable());
        }
        Ok(BindOutput {
            fingerprint: fingerprint.0.clone(),
            principal: fingerprint.principal_id(),
            role: input.role,
            label: input.label,
            created_at,
        })
    }
}

/// `key.unbind_cert`: a lost certificate can be unbound without presenting it.
pub struct UnbindCert;

/// `key.unbind_cert` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnbindInput {
    /// The certificate's SHA-256 fingerprint, as `key.bind_cert` returned it.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub fingerprint: String,
}

/// The removed binding.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UnbindOutput {
    pub fingerprint: String,
    /// Always true: the certificate no longer acts from the next request on.
    pub unbound: bool,
}

impl<E: EditionKind> Tool<E> for UnbindCert {
    type Input = UnbindInput;
    type Output = UnbindOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations { destructive_hint: true, idempotent_hint: true, ..Annotations::WRITE },
            roles: TENANT_ADMIN,
            tenant_scoped: true,
            billing: BillingClass::Safety,
            ..ToolSpec::open(
                "key.unbind_cert",
                1,
                "Unbind a client certificate",
                "Remove a client certificate binding of your account; the certificate stops acting at once.",
            )
        }
    }

    fn run(&self, input: UnbindInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<UnbindOutput, ToolError> {
        let not_found = || ToolError::new(ToolErrorCode::NotFound, "no such certificate binding");
        let tenant = cx.principal.tenant.as_ref().ok_or_else(not_found)?;
        if !cert_bindings::delete(tx.conn, &tenant.0, &input.fingerprint)? {
            return Err(not_found());
        }
        let principal = crate::identity::CertFingerprint(input.fingerprint.clone()).principal_id();
        cx.announcements.end_streams(crate::events::Ending::Principals(vec![principal]));
        Ok(UnbindOutput { fingerprint: input.fingerprint, unbound: true })
    }
}
