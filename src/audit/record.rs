//! Audit records: what the server decided about one request (or one window of
//! flood denials), sealed into a hash chain.
//! Invariant: a record's `hash` is sha256 over the RFC 8785 form of the record
//! without `hash`, and its JSON always has the same fixed set of fields.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::AuditError;
use super::canonical::{MAX_SAFE_INTEGER, canonical_json, canonical_json_allowing_floats};
use super::fields::{
    DIGEST_PREFIX, check_counter_name, check_digest, check_non_empty, check_safe_integer, check_utc_timestamp,
};

/// `prev` of the first record (seq 1) of every chain: `sha256:` and 64 zeros.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The chain (and tenant) of platform events and failed authentication.
pub const SYSTEM_CHAIN: &str = "_system";

/// The gate's verdict on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The call was admitted.
    Allow,
    /// The call was refused; the record's `reason` says why.
    Deny,
}

impl Decision {
    /// The wire spelling, `"allow"` or `"deny"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// The window of an aggregated flood denial: `count` identical denials
/// between `window_start` and `window_end` (RFC 3339 UTC, start ≤ end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// How many denials the record stands for (at least 1).
    pub count: u64,
    /// When the window opened.
    pub window_start: String,
    /// When the window closed.
    pub window_end: String,
}

/// Everything the server knows about a decision; `seal` adds the chain
/// position and hashes. Never put secrets or raw arguments here, only digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDraft {
    /// RFC 3339 UTC with `Z`, seconds or milliseconds, kept as given.
    pub ts: String,
    /// The request's id, for correlation with logs.
    pub request_id: String,
    /// Key id, certificate fingerprint, `local` or `anonymous`; never a secret.
    pub principal: String,
    /// Tenant id, or `_system`.
    pub tenant: String,
    /// The tool called, when resolution got that far.
    pub tool: Option<String>,
    /// The tool version, when resolved.
    pub version: Option<u32>,
    /// Allow or deny.
    pub decision: Decision,
    /// Stable machine reason, e.g. `tenant_mismatch`.
    pub reason: Option<String>,
    /// [`digest_json`] of the arguments.
    pub args_digest: Option<String>,
    /// [`digest_json`] of the result.
    pub result_digest: Option<String>,
    /// Counter name → non-negative integer quantity; may be empty.
    pub usage: Map<String, Value>,
    /// `stdio`, `http`, `https` or `cli`.
    pub transport: String,
    /// Set only for aggregated flood denials.
    pub aggregate: Option<Aggregate>,
}

/// A sealed audit record: a [`RecordDraft`] placed at `seq` in `chain` and
/// linked to its predecessor by `prev`.
///
/// JSON form: the fields in the order of DESIGN.md; optional fields are
/// written as `null` rather than omitted, so every record has the same keys
/// and a verifier never has to guess whether a missing key was cut. `count`,
/// `window_start` and `window_end` appear (all three, never null) only on
/// aggregated records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The chain: a tenant id or `_system`.
    pub chain: String,
    /// Position in the chain, gapless from 1.
    pub seq: u64,
    /// See [`RecordDraft::ts`].
    pub ts: String,
    /// See [`RecordDraft::request_id`].
    pub request_id: String,
    /// See [`RecordDraft::principal`].
    pub principal: String,
    /// See [`RecordDraft::tenant`].
    pub tenant: String,
    /// See [`RecordDraft::tool`].
    pub tool: Option<String>,
    /// See [`RecordDraft::version`].
    pub version: Option<u32>,
    /// See [`RecordDraft::decision`].
    pub decision: Decision,
    /// See [`RecordDraft::reason`].
    pub reason: Option<String>,
    /// See [`RecordDraft::args_digest`].
    pub args_digest: Option<String>,
    /// See [`RecordDraft::result_digest`].
    pub result_digest: Option<String>,
    /// See [`RecordDraft::usage`].
    pub usage: Map<String, Value>,
    /// See [`RecordDraft::transport`].
    pub transport: String,
    /// See [`RecordDraft::aggregate`].
    pub aggregate: Option<Aggregate>,
    /// `hash` of the record at `seq - 1`, or [`GENESIS`] for seq 1.
    pub prev: String,
    /// `sha256:` hex of the canonical JSON of this record without `hash`.
    pub hash: String,
}

impl AuditRecord {
    /// Places `draft` at `seq` of `chain` after the record whose hash is
    /// `prev` (pass [`GENESIS`] for seq 1) and computes `hash`.
    ///
    /// Fails if any field has the wrong form (timestamp, digest, counter,
    /// integer range), so a sealed record always re-parses and re-hashes.
    pub fn seal(chain: &str, seq: u64, prev: &str, draft: RecordDraft) -> Result<Self, AuditError> {
        let mut record = AuditRecord {
            chain: chain.to_owned(),
            seq,
            ts: draft.ts,
            request_id: draft.request_id,
            principal: draft.principal,
            tenant: draft.tenant,
            tool: draft.tool,
            version: draft.version,
            decision: draft.decision,
            reason: draft.reason,
            args_digest: draft.args_digest,
            result_digest: draft.result_digest,
            usage: draft.usage,
            transport: draft.transport,
            aggregate: draft.aggregate,
            prev: prev.to_owned(),
            hash: String::new(),
        };
        record.validate_body()?;
        record.hash = record.expected_hash()?;
        Ok(record)
    }

    /// The draft this record was sealed from.
    pub fn draft(&self) -> RecordDraft {
        RecordDraft {
            ts: self.ts.clone(),
            request_id: self.request_id.clone(),
            principal: self.principal.clone(),
            tenant: self.tenant.clone(),
            tool: self.tool.clone(),
            version: self.version,
            decision: self.decision,
            reason: self.reason.clone(),
            args_digest: self.args_digest.clone(),
            result_digest: self.result_digest.clone(),
            usage: self.usage.clone(),
            transport: self.transport.clone(),
            aggregate: self.aggregate.clone(),
        }
    }

    /// The hash this record's content calls for; equal to `hash` unless the
    /// record was altered after sealing.
    pub fn expected_hash(&self) -> Result<String, AuditError> {
        Ok(digest(canonical_json(&Value::Object(self.body()))?.as_bytes()))
    }

    /// The record's JSON object (fixed field set; see the type's docs).
    pub fn to_json(&self) -> Value {
        let mut map = self.body();
        map.insert("hash".into(), self.hash.clone().into());
        Value::Object(map)
    }

    /// Parses a record strictly: unknown, missing or duplicate fields, nulls
    /// where a value is required and ill-formed values are all refused. The
    /// hash is not checked here; that is [`crate::audit::verify_chain`]'s job.
    pub fn from_json(v: &Value) -> Result<Self, AuditError> {
        let wire = RecordWire::deserialize(v).map_err(|e| AuditError::MalformedRecord(e.to_string()))?;
        AuditRecord::try_from(wire)
    }

    /// The record without `hash`, in the documented field order.
    fn body(&self) -> Map<String, Value> {
        fn opt<T: Into<Value> + Clone>(o: &Option<T>) -> Value {
            o.clone().map_or(Value::Null, Into::into)
        }
        let mut m = Map::new();
        m.insert("chain".into(), self.chain.clone().into());
        m.insert("seq".into(), self.seq.into());
        m.insert("ts".into(), self.ts.clone().into());
        m.insert("request_id".into(), self.request_id.clone().into());
        m.insert("principal".into(), self.principal.clone().into());
        m.insert("tenant".into(), self.tenant.clone().into());
        m.insert("tool".into(), opt(&self.tool));
        m.insert("version".into(), opt(&self.version));
        m.insert("decision".into(), self.decision.as_str().into());
        m.insert("reason".into(), opt(&self.reason));
        m.insert("args_digest".into(), opt(&self.args_digest));
        m.insert("result_digest".into(), opt(&self.result_digest));
        m.insert("usage".into(), Value::Object(self.usage.clone()));
        m.insert("transport".into(), self.transport.clone().into());
        if let Some(agg) = &self.aggregate {
            m.insert("count".into(), agg.count.into());
            m.insert("window_start".into(), agg.window_start.clone().into());
            m.insert("window_end".into(), agg.window_end.clone().into());
        }
        m.insert("prev".into(), self.prev.clone().into());
        m
    }

    /// Checks every field but `hash`.
    fn validate_body(&self) -> Result<(), AuditError> {
        check_non_empty("chain", &self.chain)?;
        if self.seq == 0 {
            return Err(AuditError::InvalidField { field: "seq", detail: "chains start at seq 1".to_owned() });
        }
        check_safe_integer("seq", self.seq)?;
        check_utc_timestamp("ts", &self.ts)?;
        check_non_empty("principal", &self.principal)?;
        check_non_empty("tenant", &self.tenant)?;
        check_non_empty("transport", &self.transport)?;
        if let Some(d) = &self.args_digest {
            check_digest("args_digest", d)?;
        }
        if let Some(d) = &self.result_digest {
            check_digest("result_digest", d)?;
        }
        for (name, quantity) in &self.usage {
            check_counter_name(name)?;
            if quantity.as_u64().is_none_or(|q| q > MAX_SAFE_INTEGER) {
                return Err(AuditError::InvalidField {
                    field: "usage",
                    detail: format!("counter {name:?} must be a non-negative integer, got {quantity}"),
                });
            }
        }
        if let Some(agg) = &self.aggregate {
            if agg.count == 0 {
                return Err(AuditError::InvalidField {
                    field: "count",
                    detail: "an aggregate stands for at least one denial".to_owned(),
                });
            }
            check_safe_integer("count", agg.count)?;
            let start = check_utc_timestamp("window_start", &agg.window_start)?;
            let end = check_utc_timestamp("window_end", &agg.window_end)?;
            if start > end {
                return Err(AuditError::InvalidField {
                    field: "window_end",
                    detail: format!("window ends ({}) before it starts", agg.window_end),
                });
            }
        }
        check_digest("prev", &self.prev)
    }
}

impl Serialize for AuditRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AuditRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = RecordWire::deserialize(deserializer)?;
        AuditRecord::try_from(wire).map_err(serde::de::Error::custom)
    }
}

/// The record's JSON shape, for strict parsing only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordWire {
    chain: String,
    seq: u64,
    ts: String,
    request_id: String,
    principal: String,
    tenant: String,
    #[serde(deserialize_with = "present")]
    tool: Option<String>,
    #[serde(deserialize_with = "present")]
    version: Option<u32>,
    decision: Decision,
    #[serde(deserialize_with = "present")]
    reason: Option<String>,
    #[serde(deserialize_with = "present")]
    args_digest: Option<String>,
    #[serde(deserialize_with = "present")]
    result_digest: Option<String>,
    usage: Map<String, Value>,
    transport: String,
    #[serde(default, deserialize_with = "non_null")]
    count: Option<u64>,
    #[serde(default, deserialize_with = "non_null")]
    window_start: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    window_end: Option<String>,
    prev: String,
    hash: String,
}

/// A nullable field that must still be present (serde would default it).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// A field that may be absent but, when present, is not null.
fn non_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl TryFrom<RecordWire> for AuditRecord {
    type Error = AuditError;

    fn try_from(w: RecordWire) -> Result<Self, AuditError> {
        let aggregate = match (w.count, w.window_start, w.window_end) {
            (Some(count), Some(window_start), Some(window_end)) => Some(Aggregate { count, window_start, window_end }),
            (None, None, None) => None,
            _ => {
                return Err(AuditError::MalformedRecord(
                    "`count`, `window_start` and `window_end` go together: all or none".to_owned(),
                ));
            }
        };
        let record = AuditRecord {
            chain: w.chain,
            seq: w.seq,
            ts: w.ts,
            request_id: w.request_id,
            principal: w.principal,
            tenant: w.tenant,
            tool: w.tool,
            version: w.version,
            decision: w.decision,
            reason: w.reason,
            args_digest: w.args_digest,
            result_digest: w.result_digest,
            usage: w.usage,
            transport: w.transport,
            aggregate,
            prev: w.prev,
            hash: w.hash,
        };
        record.validate_body()?;
        check_digest("hash", &record.hash)?;
        Ok(record)
    }
}

/// `sha256:<hex>` of `bytes`: the digest format used throughout the log.
pub fn digest(bytes: &[u8]) -> String {
    format!("{DIGEST_PREFIX}{}", hex::encode(Sha256::digest(bytes)))
}

/// [`digest`] of the RFC 8785 form of `v`, for `args_digest` and
/// `result_digest`: equal values digest alike whatever their key order.
///
/// Unlike [`canonical_json`], floats are accepted: arguments and results are
/// caller data, and refusing `0.5` in an argument would make the call
/// unauditable. RFC 8785 treats numbers as doubles, so `1` and `1.0` digest
/// alike, as do integers that differ only beyond 2^53.
pub fn digest_json(v: &Value) -> Result<String, AuditError> {
    Ok(digest(canonical_json_allowing_floats(v)?.as_bytes()))
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
