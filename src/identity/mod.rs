//! Who is calling: API keys, principals and roles.
//!
//! Invariants: a key's secret is never stored or logged, only its SHA-256
//! digest, compared in constant time; the effective tenant comes from the
//! principal, never from the request.

mod failure;
pub mod key_format;
pub mod oauth;

pub use failure::AuthFailure;

use serde::{Deserialize, Serialize};

/// Roles a principal can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the service.
    PlatformAdmin,
    /// Manages an account: keys, data, exports.
    TenantAdmin,
    /// Operates the account's tools.
    Operator,
    /// Reads the account's state.
    Viewer,
    /// Reads the account's audit trail and usage.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
            Role::Auditor => "auditor",
        }
    }

    /// Of two roles, the one that may do less: when a key and a certificate of
    /// the same tenant are presented together, the narrower one applies.
    /// Ordered tenant_admin > operator > auditor > viewer (platform above all).
    pub fn narrower(self, other: Role) -> Role {
        fn rank(r: Role) -> u8 {
            match r {
                Role::PlatformAdmin => 4,
                Role::TenantAdmin => 3,
                Role::Operator => 2,
                Role::Auditor => 1,
                Role::Viewer => 0,
            }
        }
        if rank(other) < rank(self) { other } else { self }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::PlatformAdmin, Role::TenantAdmin, Role::Operator, Role::Viewer, Role::Auditor]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// How a role is written on the wire: the multi-tenant edition of a tool
/// uses [`Role`]; the single-tenant edition uses [`AccountRole`], whose names
/// carry no tenant wording. Both map to the same internal [`Role`].
pub trait RoleWire:
    Serialize + serde::de::DeserializeOwned + schemars::JsonSchema + Copy + Send + Sync + 'static
{
    fn from_role(role: Role) -> Self;
    fn into_role(self) -> Role;
}

impl RoleWire for Role {
    fn from_role(role: Role) -> Self {
        role
    }

    fn into_role(self) -> Role {
        self
    }
}

/// The roles an API key can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// Runs the service.
    PlatformAdmin,
    /// Manages the account: keys, data, exports.
    Admin,
    /// Operates the account's tools.
    Operator,
    /// Reads the account's state.
    Viewer,
    /// Reads the account's audit trail and usage.
    Auditor,
}

impl RoleWire for AccountRole {
    fn from_role(role: Role) -> Self {
        match role {
            Role::PlatformAdmin => AccountRole::PlatformAdmin,
            Role::TenantAdmin => AccountRole::Admin,
            Role::Operator => AccountRole::Operator,
            Role::Viewer => AccountRole::Viewer,
            Role::Auditor => AccountRole::Auditor,
        }
    }

    fn into_role(self) -> Role {
        match self {
            AccountRole::PlatformAdmin => Role::PlatformAdmin,
            AccountRole::Admin => Role::TenantAdmin,
            AccountRole::Operator => Role::Operator,
            AccountRole::Viewer => Role::Viewer,
            AccountRole::Auditor => Role::Auditor,
        }
    }
}

/// A tenant id (`tn_<16 hex>`, deterministic from the slug).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TenantId(pub String);

impl TenantId {
    /// The tenant `init` creates and single-tenant mode acts on.
    pub fn default_tenant() -> Self {
        Self::for_slug("default")
    }

    /// The id a slug gets: the same slug always gives the same id.
    pub fn for_slug(slug: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("tollgate-tenant:{slug}").as_bytes());
        Self(format!("tn_{}", &hex::encode(digest)[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An API key id (`k` + 16 hex); public: it names a key in lists and audit records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyId(pub String);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// What audit records name: a key id, or `local` for the person at a stdio terminal.
    pub id: String,
    pub kind: PrincipalKind,
    pub role: Role,
    /// The principal's own tenant; `None` for platform principals (and for
    /// an OAuth subject not bound yet, which may only redeem an invite).
    pub tenant: Option<TenantId>,
    /// For an OAuth principal: its verified subject and its binding's role
    /// before scopes narrowed it.
    pub oauth: Option<Box<OAuthGrant>>,
}

/// How the principal proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    ApiKey,
    /// A client certificate bound with `key.bind_cert` (mTLS). Not published in
    /// the schemas of the `whoami` versions that predate it, which omit the kind.
    #[schemars(skip)]
    Certificate,
    /// The local admin of a stdio process (or of conformance mode).
    Local,
    /// A person, through an OAuth access token (RFC 9068) bound by `identity.redeem`.
    #[schemars(skip)]
    OauthUser,
    /// A service, through a client-credentials OAuth access token (`sub` is its `client_id`).
    #[schemars(skip)]
    OauthClient,
}

impl Principal {
    /// The local platform admin (stdio `--local-admin`, conformance mode).
    pub fn local_admin() -> Self {
        Self { id: "local".into(), kind: PrincipalKind::Local, role: Role::PlatformAdmin, tenant: None, oauth: None }
    }

    pub fn is_platform(&self) -> bool {
        self.role == Role::PlatformAdmin && self.oauth.is_none()
    }

    /// An OAuth subject no tenant has bound (it may only redeem an invite).
    pub fn is_unbound_subject(&self) -> bool {
        self.oauth.as_ref().is_some_and(|g| g.bound_role.is_none())
    }
}

/// User or client (RFC 9068 §5): a client-credentials token's `sub` is its
/// `client_id`, so a token whose `sub` equals its `client_id` is the client
/// itself; any other is a user acting through that client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    User,
    Client,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(SubjectKind::User),
            "client" => Some(SubjectKind::Client),
            _ => None,
        }
    }
}

/// A verified token's subject: known only after its signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSubject {
    /// The configured issuer's label (`oauth.issuers.name`).
    pub issuer_name: String,
    /// The issuer identifier, exactly as configured (and as `iss` said).
    pub issuer: String,
    pub kind: SubjectKind,
    pub subject: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

impl OAuthSubject {
    /// What audit records and `whoami` name this principal by.
    pub fn principal_id(&self) -> String {
        format!("oauth:{}:{}:{}", self.issuer_name, self.kind.as_str(), self.subject)
    }
}

/// What an OAuth principal carries beside its role: the subject and the
/// role its binding gave before scopes narrowed it (so a denial can tell
/// whether more scope would help).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthGrant {
    pub subject: OAuthSubject,
    /// `None`: not bound to any tenant yet (only `identity.redeem` is open to it).
    pub bound_role: Option<Role>,
}

/// The SHA-256 of a client certificate's DER, lowercase hex. Public (it names
/// a certificate, proves nothing by itself); only the TLS layer creates one,
/// from a certificate rustls verified during the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertFingerprint(pub String);

impl CertFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        use sha2::Digest;
        Self(hex::encode(sha2::Sha256::digest(der)))
    }

    /// What audit records and `whoami` name a certificate principal by.
    pub fn principal_id(&self) -> String {
        format!("cert:{}", self.0)
    }
}

/// The credential a transport extracted; transports never decide anything with it.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credential {
    /// No credential was presented.
    #[default]
    None,
    /// `Authorization: Bearer …` or `TOLLGATE_API_KEY`.
    Bearer(String),
    /// The local admin of this process.
    LocalAdmin,
    /// More than one credential header (`Authorization`) on one request:
    /// none of them is tried, so no "first wins" can be exploited.
    Ambiguous,
    /// The verified client certificate of an mTLS connection, with the bearer
    /// key sent on the same request, if any (how a certificate gets bound).
    Certificate { fingerprint: CertFingerprint, bearer: Option<String> },
}

impl std::fmt::Debug for Credential {
    /// Never prints a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::None => f.write_str("None"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credential::LocalAdmin => f.write_str("LocalAdmin"),
            Credential::Ambiguous => f.write_str("Ambiguous"),
            Credential::Certificate { fingerprint, bearer } => {
                write!(f, "Certificate({}, bearer: {})", fingerprint.0, bearer.is_some())
            }
        }
    }
}
