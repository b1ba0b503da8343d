//! An HTTP `MCP-Protocol-Version` that names no revision we speak.
//!
//! Invariant: such a POST is refused before its method is looked at (the
//! method set belongs to a version, and we have none to look it up in), and
//! the refusal names only versions the client sent or the ones we support:
//! -32022 echoing the version exactly, or -32020 when the body disagrees.

use serde_json::{Map, Value, json};

use super::headers::{self, HeaderField};
use crate::wire::errors::RpcError;
use crate::wire::{META_PROTOCOL_VERSION, MODERN_VERSION, is_legacy_version};

/// Whether a header field names a revision this server speaks over HTTP
/// (2026-07-28 or a 2025 one); an absent header is the 2025 default.
pub fn header_is_supported(field: &HeaderField) -> bool {
    match field {
        HeaderField::Absent => true,
        HeaderField::Invalid => false,
        HeaderField::Value(v) => v == MODERN_VERSION || is_legacy_version(v),
    }
}

/// The answer to a POST whose `MCP-Protocol-Version` we do not speak, given
/// the params of its message (`None` for a batch or a client response), or
/// `None` when the header is supported after all (a `=?base64?…?=` form
/// that decodes to the 2026-07-28 body version: the modern path serves it).
///
/// In order: a header with illegal characters or an empty one is -32020; no
/// `_meta` version in the body is -32022 echoing the header; a malformed one
/// is -32602; a body version other than the header is -32020; a version we
/// do not speak is -32022 echoing it.
pub fn refuse_unsupported(field: &HeaderField, params: Option<&Map<String, Value>>) -> Option<RpcError> {
    let raw = match field {
        HeaderField::Absent => return None,
        HeaderField::Invalid => {
            return Some(RpcError::header_mismatch(headers::PROTOCOL_VERSION, "contains illegal characters"));
        }
        HeaderField::Value(_) if header_is_supported(field) => return None,
        HeaderField::Value(v) => v,
    };
    if raw.trim_matches(|c| c == ' ' || c == '\t').is_empty() {
        return Some(RpcError::header_mismatch(headers::PROTOCOL_VERSION, "is empty"));
    }
    let body_version = match params.map(|p| p.get("_meta")) {
        None | Some(None) => None,
        Some(Some(Value::Object(meta))) => meta.get(META_PROTOCOL_VERSION),
        Some(Some(_)) => return Some(RpcError::invalid_params("Invalid _meta: params._meta must be an object")),
    };
    let body_version = match body_version {
        None => return Some(RpcError::unsupported_version(&json!(raw))),
        Some(Value::String(v)) => v,
        Some(_) => {
            return Some(RpcError::invalid_params(format!(
                "Invalid _meta: _meta[\"{META_PROTOCOL_VERSION}\"] must be a string"
            )));
        }
    };
    if let Err(mismatch) = headers::check_version(field, body_version) {
        return Some(mismatch);
    }
    if body_version == MODERN_VERSION { None } else { Some(RpcError::unsupported_version(&json!(body_version))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::errors::{HEADER_MISMATCH, INVALID_PARAMS, UNSUPPORTED_VERSION};
    use crate::wire::{META_CLIENT_CAPABILITIES, SUPPORTED_VERSIONS};

    fn v(s: &str) -> HeaderField {
        HeaderField::Value(s.to_owned())
    }

    fn params(body: Value) -> Map<String, Value> {
        body.as_object().cloned().unwrap_or_default()
    }

    fn with_version(version: Value) -> Map<String, Value> {
        params(json!({"_meta": {META_PROTOCOL_VERSION: version, META_CLIENT_CAPABILITIES: {}}}))
    }

    /// Code and `data.requested` of the refusal, if any.
    fn answer(field: &HeaderField, p: Option<&Map<String, Value>>) -> Option<(i32, Value)> {
        refuse_unsupported(field, p)
            .map(|e| (e.code, e.data.and_then(|d| d.get("requested").cloned()).unwrap_or_default()))
    }

    #[test]
    fn supported_or_absent_headers_are_left_to_their_era() {
        for field in [HeaderField::Absent, v(MODERN_VERSION), v("2025-11-25"), v("2025-06-18"), v("2025-03-26")] {
            assert!(header_is_supported(&field), "{field:?}");
            assert_eq!(answer(&field, Some(&params(json!({})))), None, "{field:?}");
        }
        for field in [HeaderField::Invalid, v("1999-01-01"), v("banana"), v(""), v("2026-07-28 ")] {
            assert!(!header_is_supported(&field), "{field:?}");
        }
    }

    #[test]
    fn without_a_body_version_the_header_is_echoed_exactly_as_unsupported() {
        for raw in ["1999-01-01", "banana", "2024-11-05", "2026-07-28x"] {
            let field = v(raw);
            for p in [None, Some(params(json!({}))), Some(params(json!({"_meta": {"progressToken": 1}})))] {
                assert_eq!(answer(&field, p.as_ref()), Some((UNSUPPORTED_VERSION, json!(raw))), "{raw} {p:?}");
            }
            let e = refuse_unsupported(&field, None);
            assert_eq!(
                e.as_ref().and_then(|e| e.data.clone()).map(|d| d["supported"].clone()),
                Some(json!(SUPPORTED_VERSIONS))
            );
            assert!(e.is_some_and(|e| !e.message.contains(MODERN_VERSION)), "names no version the client did not send");
        }
    }

    #[test]
    fn with_a_body_version_a_mismatch_comes_before_the_unsupported_version() {
        let banana = v("banana");
        assert_eq!(answer(&banana, Some(&with_version(json!("banana")))), Some((UNSUPPORTED_VERSION, json!("banana"))));
        assert_eq!(answer(&banana, Some(&with_version(json!(MODERN_VERSION)))).map(|a| a.0), Some(HEADER_MISMATCH));
        assert_eq!(answer(&banana, Some(&with_version(json!("1999-01-01")))).map(|a| a.0), Some(HEADER_MISMATCH));
        assert_eq!(answer(&banana, Some(&with_version(json!(7)))).map(|a| a.0), Some(INVALID_PARAMS));
        assert_eq!(answer(&banana, Some(&params(json!({"_meta": 1})))).map(|a| a.0), Some(INVALID_PARAMS));
        // A 2025 version in a modern-shaped body under a foreign header: still a mismatch first.
        assert_eq!(answer(&banana, Some(&with_version(json!("2025-11-25")))).map(|a| a.0), Some(HEADER_MISMATCH));
        // The base64 form of 2026-07-28 matching the body goes on to the modern path.
        assert_eq!(answer(&v("=?base64?MjAyNi0wNy0yOA==?="), Some(&with_version(json!(MODERN_VERSION)))), None);
    }

    #[test]
    fn a_malformed_header_is_a_mismatch_whatever_the_body() {
        for field in [HeaderField::Invalid, v(""), v("  ")] {
            for p in [None, Some(with_version(json!("banana")))] {
                assert_eq!(answer(&field, p.as_ref()).map(|a| a.0), Some(HEADER_MISMATCH), "{field:?}");
            }
        }
    }
}
