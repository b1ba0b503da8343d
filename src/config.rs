//! `tollgate.toml`: every setting, its default, its bounds, and environment
//! overrides.
//!
//! Invariant: an invalid config never starts a server; the error names the
//! setting and the allowed range.

use std::path::Path;

use serde::Deserialize;

pub mod flags;

pub use flags::{FLAGS, Flag, FlagDef, FlagStates};
mod oauth;
pub use oauth::{IssuerConfig, JwsAlgorithm, OAuthConfig, is_issuer_url, is_loopback_host};

/// The file `init` writes: every setting, commented, at its default.
pub const TEMPLATE: &str = r#"# tollgate configuration. Every setting is shown at its default.
# Environment variables override the file: TOLLGATE_ and the setting's name in
# capitals, e.g. TOLLGATE_MULTI_TENANT=false or TOLLGATE_MAX_CONNECTIONS=256.
# An invalid value refuses to start, naming the setting.

# The database. Unset: the data dir's embedded SQLite database. A PostgreSQL URL
# (postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=verify-full&sslrootcert=CA.pem])
# makes several instances serve one deployment (docs/operations.md); better set
# through TOLLGATE_DATABASE_URL, so no password sits in this file. Never logged.
# database_url = "postgres://tollgate_app@db.internal/tollgate?sslmode=verify-full&sslrootcert=/etc/tollgate/db-ca.pem"

# Feature flags (docs/tools.md lists each tool's flag). A tool whose flag is off is absent
# from tools/list and refused with -31403 feature_disabled, data.flag naming the flag.
# Multi-tenant mode (the kill switch). false makes tollgate a single-tenant server: tenant tools
# disappear, everything acts on the tenant `default`, other tenants' keys are refused.
multi_tenant = true
# `tenant.bootstrap`: the platform admin may create tenants.
tenant_bootstrap = true
# The billing API: `plan.get`, `plan.set`, `plan.catalog`. Off hides them; quotas and plan
# features stay enforced from each tenant's current plan.
billing_api = true
# The read-only operator console `admin.overview` and `admin.tenants` (platform admin only).
admin_console = false
# `tenant.delete` (plan-then-confirm, blocked by a legal hold).
tenant_delete = false

# Largest HTTP request body, in bytes (1 KiB .. 64 MiB).
max_body_bytes = 1048576

# Largest page `tenant.list` returns (1 .. 1000); larger `limit`s are clamped.
max_page_size = 100

# Sign an audit checkpoint after this many records of a chain (1 .. 100000) ...
checkpoint_every = 100
# ... or after this many seconds with unsigned records (1 .. 3600), and at shutdown.
checkpoint_interval_secs = 10

# Longest time, in milliseconds, an open window of aggregated flood denials is
# counted in memory only (50 .. 5000): its counts are persisted this often, so a
# crash loses none older than this; the window's one audit record still comes when it ends.
denial_persist_ms = 1000

# Requests per second each client address may send before authentication (1 .. 1000000),
# and the burst it may send at once (1 .. 1000000). Beyond it: HTTP 429.
per_address_rps = 500
per_address_burst = 1000

# Legacy (2025) HTTP sessions: most held at once (1 .. 100000; a tenant gets a quarter, a key 64) and idle lifetime in seconds (10 .. 86400).
session_capacity = 1024
session_idle_secs = 1800

# `serve`: most client connections served at once (1 .. 100000); more are closed at accept.
max_connections = 1024
# ... and the share of them, in percent (1 .. 100), one client address (an IPv6 /64) may hold;
# beyond it its connections are closed at accept and counted. 25: 256 of 1024, so one address
# never takes every slot. Loopback is exempt (a same-host proxy or TLS terminator makes every
# client 127.0.0.1, and local tests and benchmarks connect from there); false caps it too.
per_address_connection_share = 25
per_address_exempt_loopback = true
# Longest wait for a request's headers, idle keep-alive included, in seconds (1 .. 300).
header_timeout_secs = 10
# Longest time from a request to its answer's headers, in seconds (1 .. 3600).
request_timeout_secs = 60
# Longest TLS handshake, in seconds (1 .. 60).
tls_handshake_timeout_secs = 10
# On SIGTERM / Ctrl-C: how long in-flight requests may still run, in seconds (0 .. 300).
shutdown_grace_secs = 10

# OAuth 2.1 (MCP authorization): accept JWT access tokens (RFC 9068) from these
# issuers for this resource, over HTTP and HTTPS. Off while no issuer is set.
# `serve --oauth-issuer URL --oauth-resource URL` sets the common case;
# TOLLGATE_OAUTH_ISSUER / _RESOURCE / _LEEWAY_SECS / _JWKS_REFRESH_SECS /
# _JWKS_MIN_REFRESH_SECS override. See docs/security.md.
# [oauth]
# resource = "https://mcp.example.com/mcp"   # canonical URI; tokens' aud must contain it
# leeway_secs = 60                           # clock skew on exp/nbf (0 .. 300)
# jwks_refresh_secs = 3600                   # background key refresh (60 .. 86400)
# jwks_min_refresh_secs = 60                 # unknown kid: at most one fetch per this (1 .. 3600)
# scopes_supported = ["tollgate:read", "tollgate:operate", "tollgate:audit", "tollgate:admin"]
# [[oauth.issuers]]
# name = "corp"                              # label in principal ids and metrics
# url = "https://auth.example.com"           # exactly the tokens' iss
# algorithms = ["RS256", "ES256", "EdDSA"]
# max_lifetime_secs = 3600                   # longest exp - iat accepted (60 .. 86400)
# jwks_origins = []                          # other origins jwks_uri may use
"#;

/// Settings, validated.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Never serialized (it may hold a password); see [`DatabaseUrl`].
    #[serde(skip_serializing)]
    pub database_url: Option<DatabaseUrl>,
    /// Flag `multi_tenant` (see [`FLAGS`]).
    pub multi_tenant: bool,
    /// Flag `tenant_bootstrap`.
    pub tenant_bootstrap: bool,
    /// Flag `billing_api`.
    pub billing_api: bool,
    /// Flag `admin_console`.
    pub admin_console: bool,
    pub max_body_bytes: usize,
    pub max_page_size: usize,
    pub checkpoint_every: u64,
    pub checkpoint_interval_secs: u64,
    pub denial_persist_ms: u64,
    pub session_capacity: usize,
    pub session_idle_secs: u64,
    pub per_address_rps: u32,
    pub per_address_burst: u32,
    /// Flag `tenant_delete`.
    pub tenant_delete: bool,
    pub max_connections: usize,
    /// Percent of `max_connections` one client address may hold.
    pub per_address_connection_share: u32,
    pub per_address_exempt_loopback: bool,
    pub header_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub tls_handshake_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    /// `[oauth]`: trusted issuers and this server's resource URI (off by default).
    #[serde(skip_serializing_if = "OAuthConfig::is_default")]
    pub oauth: OAuthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: None,
            multi_tenant: Flag::MultiTenant.default_state(),
            tenant_bootstrap: Flag::TenantBootstrap.default_state(),
            billing_api: Flag::BillingApi.default_state(),
            admin_console: Flag::AdminConsole.default_state(),
            max_body_bytes: 1024 * 1024,
            max_page_size: 100,
            checkpoint_every: 100,
            checkpoint_interval_secs: 10,
            denial_persist_ms: 1000,
            session_capacity: 1024,
            session_idle_secs: 1800,
            per_address_rps: 500,
            per_address_burst: 1000,
            tenant_delete: Flag::TenantDelete.default_state(),
            max_connections: 1024,
            per_address_connection_share: 25,
            per_address_exempt_loopback: true,
            header_timeout_secs: 10,
            request_timeout_secs: 60,
            tls_handshake_timeout_secs: 10,
            shutdown_grace_secs: 10,
            oauth: OAuthConfig::default(),
        }
    }
}

/// A config that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read config {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("invalid config {path}: {detail}")]
    Parse { path: String, detail: String },
    #[error("invalid setting {setting} = {value}: must be {rule}")]
    Invalid { setting: &'static str, value: String, rule: &'static str },
}

impl Config {
    /// Read `path` (missing file: defaults), apply environment overrides, validate.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = || path.display().to_string();
        let mut table = match std::fs::read_to_string(path) {
            Ok(text) => {
                text.parse::<toml::Table>().map_err(|e| ConfigError::Parse { path: shown(), detail: e.to_string() })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(e) => return Err(ConfigError::Read { path: shown(), detail: e.to_string() }),
        };
        apply_env(&mut table, |name| std::env::var(name).ok())?;
        if let Ok(url) = std::env::var("TOLLGATE_DATABASE_URL") {
            table.insert("database_url".into(), toml::Value::String(url));
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse { path: shown(), detail: e.to_string() })?;
        config.oauth.apply_env(|name| std::env::var(name).ok())?;
        config.validate().map_err(|e| match e {
            // Say where an out-of-range value came from when the environment set it.
            ConfigError::Invalid { setting, value, rule } => {
                let var = format!("TOLLGATE_{}", setting.to_ascii_uppercase());
                let setting =
                    if std::env::var_os(&var).is_some() { leak(&format!("{var} ({setting})")) } else { setting };
                ConfigError::Invalid { setting, value, rule }
            }
            other => other,
        })?;
        Ok(config)
    }

    /// Check every bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn within(setting: &'static str, v: u64, lo: u64, hi: u64, rule: &'static str) -> Result<(), ConfigError> {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(ConfigError::Invalid { setting, value: v.to_string(), rule })
            }
        }
        let us = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        within("max_body_bytes", us(self.max_body_bytes), 1024, 64 << 20, "between 1024 and 67108864")?;
        within("max_page_size", us(self.max_page_size), 1, 1000, "between 1 and 1000")?;
        within("checkpoint_every", self.checkpoint_every, 1, 100_000, "between 1 and 100000")?;
        within("checkpoint_interval_secs", self.checkpoint_interval_secs, 1, 3600, "between 1 and 3600")?;
        within("denial_persist_ms", self.denial_persist_ms, 50, 5000, "between 50 and 5000")?;
        within("session_capacity", us(self.session_capacity), 1, 100_000, "between 1 and 100000")?;
        within("session_idle_secs", self.session_idle_secs, 10, 86_400, "between 10 and 86400")?;
        within("per_address_rps", u64::from(self.per_address_rps), 1, 1_000_000, "between 1 and 1000000")?;
        within("per_address_burst", u64::from(self.per_address_burst), 1, 1_000_000, "between 1 and 1000000")?;
        within("max_connections", us(self.max_connections), 1, 100_000, "between 1 and 100000")?;
        within(
            "per_address_connection_share",
            u64::from(self.per_address_connection_share),
            1,
            100,
            "between 1 and 100 (percent)",
        )?;
        within("header_timeout_secs", self.header_timeout_secs, 1, 300, "between 1 and 300")?;
        within("request_timeout_secs", self.request_timeout_secs, 1, 3600, "between 1 and 3600")?;
        within("tls_handshake_timeout_secs", self.tls_handshake_timeout_secs, 1, 60, "between 1 and 60")?;
        within("shutdown_grace_secs", self.shutdown_grace_secs, 0, 300, "between 0 and 300")?;
        if let Some(url) = &self.database_url
            && !(url.0.starts_with("postgres://") || url.0.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                setting: "database_url",
                value: "(not shown)".into(),
                rule: "a postgres:// or postgresql:// URL",
            });
        }
        self.oauth.validate()
    }
}

/// A database URL. It may carry a password, so it is never printed
/// (`Debug` shows only that it is set) nor serialized.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

impl Config {
    /// The state of every flag.
    pub fn flags(&self) -> FlagStates {
        Flag::all().fold(FlagStates::defaults(), |states, f| states.with(f, self.flag(f)))
    }

    /// Whether one flag is on.
    pub fn flag(&self, flag: Flag) -> bool {
        match flag {
            Flag::MultiTenant => self.multi_tenant,
            Flag::TenantBootstrap => self.tenant_bootstrap,
            Flag::BillingApi => self.billing_api,
            Flag::AdminConsole => self.admin_console,
            Flag::TenantDelete => self.tenant_delete,
        }
    }

    /// Most connections one client address may hold: its share of
    /// `max_connections`, rounded up, at least 1.
    pub fn connections_per_address(&self) -> usize {
        let share = usize::try_from(self.per_address_connection_share).unwrap_or(100).min(100);
        self.max_connections.saturating_mul(share).div_ceil(100).max(1)
    }
}

/// The settings an environment variable may override: every one, as
/// `TOLLGATE_<NAME>` (the config's own field names, so none is forgotten).
fn setting_names() -> Vec<String> {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Overlay `TOLLGATE_<NAME>` values on the file's settings. A value is read
/// as the setting's type (booleans also as 1/0, yes/no, on/off); one that
/// cannot be is refused, naming the variable.
fn apply_env(table: &mut toml::Table, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let defaults = toml::Value::try_from(Config::default()).ok();
    for name in setting_names() {
        let env = format!("TOLLGATE_{}", name.to_ascii_uppercase());
        let Some(raw) = var(&env) else { continue };
        let default = defaults.as_ref().and_then(|d| d.get(&name));
        let invalid = |rule: &'static str| ConfigError::Invalid { setting: leak(&env), value: raw.clone(), rule };
        let value = match default {
            Some(toml::Value::Boolean(_)) => match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
                "0" | "false" | "no" | "off" => toml::Value::Boolean(false),
                _ => return Err(invalid("true or false")),
            },
            _ => toml::Value::Integer(raw.trim().parse::<i64>().map_err(|_| invalid("a whole number"))?),
        };
        table.insert(name, value);
    }
    Ok(())
}

/// Setting names are few and fixed; an environment variable's name lives as long as the process.
fn leak(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_is_never_printed_and_must_be_postgres() {
        let c: Config = toml::from_str("database_url = 'postgres://app:hunter2@db/t'").expect("parses");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!toml::to_string(&c).expect("serializes").contains("hunter2"));
        assert_eq!(c.database_url.as_ref().map(DatabaseUrl::expose), Some("postgres://app:hunter2@db/t"));
        let bad: Config = toml::from_str("database_url = 'mysql://x'").expect("parses");
        assert!(matches!(bad.validate(), Err(ConfigError::Invalid { setting: "database_url", .. })));
    }

    #[test]
    fn the_template_parses_to_the_defaults() {
        let parsed: Config = toml::from_str(TEMPLATE).expect("template parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn each_out_of_range_setting_is_named() {
        for (text, setting) in [
            ("max_body_bytes = 1", "max_body_bytes"),
            ("max_page_size = 0", "max_page_size"),
            ("checkpoint_every = 0", "checkpoint_every"),
            ("checkpoint_interval_secs = 99999", "checkpoint_interval_secs"),
            ("denial_persist_ms = 10000", "denial_persist_ms"),
            ("session_capacity = 0", "session_capacity"),
            ("session_idle_secs = 1", "session_idle_secs"),
            ("per_address_rps = 0", "per_address_rps"),
            ("max_connections = 0", "max_connections"),
            ("per_address_connection_share = 0", "per_address_connection_share"),
            ("per_address_connection_share = 101", "per_address_connection_share"),
            ("header_timeout_secs = 0", "header_timeout_secs"),
            ("request_timeout_secs = 99999", "request_timeout_secs"),
            ("tls_handshake_timeout_secs = 0", "tls_handshake_timeout_secs"),
            ("shutdown_grace_secs = 301", "shutdown_grace_secs"),
        ] {
            let c: Config = toml::from_str(text).expect("parses");
            let err = c.validate().expect_err("invalid");
            assert!(err.to_string().contains(setting), "{err}");
        }
        assert!(toml::from_str::<Config>("no_such_setting = 1").is_err());
    }

    #[test]
    fn an_address_share_is_a_rounded_up_part_of_the_connections() {
        let with = |max_connections, per_address_connection_share| {
            Config { max_connections, per_address_connection_share, ..Config::default() }.connections_per_address()
        };
        assert_eq!(Config::default().connections_per_address(), 256, "room for a 128-client benchmark");
        assert_eq!(with(16, 25), 4);
        assert_eq!(with(2, 25), 1);
        assert_eq!(with(1, 1), 1, "never zero");
        assert_eq!(with(10, 100), 10, "100: no per-address cap below the global one");
    }

    #[test]
    fn the_template_documents_every_setting() {
        let table: toml::Table = TEMPLATE.parse().expect("template parses");
        let mut written: Vec<&String> = table.keys().collect();
        let mut known = setting_names();
        written.sort();
        known.sort();
        assert_eq!(written, known.iter().collect::<Vec<_>>());
    }

    #[test]
    fn every_setting_has_an_environment_override() {
        let mut table = toml::Table::new();
        let vars = |name: &str| match name {
            "TOLLGATE_MULTI_TENANT" => Some("off".to_owned()),
            "TOLLGATE_MAX_CONNECTIONS" => Some("7".to_owned()),
            _ => None,
        };
        apply_env(&mut table, vars).expect("valid");
        let c: Config = toml::Value::Table(table).try_into().expect("config");
        assert!(!c.multi_tenant);
        assert_eq!(c.max_connections, 7);
        let err = apply_env(&mut toml::Table::new(), |n| (n == "TOLLGATE_REQUEST_TIMEOUT_SECS").then(|| "soon".into()))
            .expect_err("not a number");
        assert!(err.to_string().contains("TOLLGATE_REQUEST_TIMEOUT_SECS"), "{err}");
        assert_eq!(setting_names().len(), 21);
    }

    #[test]
    fn every_flag_is_a_setting_with_its_documented_default_and_variable() {
        let defaults = toml::Value::try_from(Config::default()).expect("defaults");
        for def in FLAGS {
            assert_eq!(defaults.get(def.key).and_then(toml::Value::as_bool), Some(def.default), "{}", def.key);
            assert_eq!(Config::default().flag(def.flag), def.default, "{}", def.key);
            let flipped = if def.default { "off" } else { "on" };
            let mut table = toml::Table::new();
            apply_env(&mut table, |name| (name == def.flag.env()).then(|| flipped.to_owned())).expect("valid");
            let c: Config = toml::Value::Table(table).try_into().expect("config");
            assert_eq!(c.flag(def.flag), !def.default, "{} via {}", def.key, def.flag.env());
            assert_eq!(c.flags().changed(), [def.flag], "only {} changed", def.key);
        }
    }
}
