//! `tollgate.toml`: every setting, its default, its bounds, and environment
//! overrides.
//!
//! Invariant: an invalid config never starts a server; the error names the
//! setting and the allowed range.

use std::path::Path;

use serde::Deserialize;

/// The file `init` writes: every setting, commented, at its default.
pub const TEMPLATE: &str = r#"# tollgate configuration. Every setting is shown at its default.
# Environment variables override the file: TOLLGATE_MULTI_TENANT=false, for example.

# Multi-tenant mode. false makes tollgate a single-tenant server: tenant tools
# disappear, everything acts on the tenant `default`, other tenants' keys are refused.
multi_tenant = true

# Largest HTTP request body, in bytes (1 KiB .. 64 MiB).
max_body_bytes = 1048576

# Largest page `tenant.list` returns (1 .. 1000); larger `limit`s are clamped.
max_page_size = 100

# Sign an audit checkpoint after this many records of a chain (1 .. 100000) ...
checkpoint_every = 100
# ... or after this many seconds with unsigned records (1 .. 3600), and at shutdown.
checkpoint_interval_secs = 10

# Requests per second each client address may send before authentication (1 .. 1000000),
# and the burst it may send at once (1 .. 1000000). Beyond it: HTTP 429.
per_address_rps = 500
per_address_burst = 1000

# Feature flag: allow `tenant.delete` (plan-then-confirm, blocked by a legal hold). Off: the tool
# is refused with -31403 feature_disabled.
tenant_delete = false

# Legacy (2025) HTTP sessions: most held at once (1 .. 100000) and idle lifetime in seconds (10 .. 86400).
session_capacity = 1024
session_idle_secs = 1800
"#;

/// Settings, validated.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub multi_tenant: bool,
    pub max_body_bytes: usize,
    pub max_page_size: usize,
    pub checkpoint_every: u64,
    pub checkpoint_interval_secs: u64,
    pub session_capacity: usize,
    pub session_idle_secs: u64,
    pub per_address_rps: u32,
    pub per_address_burst: u32,
    /// Feature flag for `tenant.delete` (off by default).
    pub tenant_delete: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            multi_tenant: true,
            max_body_bytes: 1024 * 1024,
            max_page_size: 100,
            checkpoint_every: 100,
            checkpoint_interval_secs: 10,
            session_capacity: 1024,
            session_idle_secs: 1800,
            per_address_rps: 500,
            per_address_burst: 1000,
            tenant_delete: false,
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
        let mut config = match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| ConfigError::Parse { path: path.display().to_string(), detail: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(e) => return Err(ConfigError::Read { path: path.display().to_string(), detail: e.to_string() }),
        };
        if let Ok(v) = std::env::var("TOLLGATE_MULTI_TENANT") {
            config.multi_tenant = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        setting: "TOLLGATE_MULTI_TENANT",
                        value: v,
                        rule: "true or false",
                    });
                }
            };
        }
        config.validate()?;
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
        within("session_capacity", us(self.session_capacity), 1, 100_000, "between 1 and 100000")?;
        within("session_idle_secs", self.session_idle_secs, 10, 86_400, "between 10 and 86400")?;
        within("per_address_rps", u64::from(self.per_address_rps), 1, 1_000_000, "between 1 and 1000000")?;
        within("per_address_burst", u64::from(self.per_address_burst), 1, 1_000_000, "between 1 and 1000000")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("session_capacity = 0", "session_capacity"),
            ("session_idle_secs = 1", "session_idle_secs"),
            ("per_address_rps = 0", "per_address_rps"),
        ] {
            let c: Config = toml::from_str(text).expect("parses");
            let err = c.validate().expect_err("invalid");
            assert!(err.to_string().contains(setting), "{err}");
        }
        assert!(toml::from_str::<Config>("no_such_setting = 1").is_err());
    }
}
