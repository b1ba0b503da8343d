//! The `[oauth]` settings: which authorization servers tollgate trusts, for
//! which resource, and how keys are refreshed.
//!
//! Invariant: an OAuth setting that cannot be used refuses to start, naming
//! it; with no `[oauth]` table (or no issuer) tollgate accepts no JWT at all.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// A JWS algorithm tollgate may accept. Closed on purpose: `none` and the
/// HMAC family cannot be configured (an HMAC "key" would be the issuer's
/// public key, which anyone has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwsAlgorithm {
    RS256,
    ES256,
    EdDSA,
}

impl JwsAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlgorithm::RS256 => "RS256",
            JwsAlgorithm::ES256 => "ES256",
            JwsAlgorithm::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JwsAlgorithm::RS256, JwsAlgorithm::ES256, JwsAlgorithm::EdDSA].into_iter().find(|a| a.as_str() == s)
    }
}

/// One trusted authorization server.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// A short label: used in principal ids, bindings' display and metrics labels.
    #[serde(default = "default_name")]
    pub name: String,
    /// The issuer identifier, compared byte for byte with a token's `iss`
    /// and with the `issuer` of its metadata document.
    pub url: String,
    /// Algorithms accepted from this issuer.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<JwsAlgorithm>,
    /// Longest accepted `exp - iat` (or `exp - nbf`), in seconds (60 .. 86400).
    #[serde(default = "default_max_lifetime")]
    pub max_lifetime_secs: u64,
    /// Origins besides the issuer's own that its `jwks_uri` may point to.
    #[serde(default)]
    pub jwks_origins: Vec<String>,
}

fn default_name() -> String {
    "default".into()
}

fn default_algorithms() -> Vec<JwsAlgorithm> {
    vec![JwsAlgorithm::RS256, JwsAlgorithm::ES256, JwsAlgorithm::EdDSA]
}

fn default_max_lifetime() -> u64 {
    3600
}

/// `[oauth]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// The canonical URI of this MCP server (RFC 8707 / RFC 9728 `resource`),
    /// e.g. `https://mcp.example.com/mcp`. Never derived from `Host`.
    pub resource: String,
    pub issuers: Vec<IssuerConfig>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds (0 .. 300).
    pub leeway_secs: u64,
    /// How often keys are re-read in the background, in seconds (60 .. 86400).
    pub jwks_refresh_secs: u64,
    /// An unknown `kid` causes at most one key fetch per issuer per this many
    /// seconds (1 .. 3600): the negative cache.
    pub jwks_min_refresh_secs: u64,
    /// Scopes published in the resource metadata (and the 401 challenge).
    pub scopes_supported: Vec<String>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            resource: String::new(),
            issuers: Vec::new(),
            leeway_secs: 60,
            jwks_refresh_secs: 3600,
            jwks_min_refresh_secs: 60,
            scopes_supported: crate::identity::oauth::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl OAuthConfig {
    /// Whether OAuth is on (an issuer and a resource are configured).
    pub fn enabled(&self) -> bool {
        !self.issuers.is_empty()
    }

    /// Whether nothing was set (so the table is left out of the defaults).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// `TOLLGATE_OAUTH_ISSUER`, `TOLLGATE_OAUTH_RESOURCE`,
    /// `TOLLGATE_OAUTH_LEEWAY_SECS`, `TOLLGATE_OAUTH_JWKS_REFRESH_SECS` and
    /// `TOLLGATE_OAUTH_JWKS_MIN_REFRESH_SECS` override the file. An issuer
    /// given this way replaces the file's issuers with that one (defaults
    /// otherwise), as `serve --oauth-issuer` does.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(url) = var("TOLLGATE_OAUTH_ISSUER").filter(|v| !v.trim().is_empty()) {
            self.set_issuer(url.trim());
        }
        if let Some(r) = var("TOLLGATE_OAUTH_RESOURCE").filter(|v| !v.trim().is_empty()) {
            self.resource = r.trim().to_owned();
        }
        for (name, slot) in [
            ("TOLLGATE_OAUTH_LEEWAY_SECS", &mut self.leeway_secs),
            ("TOLLGATE_OAUTH_JWKS_REFRESH_SECS", &mut self.jwks_refresh_secs),
            ("TOLLGATE_OAUTH_JWKS_MIN_REFRESH_SECS", &mut self.jwks_min_refresh_secs),
        ] {
            if let Some(raw) = var(name) {
                *slot = raw.trim().parse().map_err(|_| ConfigError::Invalid {
                    setting: name,
                    value: raw.clone(),
                    rule: "a whole number",
                })?;
            }
        }
        Ok(())
    }

    /// One issuer with the default settings (the `--oauth-issuer` case).
    pub fn set_issuer(&mut self, url: &str) {
        self.issuers = vec![IssuerConfig {
            name: default_name(),
            url: url.to_owned(),
            algorithms: default_algorithms(),
            max_lifetime_secs: default_max_lifetime(),
            jwks_origins: Vec::new(),
        }];
    }

    /// Check every OAuth setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &'static str, value: &str, rule: &'static str| {
            Err(ConfigError::Invalid { setting, value: value.to_owned(), rule })
        };
        let within = |setting: &'static str, v: u64, lo: u64, hi: u64, rule: &'static str| {
            if (lo..=hi).contains(&v) { Ok(()) } else { invalid(setting, &v.to_string(), rule) }
        };
        within("oauth.leeway_secs", self.leeway_secs, 0, 300, "between 0 and 300")?;
        within("oauth.jwks_refresh_secs", self.jwks_refresh_secs, 60, 86_400, "between 60 and 86400")?;
        within("oauth.jwks_min_refresh_secs", self.jwks_min_refresh_secs, 1, 3600, "between 1 and 3600")?;
        if !self.enabled() {
            return if self.resource.is_empty() {
                Ok(())
            } else {
                invalid("oauth.issuers", "[]", "at least one issuer when oauth.resource is set")
            };
        }
        if !is_resource_uri(&self.resource) {
            return invalid(
                "oauth.resource",
                &self.resource,
                "an absolute http(s) URI without a fragment, query or trailing slash, e.g. https://mcp.example.com/mcp",
            );
        }
        for s in &self.scopes_supported {
            if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
                return invalid("oauth.scopes_supported", s, "scope tokens without spaces or quotes");
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for issuer in &self.issuers {
            if issuer.name.is_empty() || !issuer.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return invalid("oauth.issuers.name", &issuer.name, "letters, digits, '-' or '_'");
            }
            if !names.insert(issuer.name.as_str()) {
                return invalid("oauth.issuers.name", &issuer.name, "unique among the issuers");
            }
            if !is_issuer_url(&issuer.url) {
                return invalid(
                    "oauth.issuers.url",
                    &issuer.url,
                    "an https URL without query or fragment (http only for a loopback issuer)",
                );
            }
            if issuer.algorithms.is_empty() {
                return invalid("oauth.issuers.algorithms", "[]", "one or more of RS256, ES256, EdDSA");
            }
            within("oauth.issuers.max_lifetime_secs", issuer.max_lifetime_secs, 60, 86_400, "between 60 and 86400")?;
            for origin in &issuer.jwks_origins {
                if !is_issuer_url(origin) {
                    return invalid("oauth.issuers.jwks_origins", origin, "https origins (http only for loopback)");
                }
            }
        }
        Ok(())
    }
}

/// `https://host[:port][/path]` (or `http://` for loopback), no query, no fragment, no trailing slash.
fn is_resource_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    matches!(scheme, "https" | "http")
        && !host.is_empty()
        && !s.contains(['#', '?', ' '])
        && !rest.ends_with('/')
        && (scheme == "https" || is_loopback_host(host))
}

/// An issuer URL: https, or http on a loopback host (tests, local development).
pub fn is_issuer_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty()
        && !s.contains(['#', '?', ' '])
        && (scheme == "https" || (scheme == "http" && is_loopback_host(host)))
}

/// `127.0.0.1`, `[::1]` or `localhost`, with or without a port.
pub fn is_loopback_host(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_issuer(url: &str, resource: &str) -> OAuthConfig {
        let mut c = OAuthConfig { resource: resource.into(), ..OAuthConfig::default() };
        c.set_issuer(url);
        c
    }

    #[test]
    fn a_usable_configuration_validates_and_each_bad_setting_is_named() {
        assert!(with_issuer("https://auth.example.com", "https://mcp.example.com/mcp").validate().is_ok());
        assert!(with_issuer("http://127.0.0.1:4000", "http://127.0.0.1:8080/mcp").validate().is_ok());
        for (c, setting) in [
            (with_issuer("http://auth.example.com", "https://mcp.example.com/mcp"), "oauth.issuers.url"),
            (with_issuer("https://auth.example.com?x=1", "https://mcp.example.com/mcp"), "oauth.issuers.url"),
            (with_issuer("https://auth.example.com", "mcp.example.com"), "oauth.resource"),
            (with_issuer("https://auth.example.com", "https://mcp.example.com/mcp#f"), "oauth.resource"),
            (with_issuer("https://auth.example.com", "https://mcp.example.com/"), "oauth.resource"),
            (with_issuer("https://auth.example.com", ""), "oauth.resource"),
            (OAuthConfig { resource: "https://x/mcp".into(), ..OAuthConfig::default() }, "oauth.issuers"),
            (
                OAuthConfig { leeway_secs: 301, ..with_issuer("https://a.example", "https://m.example/mcp") },
                "oauth.leeway_secs",
            ),
        ] {
            let err = c.validate().expect_err("invalid");
            assert!(err.to_string().contains(setting), "{err} should name {setting}");
        }
    }

    #[test]
    fn none_and_hmac_cannot_be_configured() {
        for alg in ["none", "HS256", "hs256", "RS384"] {
            assert_eq!(JwsAlgorithm::parse(alg), None, "{alg}");
            let text = format!(
                "resource = \"https://m.example/mcp\"\n[[issuers]]\nurl = \"https://a.example\"\nalgorithms = [\"{alg}\"]\n"
            );
            assert!(toml::from_str::<OAuthConfig>(&text).is_err(), "{alg} must not parse");
        }
    }

    #[test]
    fn environment_sets_the_common_case() {
        let mut c = OAuthConfig::default();
        let vars = |n: &str| match n {
            "TOLLGATE_OAUTH_ISSUER" => Some("https://auth.example.com".to_owned()),
            "TOLLGATE_OAUTH_RESOURCE" => Some("https://mcp.example.com/mcp".to_owned()),
            "TOLLGATE_OAUTH_LEEWAY_SECS" => Some("5".to_owned()),
            _ => None,
        };
        c.apply_env(vars).expect("valid");
        assert_eq!((c.issuers.len(), c.leeway_secs, c.resource.as_str()), (1, 5, "https://mcp.example.com/mcp"));
        assert!(c.validate().is_ok());
        let bad = OAuthConfig::default().apply_env(|n| (n == "TOLLGATE_OAUTH_LEEWAY_SECS").then(|| "soon".into()));
        assert!(bad.expect_err("not a number").to_string().contains("TOLLGATE_OAUTH_LEEWAY_SECS"));
    }

    #[test]
    fn loopback_hosts_are_told_apart() {
        assert!(is_loopback_host("127.0.0.1:4000"));
        assert!(is_loopback_host("[::1]:4000"));
        assert!(is_loopback_host("localhost"));
        assert!(!is_loopback_host("127.0.0.1.example.com"));
        assert!(!is_loopback_host("example.com:80"));
    }
}
