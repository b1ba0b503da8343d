//! The keys of each trusted issuer: fetched from its metadata's `jwks_uri`,
//! cached, refreshed in the background and, for an unknown `kid`, at most
//! once per `jwks_min_refresh_secs` (the negative cache).
//!
//! Invariants: one fetch in flight per issuer (waiters share its outcome);
//! keys that were fetched stay in use when a later refresh fails; nothing is
//! fetched for an unconfigured issuer; the bound is per tollgate instance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde_json::Value;
use time::OffsetDateTime;

use super::jwks_fetch::{FetchError, Url, get_json};
use crate::clock::Clock;
use crate::config::{IssuerConfig, JwsAlgorithm, OAuthConfig};

/// Most keys read from one key set.
pub const MAX_KEYS: usize = 64;

/// One verification key.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    pub alg: JwsAlgorithm,
    pub key: DecodingKey,
}

#[derive(Default)]
struct KeyState {
    keys: Vec<Key>,
    jwks_uri: Option<Url>,
    /// Clock time of the last fetch attempt (the negative cache reads it).
    last_attempt: Option<OffsetDateTime>,
    /// Bumped by every completed attempt, so that waiters know one ran.
    generation: u64,
    loaded: bool,
}

/// One issuer's configuration and keys.
pub struct IssuerKeys {
    pub config: IssuerConfig,
    state: RwLock<KeyState>,
    inflight: tokio::sync::Mutex<()>,
    /// Key-set documents fetched (metadata documents not counted).
    pub fetches: AtomicU64,
}

/// What the cache holds for a token's `kid`.
pub enum Lookup {
    Found(Key),
    /// No such key; `may_refresh` when the negative cache allows a fetch now.
    Unknown {
        may_refresh: bool,
    },
    /// Nothing was ever fetched for this issuer (it was unreachable).
    NotLoaded,
}

/// Every configured issuer's keys.
pub struct KeyCache {
    issuers: Vec<Arc<IssuerKeys>>,
    clock: Clock,
    min_refresh: Duration,
    background: Duration,
}

impl KeyCache {
    pub fn new(config: &OAuthConfig, clock: Clock) -> Self {
        let issuers = config
            .issuers
            .iter()
            .map(|c| {
                Arc::new(IssuerKeys {
                    config: c.clone(),
                    state: RwLock::new(KeyState::default()),
                    inflight: tokio::sync::Mutex::new(()),
                    fetches: AtomicU64::new(0),
                })
            })
            .collect();
        Self {
            issuers,
            clock,
            min_refresh: Duration::from_secs(config.jwks_min_refresh_secs),
            background: Duration::from_secs(config.jwks_refresh_secs),
        }
    }

    /// The configured issuer whose identifier is exactly `iss`.
    pub fn issuer(&self, iss: &str) -> Option<&Arc<IssuerKeys>> {
        self.issuers.iter().find(|i| i.config.url == iss)
    }

    /// The key a token names (by `kid`, or the only key of its algorithm when it names none).
    pub fn lookup(&self, issuer: &IssuerKeys, kid: Option<&str>, alg: JwsAlgorithm) -> Lookup {
        let Ok(state) = issuer.state.read() else { return Lookup::NotLoaded };
        let mut matching = state.keys.iter().filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        match (matching.next(), matching.next(), kid) {
            (Some(k), None, _) | (Some(k), Some(_), Some(_)) => Lookup::Found(k.clone()),
            _ if !state.loaded => Lookup::NotLoaded,
            _ => Lookup::Unknown { may_refresh: self.may_fetch(&state) },
        }
    }

    fn may_fetch(&self, state: &KeyState) -> bool {
        state.last_attempt.is_none_or(|at| self.clock.now() >= at + self.min_refresh)
    }

    /// Fetch `issuer`'s keys unless another fetch just ran (or is running: it
    /// is waited for), or the negative cache forbids one now. `background`
    /// fetches keep their own schedule and skip the negative cache.
    pub async fn refresh(&self, issuer: &IssuerKeys, background: bool) -> Result<(), FetchError> {
        let seen = issuer.state.read().map(|s| s.generation).unwrap_or_default();
        let _one = issuer.inflight.lock().await;
        {
            let Ok(state) = issuer.state.read() else { return Ok(()) };
            if state.generation != seen || (!background && !self.may_fetch(&state)) {
                return Ok(());
            }
        }
        let known_uri = issuer.state.read().ok().and_then(|s| s.jwks_uri.clone()).filter(|_| !background);
        let outcome = fetch(&issuer.config, known_uri).await;
        if outcome.is_ok() {
            issuer.fetches.fetch_add(1, Ordering::Relaxed);
        }
        crate::metrics::get().oauth_key_fetch(&issuer.config.name, outcome.is_ok());
        let Ok(mut state) = issuer.state.write() else { return Ok(()) };
        state.last_attempt = Some(self.clock.now());
        state.generation += 1;
        match outcome {
            Ok((uri, keys)) => {
                state.jwks_uri = Some(uri);
                state.keys = keys;
                state.loaded = true;
                Ok(())
            }
            // Stale keys stay in use.
            Err(e) => {
                tracing::warn!(issuer = %issuer.config.name, error = %e, "could not fetch the issuer's keys");
                Err(e)
            }
        }
    }

    /// Fetch every issuer's keys now, and again every `jwks_refresh_secs`
    /// (every 5 s while an issuer was never reached).
    pub fn spawn_background(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        for issuer in &self.issuers {
            let (cache, issuer) = (Arc::clone(self), Arc::clone(issuer));
            runtime.spawn(async move {
                loop {
                    let _ = cache.refresh(&issuer, true).await;
                    let loaded = issuer.state.read().map(|s| s.loaded).unwrap_or(false);
                    tokio::time::sleep(if loaded { cache.background } else { Duration::from_secs(5) }).await;
                }
            });
        }
    }

    /// Key-set fetches so far, per issuer name (for tests and metrics).
    pub fn fetch_counts(&self) -> Vec<(String, u64)> {
        self.issuers.iter().map(|i| (i.config.name.clone(), i.fetches.load(Ordering::Relaxed))).collect()
    }
}

/// The metadata (unless its `jwks_uri` is known) and then the key set.
async fn fetch(config: &IssuerConfig, known_uri: Option<Url>) -> Result<(Url, Vec<Key>), FetchError> {
    let uri = match known_uri {
        Some(u) => u,
        None => jwks_uri(config).await?,
    };
    let set = get_json(&uri).await?;
    Ok((uri, parse_key_set(&set, &config.algorithms)))
}

/// RFC 8414 metadata (path-inserted), else OpenID discovery; its `issuer`
/// must be exactly the configured one and its `jwks_uri` on an allowed origin.
async fn jwks_uri(config: &IssuerConfig) -> Result<Url, FetchError> {
    let issuer = Url::parse(&config.url)?;
    let path = issuer.path.trim_end_matches('/');
    let candidates = [
        format!("{}/.well-known/oauth-authorization-server{path}", issuer.origin()),
        format!("{}/.well-known/openid-configuration", config.url.trim_end_matches('/')),
    ];
    let mut last = FetchError::Status(404);
    for candidate in candidates {
        match get_json(&Url::parse(&candidate)?).await {
            Ok(doc) => return metadata_jwks_uri(config, &doc),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Check a metadata document and take its `jwks_uri`.
pub fn metadata_jwks_uri(config: &IssuerConfig, doc: &Value) -> Result<Url, FetchError> {
    if doc.get("issuer").and_then(Value::as_str) != Some(config.url.as_str()) {
        return Err(FetchError::Json("metadata `issuer` is not the configured issuer".into()));
    }
    let raw = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| FetchError::Json("no jwks_uri".into()))?;
    let uri = Url::parse(raw)?;
    let issuer_origin = Url::parse(&config.url)?.origin();
    let allowed = uri.origin() == issuer_origin
        || config.jwks_origins.iter().any(|o| Url::parse(o).is_ok_and(|o| o.origin() == uri.origin()));
    if !allowed {
        return Err(FetchError::Json(format!(
            "jwks_uri {} is not on the issuer's origin or an allowed one",
            uri.origin()
        )));
    }
    Ok(uri)
}

/// The usable signing keys of a JWK set: of an allowed algorithm, not for
/// encryption; anything else (and past [`MAX_KEYS`]) is skipped.
pub fn parse_key_set(set: &Value, allowed: &[JwsAlgorithm]) -> Vec<Key> {
    let Some(keys) = set.get("keys").and_then(Value::as_array) else { return Vec::new() };
    keys.iter().take(MAX_KEYS).filter_map(parse_key).filter(|k| allowed.contains(&k.alg)).collect()
}

fn parse_key(jwk: &Value) -> Option<Key> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    if s("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (alg, key) = match (s("kty")?, s("crv")) {
        ("RSA", _) => (JwsAlgorithm::RS256, DecodingKey::from_rsa_components(s("n")?, s("e")?).ok()?),
        ("EC", Some("P-256")) => (JwsAlgorithm::ES256, DecodingKey::from_ec_components(s("x")?, s("y")?).ok()?),
        ("OKP", Some("Ed25519")) => (JwsAlgorithm::EdDSA, DecodingKey::from_ed_components(s("x")?).ok()?),
        _ => return None,
    };
    // A key that names another algorithm than its type allows is not used.
    if s("alg").is_some_and(|a| a != alg.as_str()) {
        return None;
    }
    Some(Key { kid: s("kid").map(str::to_owned), alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer(url: &str) -> IssuerConfig {
        let mut c = OAuthConfig::default();
        c.set_issuer(url);
        c.issuers.remove(0)
    }

    #[test]
    fn metadata_must_name_the_configured_issuer_and_keep_keys_on_its_origin() {
        let c = issuer("https://auth.example.com");
        let ok = json!({"issuer": "https://auth.example.com", "jwks_uri": "https://auth.example.com/jwks"});
        assert!(metadata_jwks_uri(&c, &ok).is_ok());
        for bad in [
            json!({"issuer": "https://evil.example", "jwks_uri": "https://auth.example.com/jwks"}),
            json!({"issuer": "https://auth.example.com/", "jwks_uri": "https://auth.example.com/jwks"}),
            json!({"issuer": "https://auth.example.com", "jwks_uri": "https://evil.example/jwks"}),
            json!({"issuer": "https://auth.example.com", "jwks_uri": "http://auth.example.com/jwks"}),
            json!({"issuer": "https://auth.example.com"}),
        ] {
            assert!(metadata_jwks_uri(&c, &bad).is_err(), "{bad}");
        }
        let mut allowed = c.clone();
        allowed.jwks_origins = vec!["https://keys.example.net".into()];
        let elsewhere = json!({"issuer": "https://auth.example.com", "jwks_uri": "https://keys.example.net/k"});
        assert!(metadata_jwks_uri(&allowed, &elsewhere).is_ok());
    }

    #[test]
    fn only_signing_keys_of_allowed_algorithms_are_kept() {
        let ed =
            json!({"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let enc = json!({"kty": "OKP", "crv": "Ed25519", "kid": "b", "use": "enc", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let wrong_alg = json!({"kty": "OKP", "crv": "Ed25519", "kid": "c", "alg": "HS256", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let oct = json!({"kty": "oct", "kid": "d", "k": "c2VjcmV0"});
        let set = json!({"keys": [ed, enc, wrong_alg, oct]});
        let keys = parse_key_set(&set, &[JwsAlgorithm::EdDSA]);
        assert_eq!(keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(), vec![Some("a".to_owned())]);
        assert!(parse_key_set(&set, &[JwsAlgorithm::RS256]).is_empty());
    }
}
