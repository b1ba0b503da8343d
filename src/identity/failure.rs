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
    /// An OAuth access token past its `exp` (with the leeway).
    TokenExpired,
    /// An OAuth access token before its `nbf` (or issued in the future).
    TokenNotYetValid,
    /// An OAuth access token valid for longer than its issuer's `max_lifetime_secs`.
    TokenLifetime,
    /// `aud` does not contain this server's resource URI exactly.
    TokenAudience,
    /// `iss` is not a configured issuer.
    TokenIssuer,
    /// The signature does not verify with the issuer's keys, its `kid` is
    /// unknown, or its algorithm is not allowed (`none`, HMAC, …).
    TokenSignature,
    /// `typ` is not `at+jwt` (an ID token, for one).
    TokenType,
    /// Not a JWS of the expected shape, a `crit` header, or a required claim missing.
    TokenMalformed,
    /// A valid token whose subject no tenant has bound (-31403, not -31401:
    /// a new token would not help).
    UnboundSubject,
    /// The token's issuer has not served its keys yet (-31503).
    IssuerUnavailable,
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
            AuthFailure::TokenExpired => "token_expired",
            AuthFailure::TokenNotYetValid => "token_not_yet_valid",
            AuthFailure::TokenLifetime => "token_lifetime",
            AuthFailure::TokenAudience => "token_audience",
            AuthFailure::TokenIssuer => "token_issuer",
            AuthFailure::TokenSignature => "token_signature",
            AuthFailure::TokenType => "token_type",
            AuthFailure::TokenMalformed => "token_malformed",
            AuthFailure::UnboundSubject => "unbound_subject",
            AuthFailure::IssuerUnavailable => "issuer_unavailable",
        }
    }

    /// Whether this is about an OAuth access token (its challenge says `invalid_token`).
    pub fn is_token(self) -> bool {
        matches!(
            self,
            AuthFailure::TokenExpired
                | AuthFailure::TokenNotYetValid
                | AuthFailure::TokenLifetime
                | AuthFailure::TokenAudience
                | AuthFailure::TokenIssuer
                | AuthFailure::TokenSignature
                | AuthFailure::TokenType
                | AuthFailure::TokenMalformed
        )
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
