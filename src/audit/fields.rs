//! Field formats shared by records and checkpoints: `sha256:` digests, UTC
//! timestamps, counter names and safe integers.
//! Invariant: a value accepted here has exactly one spelling, so a record that
//! parses re-serializes to the bytes it was hashed from.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AuditError;
use super::canonical::MAX_SAFE_INTEGER;

/// The prefix of every digest in the audit log.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Requires `value` to be `sha256:` followed by 64 lowercase hex digits.
pub(crate) fn check_digest(field: &'static str, value: &str) -> Result<(), AuditError> {
    let ok = value.strip_prefix(DIGEST_PREFIX).is_some_and(|hex| hex.len() == 64 && is_lower_hex(hex));
    if ok {
        Ok(())
    } else {
        Err(AuditError::InvalidField {
            field,
            detail: format!("expected \"sha256:\" and 64 lowercase hex digits, got {value:?}"),
        })
    }
}

/// Requires `value` to be an RFC 3339 timestamp in UTC written with `Z`
/// (e.g. `2026-11-24T22:10:00Z` or `2026-11-24T22:10:00.250Z`) and returns it.
pub(crate) fn check_utc_timestamp(field: &'static str, value: &str) -> Result<OffsetDateTime, AuditError> {
    let invalid = |detail: String| AuditError::InvalidField { field, detail };
    // RFC 3339 also allows a space or `t` between date and time and a
    // lowercase `z`; one spelling only, so equal times are written alike.
    if value.as_bytes().get(10) != Some(&b'T') || !value.ends_with('Z') {
        return Err(invalid(format!(
            "expected an RFC 3339 UTC timestamp like \"2026-11-24T22:10:00Z\", got {value:?}"
        )));
    }
    OffsetDateTime::parse(value, &Rfc3339).map_err(|e| invalid(format!("{value:?} is not an RFC 3339 timestamp: {e}")))
}

/// Requires `value` to be an integer that canonical JSON carries exactly.
pub(crate) fn check_safe_integer(field: &'static str, value: u64) -> Result<(), AuditError> {
    if value <= MAX_SAFE_INTEGER {
        Ok(())
    } else {
        Err(AuditError::InvalidField {
            field,
            detail: format!("{value} exceeds the largest exact JSON integer {MAX_SAFE_INTEGER}"),
        })
    }
}

/// Requires `value` to be non-empty.
pub(crate) fn check_non_empty(field: &'static str, value: &str) -> Result<(), AuditError> {
    if value.is_empty() {
        Err(AuditError::InvalidField { field, detail: "must not be empty".to_owned() })
    } else {
        Ok(())
    }
}

/// Requires a usage counter name: non-empty, `[a-z0-9_.-]` only. ASCII keys
/// sort the same by UTF-16 and by code point, so simple verifiers agree.
pub(crate) fn check_counter_name(name: &str) -> Result<(), AuditError> {
    let ok =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AuditError::InvalidField {
            field: "usage",
            detail: format!("counter name {name:?} must be non-empty and use only [a-z0-9_.-]"),
        })
    }
}

/// True when `s` is all lowercase hex digits.
pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_need_prefix_and_64_lowercase_hex() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert!(check_digest("hash", &good).is_ok());
        for bad in [
            "ab".repeat(32),
            format!("sha256:{}", "AB".repeat(32)),
            format!("sha256:{}", "ab".repeat(31)),
            format!("sha512:{}", "ab".repeat(32)),
            format!("sha256:{}g", "a".repeat(63)),
        ] {
            assert!(check_digest("hash", &bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn timestamps_must_be_rfc3339_utc_with_z() {
        for good in ["2026-11-24T22:10:00Z", "2026-11-24T22:10:00.250Z"] {
            assert!(check_utc_timestamp("ts", good).is_ok(), "{good} refused");
        }
        for bad in [
            "2026-11-24T22:10:00+00:00",
            "2026-11-24T23:10:00+01:00",
            "2026-11-24 22:10:00Z",
            "2026-11-24t22:10:00Z",
            "2026-11-24T22:10:00z",
            "2026-13-24T22:10:00Z",
            "yesterday Z",
            "",
        ] {
            assert!(check_utc_timestamp("ts", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn counter_names_are_plain_ascii() {
        assert!(check_counter_name("tool_calls").is_ok());
        for bad in ["", "Tool_calls", "tool calls", "zähler"] {
            assert!(check_counter_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn safe_integer_limit_is_two_pow_53_minus_one() {
        assert!(check_safe_integer("seq", MAX_SAFE_INTEGER).is_ok());
        assert!(check_safe_integer("seq", MAX_SAFE_INTEGER + 1).is_err());
    }
}
