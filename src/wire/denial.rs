//! Why a call was refused, as a typed value, and the one mapping from it to
//! the wire: JSON-RPC code, `data.reason`, data, and (through the code) the
//! HTTP status and `Retry-After`.
//!
//! Invariant: every denial the gate or the commit decides is one of these;
//! its reason string is written here once, so nothing downstream parses a
//! reason back into meaning.

use serde_json::{Map, Value, json};

use super::errors::{
    FORBIDDEN, INTERNAL_ERROR, INVALID_PARAMS, QUOTA_EXCEEDED, RATE_LIMITED, RpcError, UNAUTHENTICATED, UNAVAILABLE,
};
use crate::identity::AuthFailure;

/// Why the principal may not make this call (-31403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbid {
    /// `tenant_id` names a tenant other than the caller's own (a spoof attempt).
    TenantMismatch,
    /// The caller's role may not call this tool.
    RoleRequired,
    /// A flag (or the edition) turns the tool off on this server.
    FeatureDisabled,
    /// The tenant's plan does not include the tool's feature.
    NotEntitled,
    /// The account's billing status does not allow the tool.
    BillingStatus,
    /// A key and a client certificate name different accounts.
    CredentialMismatch,
    /// An OAuth token whose scopes allow less than its binding's role, and
    /// too little for this tool: more scope would help (`data.scope` names it).
    InsufficientScope,
}

impl Forbid {
    pub fn reason(self) -> &'static str {
        match self {
            Forbid::TenantMismatch => "tenant_mismatch",
            Forbid::RoleRequired => "role_required",
            Forbid::FeatureDisabled => "feature_disabled",
            Forbid::NotEntitled => "not_entitled",
            Forbid::BillingStatus => "billing_status",
            Forbid::CredentialMismatch => "credential_mismatch",
            Forbid::InsufficientScope => "insufficient_scope",
        }
    }
}

/// A refused request state or input response (-32602).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRetry {
    /// The state does not open, is bound to another call, or expired.
    State(&'static str),
    /// The state was honoured once already.
    Replayed,
    /// An `inputResponses` entry that is not an answer to its question.
    InputResponseMalformed,
}

/// Which share of the legacy HTTP session capacity is used up (`data.share`
/// of -31503 `sessions_full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionShare {
    /// The server holds its maximum (or tenants together hold theirs).
    Capacity,
    /// The caller's tenant holds its share; other tenants are not affected.
    Tenant,
    /// The caller's key holds its maximum.
    Principal,
}

impl SessionShare {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionShare::Capacity => "capacity",
            SessionShare::Tenant => "tenant_share",
            SessionShare::Principal => "principal_share",
        }
    }
}

/// A denial: the call is refused with a JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    /// -31401: no credential, or one that does not authenticate (more than one
    /// credential header is a malformed request instead: -32600, HTTP 400).
    Unauthenticated(AuthFailure),
    /// -31403 with a stable reason and what the caller may see about it.
    Forbidden { why: Forbid, message: String, data: Map<String, Value> },
    /// -31429 `rate_limited`: the key's or tenant's bucket is empty.
    RateLimited { retry_after_ms: u64 },
    /// -31429 `address_rate_limited`: the client address's bucket is empty (before authentication).
    AddressRateLimited { retry_after_ms: u64 },
    /// -31429 `too_many_heavy_calls`: the tenant already runs `limit` heavy
    /// calls (a chain verified or exported) at once; retry when one ends.
    TooManyHeavyCalls { limit: usize, retry_after_ms: u64 },
    /// -31402 `quota_exceeded`: a counter is used up for this period.
    QuotaExceeded { counter: &'static str, limit: u64, used: u64, resets_at: String },
    /// -32602 `unknown_tool`.
    UnknownTool { name: String, data: Map<String, Value> },
    /// -32602: a multi round-trip retry that cannot be honoured (`key`: the input response at fault).
    BadRetry { what: BadRetry, message: String, key: Option<String> },
    /// -32021: the tool needs client capabilities the request did not declare.
    MissingCapability(Map<String, Value>),
    /// -31503 `sessions_full`: a legacy `initialize` finds its share of the
    /// session capacity used up (`limit` sessions); closing one frees it.
    SessionsFull { share: SessionShare, limit: usize },
    /// -31503: the store cannot answer or commit (fail closed).
    Unavailable(String),
    /// -32603: the server broke its own invariant (fail closed).
    Internal(String),
}

impl Denial {
    /// -31403 with a message and data for the caller.
    pub fn forbidden(why: Forbid, message: &str, data: Value) -> Self {
        let data = data.as_object().cloned().unwrap_or_default();
        Denial::Forbidden { why, message: format!("Forbidden: {message}"), data }
    }

    /// The stable reason recorded in the audit log and sent as `data.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Denial::Unauthenticated(f) => f.reason(),
            Denial::Forbidden { why, .. } => why.reason(),
            Denial::RateLimited { .. } => "rate_limited",
            Denial::AddressRateLimited { .. } => "address_rate_limited",
            Denial::TooManyHeavyCalls { .. } => "too_many_heavy_calls",
            Denial::QuotaExceeded { .. } => "quota_exceeded",
            Denial::UnknownTool { .. } => "unknown_tool",
            Denial::BadRetry { what: BadRetry::State(reason), .. } => reason,
            Denial::BadRetry { what: BadRetry::Replayed, .. } => "request_state_replayed",
            Denial::BadRetry { what: BadRetry::InputResponseMalformed, .. } => "input_response_malformed",
            Denial::MissingCapability(_) => "missing_client_capability",
            Denial::SessionsFull { .. } => "sessions_full",
            Denial::Unavailable(_) => "store_unavailable",
            Denial::Internal(_) => "internal",
        }
    }

    /// Whether the denial comes in floods and is counted in an aggregated
    /// record per window rather than one record per call.
    pub fn is_flood(&self) -> bool {
        matches!(self, Denial::Unauthenticated(_) | Denial::RateLimited { .. } | Denial::AddressRateLimited { .. })
    }

    /// The one mapping to the wire. The HTTP status follows from the code
    /// ([`RpcError::http_status`]), and `Retry-After` from `retry_after_ms`.
    pub fn to_rpc(&self) -> RpcError {
        let reason = self.reason();
        match self {
            Denial::Unauthenticated(AuthFailure::AmbiguousCredentials) => RpcError::invalid_request(
                "Invalid request: more than one Authorization header; send exactly one credential",
            )
            .with_data(json!({ "reason": reason })),
            Denial::Unauthenticated(AuthFailure::UnboundSubject) => RpcError::new(
                FORBIDDEN,
                "Forbidden: this token's subject is not bound to a tenant; redeem an invite (identity.redeem) from a tenant admin",
            )
            .with_data(json!({ "reason": reason })),
            Denial::Unauthenticated(AuthFailure::IssuerUnavailable) => RpcError::new(
                UNAVAILABLE,
                "Unavailable: the token's issuer has not served its keys yet; retry later, or use an API key",
            )
            .with_data(json!({ "reason": reason })),
            Denial::Unauthenticated(f) if f.is_token() => RpcError::new(
                UNAUTHENTICATED,
                format!("Unauthenticated: the access token was refused ({reason}); obtain a new one for this resource"),
            )
            .with_data(json!({ "reason": reason })),
            Denial::Unauthenticated(_) => {
                RpcError::new(UNAUTHENTICATED, "Unauthenticated: present a valid API key (Authorization: Bearer tg_…)")
                    .with_data(json!({ "reason": reason }))
            }
            Denial::Forbidden { why: Forbid::CredentialMismatch, .. } => RpcError::new(
                FORBIDDEN,
                "Forbidden: the API key and the client certificate belong to different accounts; present one of them",
            )
            .with_data(json!({ "reason": reason })),
            Denial::Forbidden { message, data, .. } => {
                let mut data = data.clone();
                data.insert("reason".into(), json!(reason));
                RpcError::new(FORBIDDEN, message.clone()).with_data(Value::Object(data))
            }
            Denial::RateLimited { retry_after_ms } => {
                RpcError::new(RATE_LIMITED, "Rate limited: too many calls; retry after retry_after_ms")
                    .with_data(json!({ "reason": reason, "retry_after_ms": retry_after_ms }))
            }
            Denial::AddressRateLimited { retry_after_ms } => {
                RpcError::new(RATE_LIMITED, "Too many requests from this address; retry later")
                    .with_data(json!({ "reason": reason, "retry_after_ms": retry_after_ms }))
            }
            Denial::TooManyHeavyCalls { limit, retry_after_ms } => RpcError::new(
                RATE_LIMITED,
                format!(
                    "Too many heavy calls: your tenant already runs {limit} audit verifications or exports at once; retry when one ends"
                ),
            )
            .with_data(json!({ "reason": reason, "limit": limit, "retry_after_ms": retry_after_ms })),
            Denial::QuotaExceeded { counter, limit, used, resets_at } => {
                RpcError::new(QUOTA_EXCEEDED, format!("Quota exceeded: {counter} is used up for this period"))
                    .with_data(json!({
                        "reason": reason,
                        "counter": counter,
                        "limit": limit,
                        "used": used,
                        "resets_at": resets_at,
                    }))
            }
            Denial::UnknownTool { name, data } => {
                let mut data = data.clone();
                data.insert("reason".into(), json!(reason));
                RpcError::new(INVALID_PARAMS, format!("Unknown tool: {name}")).with_data(Value::Object(data))
            }
            Denial::BadRetry { message, key: None, .. } => {
                RpcError::invalid_params(message.clone()).with_data(json!({ "reason": reason }))
            }
            Denial::BadRetry { message, key: Some(key), .. } => {
                RpcError::invalid_params(message.clone()).with_data(json!({ "reason": reason, "key": key }))
            }
            Denial::MissingCapability(missing) => RpcError::missing_capability(Value::Object(missing.clone())),
            Denial::SessionsFull { share, limit } => {
                let message = match share {
                    SessionShare::Capacity => format!(
                        "Sessions full: the server holds its maximum of {limit} sessions; close one (HTTP DELETE) or retry later"
                    ),
                    SessionShare::Tenant => format!(
                        "Sessions full: your tenant holds its share of {limit} sessions; close one of them (HTTP DELETE) first"
                    ),
                    SessionShare::Principal => format!(
                        "Sessions full: this key holds its maximum of {limit} sessions; close one (HTTP DELETE) first"
                    ),
                };
                RpcError::new(UNAVAILABLE, message)
                    .with_data(json!({ "reason": reason, "share": share.as_str(), "limit": limit }))
            }
            Denial::Unavailable(detail) => RpcError::unavailable(detail),
            Denial::Internal(detail) => RpcError::new(INTERNAL_ERROR, format!("Internal error: {detail}"))
                .with_data(json!({ "reason": reason })),
        }
    }
}

impl From<Denial> for RpcError {
    fn from(d: Denial) -> Self {
        d.to_rpc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::errors::MISSING_CAPABILITY;

    fn every_denial() -> Vec<Denial> {
        vec![
            Denial::Unauthenticated(AuthFailure::InvalidKey),
            Denial::forbidden(
                Forbid::TenantMismatch,
                "tenant_id names a tenant other than your own",
                json!({"tenant_id": "tn_x"}),
            ),
            Denial::forbidden(Forbid::CredentialMismatch, "", json!({})),
            Denial::RateLimited { retry_after_ms: 1500 },
            Denial::QuotaExceeded {
                counter: "tool_calls",
                limit: 3,
                used: 3,
                resets_at: "2027-01-01T00:00:00Z".into(),
            },
            Denial::UnknownTool { name: "nope".into(), data: Map::new() },
            Denial::BadRetry { what: BadRetry::Replayed, message: "Invalid params: replayed".into(), key: None },
            Denial::BadRetry {
                what: BadRetry::State("request_state_expired"),
                message: "expired".into(),
                key: Some("confirm".into()),
            },
            Denial::MissingCapability(Map::new()),
            Denial::SessionsFull { share: SessionShare::Tenant, limit: 8 },
            Denial::TooManyHeavyCalls { limit: 2, retry_after_ms: 1000 },
            Denial::Unavailable("disk full".into()),
            Denial::Internal("bug".into()),
        ]
    }

    #[test]
    fn every_denial_carries_its_reason_on_the_wire_and_a_status_from_its_code() {
        for d in every_denial() {
            let e = d.to_rpc();
            let sent = e.data.as_ref().and_then(|v| v.get("reason")).and_then(Value::as_str);
            // -32021 carries requiredCapabilities instead (the spec's shape); every other names its reason.
            if e.code != MISSING_CAPABILITY {
                assert_eq!(sent, Some(d.reason()), "{d:?}");
            }
            assert_ne!(e.http_status(), 0);
        }
    }

    #[test]
    fn codes_and_statuses_are_the_documented_ones() {
        let pairs: Vec<(i32, u16)> =
            every_denial().iter().map(|d| (d.to_rpc().code, d.to_rpc().http_status())).collect();
        assert_eq!(
            pairs,
            vec![
                (UNAUTHENTICATED, 401),
                (FORBIDDEN, 403),
                (FORBIDDEN, 403),
                (RATE_LIMITED, 429),
                (QUOTA_EXCEEDED, 402),
                (INVALID_PARAMS, 400),
                (INVALID_PARAMS, 400),
                (INVALID_PARAMS, 400),
                (MISSING_CAPABILITY, 400),
                (UNAVAILABLE, 503),
                (RATE_LIMITED, 429),
                (UNAVAILABLE, 503),
                (INTERNAL_ERROR, 500),
            ]
        );
    }

    #[test]
    fn a_rate_limit_says_how_long_to_wait_and_floods_are_told_apart() {
        let e = Denial::RateLimited { retry_after_ms: 1500 }.to_rpc();
        assert_eq!(e.data.and_then(|d| d.get("retry_after_ms").cloned()), Some(json!(1500)));
        assert!(Denial::RateLimited { retry_after_ms: 1 }.is_flood());
        assert!(Denial::Unauthenticated(AuthFailure::MissingCredential).is_flood());
        assert!(!Denial::forbidden(Forbid::RoleRequired, "x", json!({})).is_flood());
    }

    #[test]
    fn a_full_session_share_names_the_share_and_its_limit() {
        let e = Denial::SessionsFull { share: SessionShare::Tenant, limit: 8 }.to_rpc();
        let data = e.data.unwrap_or_default();
        assert_eq!(
            (e.code, data["share"].clone(), data["limit"].clone()),
            (UNAVAILABLE, json!("tenant_share"), json!(8))
        );
        assert!(!Denial::SessionsFull { share: SessionShare::Capacity, limit: 1 }.is_flood());
    }
}
