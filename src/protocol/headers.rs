//! The 2026-07-28 HTTP header rules: `MCP-Protocol-Version`, `Mcp-Method` and
//! `Mcp-Name` must repeat what the body says.
//!
//! Invariant: a header is compared only after trimming the raw value and
//! decoding the `=?base64?…?=` form; the decoded value is never trimmed and
//! comparison is case-sensitive. Any defect is -32020.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::wire::errors::RpcError;

pub const PROTOCOL_VERSION: &str = "MCP-Protocol-Version";
pub const METHOD: &str = "Mcp-Method";
pub const NAME: &str = "Mcp-Name";

/// One header as the transport found it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HeaderField {
    #[default]
    Absent,
    /// Present but not visible ASCII.
    Invalid,
    Value(String),
}

impl HeaderField {
    /// From raw header bytes.
    pub fn from_bytes(raw: Option<&[u8]>) -> Self {
        match raw {
            None => Self::Absent,
            Some(b) if b.iter().all(|c| (0x20..0x7f).contains(c) || *c == b'\t') => {
                Self::Value(String::from_utf8_lossy(b).into_owned())
            }
            Some(_) => Self::Invalid,
        }
    }
}

/// The MCP headers of one HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct McpHeaders {
    pub protocol_version: HeaderField,
    pub method: HeaderField,
    pub name: HeaderField,
}

/// Check the headers against the body of a request.
pub fn check(headers: &McpHeaders, body_version: &str, method: &str, tool_name: Option<&str>) -> Result<(), RpcError> {
    expect(PROTOCOL_VERSION, &headers.protocol_version, body_version)?;
    expect(METHOD, &headers.method, method)?;
    if method == "tools/call" {
        let body_name = tool_name.ok_or_else(|| RpcError::invalid_params("tools/call needs a string \"name\""))?;
        expect(NAME, &headers.name, body_name)?;
    }
    Ok(())
}

/// Check `MCP-Protocol-Version` alone against the body's `_meta` version.
pub fn check_version(field: &HeaderField, body_version: &str) -> Result<(), RpcError> {
    expect(PROTOCOL_VERSION, field, body_version)
}

fn expect(header: &str, field: &HeaderField, body: &str) -> Result<(), RpcError> {
    let value = match field {
        HeaderField::Absent => return Err(RpcError::header_mismatch(header, "is required")),
        HeaderField::Invalid => {
            return Err(RpcError::header_mismatch(header, "contains illegal characters"));
        }
        HeaderField::Value(v) => decode(header, v)?,
    };
    if value == body {
        Ok(())
    } else {
        Err(RpcError::header_mismatch(header, format!("value {value:?} does not match the body value {body:?}")))
    }
}

/// Trim the raw value, then decode the `=?base64?…?=` form if present.
pub fn decode(header: &str, raw: &str) -> Result<String, RpcError> {
    let trimmed = raw.trim_matches(|c| c == ' ' || c == '\t');
    let Some(encoded) = trimmed.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) else {
        return Ok(trimmed.to_owned());
    };
    let bytes = STANDARD.decode(encoded).map_err(|_| RpcError::header_mismatch(header, "has invalid base64"))?;
    String::from_utf8(bytes).map_err(|_| RpcError::header_mismatch(header, "decodes to invalid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::errors::HEADER_MISMATCH;

    fn v(s: &str) -> HeaderField {
        HeaderField::Value(s.to_owned())
    }

    fn headers(version: HeaderField, method: HeaderField, name: HeaderField) -> McpHeaders {
        McpHeaders { protocol_version: version, method, name }
    }

    #[test]
    fn matching_headers_pass_including_base64_and_surrounding_space() {
        let h = headers(v("2026-07-28"), v(" tools/call "), v("=?base64?SGVsbG8sIOS4lueVjA==?="));
        assert_eq!(check(&h, "2026-07-28", "tools/call", Some("Hello, 世界")), Ok(()));
        let padded = headers(v("2026-07-28"), v("tools/call"), v("=?base64?IHBhZGRlZCA=?="));
        assert_eq!(check(&padded, "2026-07-28", "tools/call", Some(" padded ")), Ok(()));
    }

    #[test]
    fn each_defect_is_a_header_mismatch() {
        let cases = [
            headers(HeaderField::Absent, v("tools/list"), HeaderField::Absent),
            headers(v("2026-07-28"), HeaderField::Absent, HeaderField::Absent),
            headers(v("2026-07-28"), v("tools/List"), HeaderField::Absent),
            headers(v("2026-07-28"), HeaderField::Invalid, HeaderField::Absent),
        ];
        for h in cases {
            assert_eq!(check(&h, "2026-07-28", "tools/list", None).map_err(|e| e.code), Err(HEADER_MISMATCH), "{h:?}");
        }
        for name in [HeaderField::Absent, v("other"), v("=?base64?!!?="), v("=?base64?/w==?="), HeaderField::Invalid] {
            let h = headers(v("2026-07-28"), v("tools/call"), name.clone());
            assert_eq!(
                check(&h, "2026-07-28", "tools/call", Some("whoami")).map_err(|e| e.code),
                Err(HEADER_MISMATCH),
                "{name:?}"
            );
        }
    }
}
