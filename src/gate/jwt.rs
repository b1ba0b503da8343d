//! JWT access tokens (RFC 9068): a token in, a verified subject or a stable
//! reason out.
//!
//! Invariants: nothing from the token is trusted before its signature
//! verified, except the `iss` used to pick a configured issuer (an unknown
//! one is refused, nothing is fetched for it); `typ` must be `at+jwt`;
//! only the issuer's configured algorithms (never `none`, never HMAC);
//! `jku`, `x5u`, `jwk` and `x5c` are never read and `crit` is refused;
//! times are read from the settable clock.

use base64::Engine;
use serde_json::Value;

use super::jwks::{KeyCache, Lookup};
use crate::config::JwsAlgorithm;
use crate::identity::AuthFailure;
use crate::identity::{OAuthSubject, SubjectKind};

/// Longest token accepted, in bytes (anything longer is malformed).
pub const MAX_TOKEN: usize = 16 * 1024;
/// Longest `sub` accepted.
pub const MAX_SUBJECT: usize = 255;

/// What verification needs besides the keys.
pub struct Expect<'a> {
    pub resource: &'a str,
    pub leeway_secs: i64,
    pub now: i64,
}

/// Why a token was not accepted, or that its key must be fetched first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Refused(AuthFailure),
    /// The token's issuer is configured but its key is not in the cache;
    /// the caller may fetch (when the negative cache allows) and try again.
    NeedKeys {
        issuer: String,
        may_refresh: bool,
    },
    /// The issuer's keys were never fetched (it is unreachable): -31503.
    KeysUnavailable,
}

/// Whether a bearer credential looks like a JWT (three base64url parts),
/// rather than a tollgate API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

fn part(b64: &str) -> Result<Value, Verdict> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| Verdict::Refused(AuthFailure::TokenMalformed))?;
    serde_json::from_slice(&bytes).map_err(|_| Verdict::Refused(AuthFailure::TokenMalformed))
}

/// Unverified header and payload, for picking the issuer and key only.
fn peek(token: &str) -> Result<(Value, Value), Verdict> {
    if token.len() > MAX_TOKEN {
        return Err(Verdict::Refused(AuthFailure::TokenMalformed));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Verdict::Refused(AuthFailure::TokenMalformed));
    };
    let (header, payload) = (part(h)?, part(p)?);
    if !header.is_object() || !payload.is_object() {
        return Err(Verdict::Refused(AuthFailure::TokenMalformed));
    }
    Ok((header, payload))
}

/// `typ` of an RFC 9068 access token (media type, `application/` optional, any case).
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == "at+jwt" || t == "application/at+jwt"
    })
}

/// The issuer whose keys must be fetched before `token` can verify: its
/// issuer is configured, its algorithm allowed, and its key not cached
/// while the negative cache allows a fetch. Nothing is verified here.
pub fn needs_fetch(token: &str, keys: &KeyCache) -> Option<std::sync::Arc<super::jwks::IssuerKeys>> {
    if !looks_like_jwt(token) {
        return None;
    }
    let (header, unverified) = peek(token).ok()?;
    let issuer = keys.issuer(unverified.get("iss")?.as_str()?)?;
    let alg = JwsAlgorithm::parse(header.get("alg")?.as_str()?).filter(|a| issuer.config.algorithms.contains(a))?;
    match keys.lookup(issuer, header.get("kid").and_then(Value::as_str), alg) {
        Lookup::Found(_) | Lookup::Unknown { may_refresh: false } => None,
        Lookup::Unknown { may_refresh: true } | Lookup::NotLoaded => Some(std::sync::Arc::clone(issuer)),
    }
}

/// Verify `token` with the cached keys.
pub fn verify(token: &str, keys: &KeyCache, expect: &Expect<'_>) -> Result<OAuthSubject, Verdict> {
    let refuse = |f| Err(Verdict::Refused(f));
    let (header, unverified) = peek(token)?;
    if header.get("crit").is_some() {
        return refuse(AuthFailure::TokenMalformed);
    }
    if !is_access_token_type(header.get("typ").and_then(Value::as_str)) {
        return refuse(AuthFailure::TokenType);
    }
    let Some(issuer) = unverified.get("iss").and_then(Value::as_str).and_then(|iss| keys.issuer(iss)) else {
        return refuse(AuthFailure::TokenIssuer);
    };
    let alg = header.get("alg").and_then(Value::as_str).and_then(JwsAlgorithm::parse);
    let Some(alg) = alg.filter(|a| issuer.config.algorithms.contains(a)) else {
        return refuse(AuthFailure::TokenSignature);
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let key = match keys.lookup(issuer, kid, alg) {
        Lookup::Found(k) => k,
        Lookup::Unknown { may_refresh } => {
            return Err(Verdict::NeedKeys { issuer: issuer.config.url.clone(), may_refresh });
        }
        Lookup::NotLoaded => return Err(Verdict::KeysUnavailable),
    };
    let mut validation = jsonwebtoken::Validation::new(match alg {
        JwsAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        JwsAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        JwsAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    });
    // Time and audience are checked below, on the settable clock and exactly.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
        Ok(data) => data.claims,
        // A bad signature, a key of another family, or a tampered part.
        Err(_) => return refuse(AuthFailure::TokenSignature),
    };
    // From here the claims are the issuer's.
    check_claims(&claims, &issuer.config, expect).map_err(Verdict::Refused)?;
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
    let kind = if sub == client_id { SubjectKind::Client } else { SubjectKind::User };
    let scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(OAuthSubject {
        issuer_name: issuer.config.name.clone(),
        issuer: issuer.config.url.clone(),
        kind,
        subject: sub.to_owned(),
        scopes,
    })
}

/// Whether an audience names the resource: the same URI, with scheme and host
/// compared without case (the MCP spec asks servers to accept uppercase
/// ones) and everything else exactly; a prefix or a longer path is another resource.
fn same_resource(aud: &str, resource: &str) -> bool {
    fn split(u: &str) -> Option<(&str, &str, &str)> {
        let (scheme, rest) = u.split_once("://")?;
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
        Some((scheme, authority, path))
    }
    match (split(aud), split(resource)) {
        (Some((s1, a1, p1)), Some((s2, a2, p2))) => {
            s1.eq_ignore_ascii_case(s2) && a1.eq_ignore_ascii_case(a2) && p1 == p2
        }
        _ => false,
    }
}

/// The signed claims: issuer, audience, times, lifetime, subject, client.
pub fn check_claims(
    claims: &Value,
    issuer: &crate::config::IssuerConfig,
    expect: &Expect<'_>,
) -> Result<(), AuthFailure> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.url.as_str()) {
        return Err(AuthFailure::TokenIssuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => same_resource(a, expect.resource),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| same_resource(a, expect.resource)),
        _ => false,
    };
    if !audience_ok {
        return Err(AuthFailure::TokenAudience);
    }
    let time = |name: &str| claims.get(name).map(|v| v.as_i64().ok_or(AuthFailure::TokenMalformed)).transpose();
    let exp = time("exp")?.ok_or(AuthFailure::TokenMalformed)?;
    let (nbf, iat) = (time("nbf")?, time("iat")?);
    let leeway = expect.leeway_secs;
    if expect.now >= exp.saturating_add(leeway) {
        return Err(AuthFailure::TokenExpired);
    }
    if nbf.is_some_and(|n| n > expect.now.saturating_add(leeway)) {
        return Err(AuthFailure::TokenNotYetValid);
    }
    let Some(iat) = iat else { return Err(AuthFailure::TokenMalformed) };
    if iat > expect.now.saturating_add(leeway) {
        return Err(AuthFailure::TokenNotYetValid);
    }
    let start = nbf.map_or(iat, |n| n.min(iat));
    let max = i64::try_from(issuer.max_lifetime_secs).unwrap_or(i64::MAX);
    if exp.saturating_sub(start) > max {
        return Err(AuthFailure::TokenLifetime);
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    if sub.is_empty() || sub.len() > MAX_SUBJECT || sub.chars().any(char::is_control) {
        return Err(AuthFailure::TokenMalformed);
    }
    if claims.get("client_id").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(AuthFailure::TokenMalformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OAuthConfig;
    use serde_json::json;

    fn issuer() -> crate::config::IssuerConfig {
        let mut c = OAuthConfig::default();
        c.set_issuer("https://auth.example.com");
        c.issuers.remove(0)
    }

    const NOW: i64 = 2_000_000_000;

    fn claims(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut c = json!({
            "iss": "https://auth.example.com", "aud": "https://mcp.example.com/mcp",
            "sub": "alice", "client_id": "app", "iat": NOW - 10, "exp": NOW + 600, "scope": "tollgate:read",
        });
        if let Some(m) = c.as_object_mut() {
            edit(m);
        }
        c
    }

    fn check(c: &Value) -> Result<(), AuthFailure> {
        check_claims(c, &issuer(), &Expect { resource: "https://mcp.example.com/mcp", leeway_secs: 30, now: NOW })
    }

    #[test]
    fn each_bad_claim_has_its_own_reason() {
        assert_eq!(check(&claims(|_| {})), Ok(()));
        type Edit = Box<dyn FnOnce(&mut serde_json::Map<String, Value>)>;
        let cases: Vec<(Edit, AuthFailure)> = vec![
            (Box::new(|m| drop(m.insert("exp".into(), json!(NOW - 31)))), AuthFailure::TokenExpired),
            (Box::new(|m| drop(m.insert("nbf".into(), json!(NOW + 31)))), AuthFailure::TokenNotYetValid),
            (Box::new(|m| drop(m.insert("iat".into(), json!(NOW + 100)))), AuthFailure::TokenNotYetValid),
            (Box::new(|m| drop(m.insert("exp".into(), json!(NOW + 4000)))), AuthFailure::TokenLifetime),
            (Box::new(|m| drop(m.insert("aud".into(), json!("https://mcp.example.com")))), AuthFailure::TokenAudience),
            (Box::new(|m| drop(m.insert("aud".into(), json!(["https://other/mcp"])))), AuthFailure::TokenAudience),
            (
                Box::new(|m| drop(m.insert("aud".into(), json!("https://mcp.example.com/mcp/x")))),
                AuthFailure::TokenAudience,
            ),
            (Box::new(|m| drop(m.insert("iss".into(), json!("https://auth.example.com/")))), AuthFailure::TokenIssuer),
            (Box::new(|m| drop(m.remove("exp"))), AuthFailure::TokenMalformed),
            (Box::new(|m| drop(m.remove("iat"))), AuthFailure::TokenMalformed),
            (Box::new(|m| drop(m.insert("exp".into(), json!("soon")))), AuthFailure::TokenMalformed),
            (Box::new(|m| drop(m.remove("client_id"))), AuthFailure::TokenMalformed),
            (Box::new(|m| drop(m.insert("sub".into(), json!("")))), AuthFailure::TokenMalformed),
        ];
        for (edit, want) in cases {
            assert_eq!(check(&claims(edit)), Err(want));
        }
        let within_leeway = claims(|m| drop(m.insert("exp".into(), json!(NOW - 29))));
        assert_eq!(check(&within_leeway), Ok(()), "leeway applies");
        let aud_list = claims(|m| drop(m.insert("aud".into(), json!(["x", "https://mcp.example.com/mcp"]))));
        assert_eq!(check(&aud_list), Ok(()));
        let upper = claims(|m| drop(m.insert("aud".into(), json!("HTTPS://MCP.Example.COM/mcp"))));
        assert_eq!(check(&upper), Ok(()), "scheme and host case do not matter");
        let path_case = claims(|m| drop(m.insert("aud".into(), json!("https://mcp.example.com/MCP"))));
        assert_eq!(check(&path_case), Err(AuthFailure::TokenAudience), "the path does");
    }

    #[test]
    fn a_token_type_other_than_at_jwt_is_refused() {
        assert!(is_access_token_type(Some("at+jwt")));
        assert!(is_access_token_type(Some("application/AT+JWT")));
        assert!(!is_access_token_type(Some("JWT")));
        assert!(!is_access_token_type(None));
        assert!(looks_like_jwt("eyJhbGciOi.eyJ.sig"));
        assert!(!looks_like_jwt("tg_k0123_secret"));
    }
}
