//! The client's flags turned into a connection: where (HTTP, HTTPS or a stdio
//! child), as whom, and which era.
//!
//! Invariant: a credential is read only from the environment variable a flag
//! names (or `TOLLGATE_API_KEY`), never from the command line, where `ps` and
//! shell history would show it.

use std::path::PathBuf;

use super::conversation::{Conversation, Era};
use super::http_link::{HttpLink, HttpTarget};
use super::link::Link;
use super::message::LinkError;
use super::stdio_link::{StdioCredential, StdioLink};

/// Where `serve` listens by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8787/mcp";

/// How to reach the server and who to be (the flags common to `call` and `tools`).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// `--url` (default [`DEFAULT_URL`]).
    pub url: Option<String>,
    /// `--stdio`: start `tollgate stdio` on `data_dir` instead.
    pub stdio: bool,
    /// `--data-dir` / `TOLLGATE_DATA_DIR`, for `--stdio`.
    pub data_dir: Option<PathBuf>,
    /// `--local-admin`, for `--stdio` without a key.
    pub local_admin: bool,
    /// `--api-key-env VAR`: the API key is in `$VAR`.
    pub api_key_env: Option<String>,
    /// `--bearer-env VAR`: an OAuth access token is in `$VAR` (HTTP only).
    pub bearer_env: Option<String>,
    /// `--ca`, `--client-cert`, `--client-key`.
    pub ca: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// `--legacy`: the 2025 handshake.
    pub legacy: bool,
}

enum Secret {
    ApiKey(String),
    Bearer(String),
}

fn from_env(flag: &str, var: &str) -> Result<String, LinkError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(LinkError::Usage(format!("{flag} {var}: the environment variable {var} is not set (or empty)"))),
    }
}

impl Connect {
    fn secret(&self) -> Result<Option<Secret>, LinkError> {
        match (&self.api_key_env, &self.bearer_env) {
            (Some(_), Some(_)) => Err(LinkError::Usage("give --api-key-env or --bearer-env, not both".into())),
            (Some(var), None) => Ok(Some(Secret::ApiKey(from_env("--api-key-env", var)?))),
            (None, Some(var)) => Ok(Some(Secret::Bearer(from_env("--bearer-env", var)?))),
            (None, None) => Ok(from_env("", "TOLLGATE_API_KEY").ok().map(Secret::ApiKey)),
        }
    }

    /// Check the flags and open the link (a stdio child starts here; HTTP connects per request).
    pub fn open(&self) -> Result<Conversation, LinkError> {
        let era = if self.legacy { Era::Legacy } else { Era::Modern };
        let secret = self.secret()?;
        let link = if self.stdio {
            if self.url.is_some() || self.ca.is_some() || self.client_cert.is_some() {
                return Err(LinkError::Usage("--stdio takes no --url, --ca or client certificate".into()));
            }
            let dir = self.data_dir.clone().ok_or_else(|| {
                LinkError::Usage("--stdio needs the data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into())
            })?;
            let credential = match (secret, self.local_admin) {
                (Some(Secret::Bearer(_)), _) => {
                    return Err(LinkError::Usage(
                        "--stdio takes an API key (--api-key-env), not a bearer token".into(),
                    ));
                }
                (Some(Secret::ApiKey(_)), true) => {
                    return Err(LinkError::Usage("--local-admin acts without a key; drop the key or the flag".into()));
                }
                (Some(Secret::ApiKey(k)), false) => StdioCredential::ApiKey(k),
                (None, true) => StdioCredential::LocalAdmin,
                (None, false) => {
                    return Err(LinkError::Usage(
                        "no credential: set TOLLGATE_API_KEY, name a variable with --api-key-env, or pass --local-admin"
                            .into(),
                    ));
                }
            };
            Link::Stdio(StdioLink::spawn(&dir, credential)?)
        } else {
            if self.local_admin {
                return Err(LinkError::Usage("--local-admin is for --stdio".into()));
            }
            let client_identity = match (&self.client_cert, &self.client_key) {
                (Some(c), Some(k)) => Some((c.clone(), k.clone())),
                (None, None) => None,
                _ => return Err(LinkError::Usage("--client-cert and --client-key go together".into())),
            };
            let target = HttpTarget {
                url: self.url.clone().unwrap_or_else(|| DEFAULT_URL.to_owned()),
                ca: self.ca.clone(),
                client_identity,
            };
            let bearer = secret.map(|s| match s {
                Secret::ApiKey(k) | Secret::Bearer(k) => k,
            });
            Link::Http { http: HttpLink::new(&target, bearer)?, session: None }
        };
        Ok(Conversation::new(link, era))
    }
}
