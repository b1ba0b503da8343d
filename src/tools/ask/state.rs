//! Sealed `requestState`: what a multi round-trip tool call carries through
//! the client between rounds.
//!
//! Format v1 (documented in docs/interactive-tools.md):
//! `v1.<payload>.<mac>`, both parts base64url without padding; the payload is
//! the JSON of [`StatePayload`]; the mac is HMAC-SHA256 over `v1.<payload>`
//! with a key derived from the server's signing key. The state is integrity
//! protected, not secret: it holds only what the client already sent or saw.
//!
//! Invariants: a state opens only with a valid mac, before its expiry, for the
//! principal, tool version and arguments it was sealed for; anything else is
//! refused with a stable reason, never answered with a fresh prompt.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version prefix of states this server seals.
pub const STATE_VERSION: &str = "v1";

/// Largest state accepted back (the client cannot make us parse more).
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// The label the state key is derived under (changing it invalidates every state).
pub const KEY_LABEL: &str = "tollgate request-state v1";

type HmacSha256 = Hmac<sha2::Sha256>;

/// The server's key for sealing request states (a keyed HMAC, ready to clone).
#[derive(Clone)]
pub struct StateKey(HmacSha256);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl StateKey {
    /// The key from 32 secret bytes (HMAC takes any length, so this fails only
    /// if the crate changes; then nothing is sealed with a substitute key).
    pub fn new(bytes: [u8; 32]) -> Result<Self, hmac::digest::InvalidLength> {
        <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(&bytes).map(Self)
    }

    fn mac(&self) -> HmacSha256 {
        self.0.clone()
    }
}

/// What a sealed state binds and carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatePayload {
    /// The principal the state was issued to.
    pub sub: String,
    /// The tool contract, edition and version (`multi-tenant/name.vN`).
    pub tool: String,
    /// Digest of the call's arguments.
    pub args: String,
    /// Unix seconds after which the state is refused.
    pub exp: i64,
    /// Unique per state; a state is honoured once.
    pub nonce: String,
    /// What the tool bound its questions to (e.g. a plan digest); answers
    /// carried here count only while the binding still holds.
    #[serde(default)]
    pub bind: Value,
    /// Answers accepted in earlier rounds.
    #[serde(default)]
    pub answers: Map<String, Value>,
}

/// Why a presented state was refused (stable `data.reason` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("requestState is malformed or was not issued by this server")]
    Invalid,
    #[error("requestState has expired; call the tool again without it")]
    Expired,
    #[error("requestState was issued for another principal, tool or arguments")]
    Foreign,
    #[error("requestState was already used; call the tool again without it")]
    Replayed,
}

impl StateError {
    /// The denial for a refused request state (-32602 with a stable reason).
    pub fn refusal(self) -> crate::wire::denial::Denial {
        use crate::wire::denial::{BadRetry, Denial};
        let what = match self {
            StateError::Replayed => BadRetry::Replayed,
            other => BadRetry::State(other.reason()),
        };
        Denial::BadRetry { what, message: format!("Invalid params: {self}"), key: None }
    }

    pub fn reason(self) -> &'static str {
        match self {
            StateError::Invalid => "request_state_invalid",
            StateError::Expired => "request_state_expired",
            StateError::Foreign => "request_state_foreign",
            StateError::Replayed => "request_state_replayed",
        }
    }
}

/// Seal a payload.
pub fn seal(key: &StateKey, payload: &StatePayload) -> String {
    let json = serde_json::to_vec(payload).unwrap_or_default();
    let body = format!("{STATE_VERSION}.{}", URL_SAFE_NO_PAD.encode(json));
    let mut mac = key.mac();
    mac.update(body.as_bytes());
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The binding a state must match to be honoured on this call.
pub struct Expected<'a> {
    pub sub: &'a str,
    pub tool: &'a str,
    pub args: &'a str,
    pub now: i64,
}

/// Open a presented state: mac first (constant time), then expiry, then binding.
pub fn open(key: &StateKey, state: &str, expected: &Expected<'_>) -> Result<StatePayload, StateError> {
    if state.len() > MAX_STATE_BYTES {
        return Err(StateError::Invalid);
    }
    let (body, tag) = state.rsplit_once('.').ok_or(StateError::Invalid)?;
    let (version, payload) = body.split_once('.').ok_or(StateError::Invalid)?;
    if version != STATE_VERSION {
        return Err(StateError::Invalid);
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| StateError::Invalid)?;
    let mut mac = key.mac();
    mac.update(body.as_bytes());
    mac.verify_slice(&tag).map_err(|_| StateError::Invalid)?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| StateError::Invalid)?;
    let payload: StatePayload = serde_json::from_slice(&json).map_err(|_| StateError::Invalid)?;
    if expected.now > payload.exp {
        return Err(StateError::Expired);
    }
    if payload.sub != expected.sub || payload.tool != expected.tool || payload.args != expected.args {
        return Err(StateError::Foreign);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> StatePayload {
        StatePayload {
            sub: "k1".into(),
            tool: "t.v1".into(),
            args: "d".into(),
            exp: 100,
            nonce: "n".into(),
            bind: json!("plan"),
            answers: Map::new(),
        }
    }

    fn expected(now: i64) -> Expected<'static> {
        Expected { sub: "k1", tool: "t.v1", args: "d", now }
    }

    #[test]
    fn a_sealed_state_opens_only_untouched_in_time_and_for_its_call() {
        let key = StateKey::new([7; 32]).expect("key");
        let sealed = seal(&key, &payload());
        assert!(sealed.starts_with("v1."));
        assert_eq!(open(&key, &sealed, &expected(100)), Ok(payload()));
        assert_eq!(open(&key, &sealed, &expected(101)), Err(StateError::Expired));
        let other = Expected { sub: "k2", ..expected(1) };
        assert_eq!(open(&key, &sealed, &other), Err(StateError::Foreign));
        let other = Expected { args: "e", ..expected(1) };
        assert_eq!(open(&key, &sealed, &other), Err(StateError::Foreign));
        assert_eq!(open(&StateKey::new([8; 32]).expect("key"), &sealed, &expected(1)), Err(StateError::Invalid));
        assert_eq!(open(&key, &format!("{sealed}-TAMPERED"), &expected(1)), Err(StateError::Invalid));
        assert_eq!(open(&key, &sealed.replacen("v1.", "v2.", 1), &expected(1)), Err(StateError::Invalid));
    }

    #[test]
    fn a_forged_payload_with_the_old_mac_is_refused() {
        let key = StateKey::new([7; 32]).expect("key");
        let sealed = seal(&key, &payload());
        let tag = sealed.rsplit_once('.').map(|(_, t)| t).unwrap_or_default();
        let forged = StatePayload { sub: "admin".into(), ..payload() };
        let json = serde_json::to_vec(&forged).unwrap_or_default();
        let forged = format!("v1.{}.{tag}", URL_SAFE_NO_PAD.encode(json));
        let any = Expected { sub: "admin", ..expected(1) };
        assert_eq!(open(&key, &forged, &any), Err(StateError::Invalid));
    }
}
