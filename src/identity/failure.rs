//! Why a credential was refused: the stable reasons of -31401.
//!
//! Invariant: a wrong secret and an unknown key id are one reason
//! (`invalid_key`), so a refusal never tells which key ids exist.

/// Why a credential was refused (the `data.reason` of -31401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential was presented.
    MissingCredential,
    /// Not of the form `tg_<key_id>_<secret>`.
    MalformedKey,
    /// Unknown key id or wrong secret (told apart by nobody).
    InvalidKey,
    Revoked,
    Expired,
    /// The key's tenant is suspended.
    TenantInactive,
    /// Single-tenant mode: keys of other tenants are refused.
    TenantDisabled,
    /// A valid key on a legacy session another principal opened.
    SessionPrincipalMismatch,
    /// An mTLS certificate that is bound to no principal, presented without a key.
    UnknownCertificate,
    /// More than one credential header: a malformed request (-32600, HTTP 400), not -31401.
    AmbiguousCredentials,
}

impl AuthFailure {
    /// Stable machine-readable reason.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::MissingCredential => "missing_credential",
            AuthFailure::MalformedKey => "malformed_key",
            AuthFailure::InvalidKey => "invalid_key",
            AuthFailure::Revoked => "key_revoked",
            AuthFailure::Expired => "key_expired",
            AuthFailure::TenantInactive => "tenant_inactive",
            AuthFailure::TenantDisabled => "tenant_disabled",
            AuthFailure::SessionPrincipalMismatch => "session_principal_mismatch",
            AuthFailure::UnknownCertificate => "unknown_certificate",
            AuthFailure::AmbiguousCredentials => "ambiguous_credentials",
        }
    }

    /// Whether the credential named a real key (refused for its state), so
    /// that its public key id may be recorded with the refusal.
    pub fn names_a_real_key(self) -> bool {
        matches!(
            self,
            AuthFailure::Revoked
                | AuthFailure::Expired
                | AuthFailure::TenantInactive
                | AuthFailure::TenantDisabled
                | AuthFailure::SessionPrincipalMismatch
        )
    }
}
