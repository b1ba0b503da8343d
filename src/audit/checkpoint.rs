//! Signed checkpoints: the server's Ed25519 statement "chain C had record
//! `seq` with hash H at time T", which makes truncation and rewriting visible.
//! Invariant: the signature covers exactly the RFC 8785 form of
//! `{type, key_id, chain, seq, hash, ts}`, nothing more and nothing less.

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::canonical::canonical_json;
use super::fields::{check_digest, check_non_empty, check_safe_integer, check_utc_timestamp, is_lower_hex};
use super::{AuditError, PublicKey, SigningKey};

/// The `type` tag of a checkpoint; a closed set of one, so nothing else parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointType {
    /// `"checkpoint"`.
    Checkpoint,
}

/// A signed statement of a chain's head.
///
/// JSON form, in this order: `type` (`"checkpoint"`), `key_id` (16 hex),
/// `chain`, `seq` (0 only for an empty chain, with hash [`super::GENESIS`]),
/// `hash`, `ts` (RFC 3339 UTC), `signature` (128 lowercase hex digits: the
/// 64-byte Ed25519 signature over [`Checkpoint::signing_payload`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`CheckpointType::Checkpoint`].
    #[serde(rename = "type")]
    pub type_: CheckpointType,
    /// [`PublicKey::key_id`] of the signing key.
    pub key_id: String,
    /// The chain signed.
    pub chain: String,
    /// The seq of the record signed.
    pub seq: u64,
    /// That record's hash.
    pub hash: String,
    /// When the checkpoint was made (an export uses record N's `ts`, so a
    /// rebuilt package is byte-identical).
    pub ts: String,
    /// Hex Ed25519 signature.
    pub signature: String,
}

impl Checkpoint {
    /// Signs "`chain` had `hash` at `seq`" with `key`.
    ///
    /// Ed25519 is deterministic, so the same inputs give the same checkpoint.
    pub fn sign(key: &SigningKey, chain: &str, seq: u64, hash: &str, ts: &str) -> Result<Self, AuditError> {
        let mut checkpoint = Checkpoint {
            type_: CheckpointType::Checkpoint,
            key_id: key.key_id(),
            chain: chain.to_owned(),
            seq,
            hash: hash.to_owned(),
            ts: ts.to_owned(),
            signature: String::new(),
        };
        checkpoint.validate_payload()?;
        let payload = checkpoint.signing_payload()?;
        checkpoint.signature = hex::encode(key.sign(payload.as_bytes()).to_bytes());
        Ok(checkpoint)
    }

    /// The exact bytes signed: the canonical JSON of the checkpoint without
    /// `signature`. Independent verifiers rebuild this string.
    pub fn signing_payload(&self) -> Result<String, AuditError> {
        let mut map = self.to_map();
        map.remove("signature");
        canonical_json(&Value::Object(map))
    }

    /// Checks that `key` made this checkpoint over these exact fields.
    ///
    /// Fails with [`AuditError::KeyMismatch`] when the checkpoint names
    /// another key id, and with [`AuditError::BadSignature`] when the
    /// signature (or any signed field) does not verify.
    pub fn verify(&self, key: &PublicKey) -> Result<(), AuditError> {
        let expected = key.key_id();
        if self.key_id != expected {
            return Err(AuditError::KeyMismatch { seq: self.seq, found: self.key_id.clone(), expected });
        }
        let bad = |detail: String| AuditError::BadSignature { seq: self.seq, detail };
        self.validate_payload().map_err(|e| bad(format!("signed fields are ill-formed: {e}")))?;
        let mut raw = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut raw)
            .map_err(|_| bad("signature is not 128 hex digits".to_owned()))?;
        let signature = Signature::from_bytes(&raw);
        key.verify(self.signing_payload()?.as_bytes(), &signature).map_err(bad)
    }

    /// The checkpoint's JSON object, fields in the documented order.
    pub fn to_json(&self) -> Value {
        Value::Object(self.to_map())
    }

    /// Parses a checkpoint strictly (unknown or missing fields, wrong types,
    /// ill-formed hex, digests or timestamps are refused). The signature is
    /// not checked here; call [`Checkpoint::verify`].
    pub fn from_json(v: &Value) -> Result<Self, AuditError> {
        let checkpoint = Checkpoint::deserialize(v).map_err(|e| AuditError::MalformedCheckpoint(e.to_string()))?;
        checkpoint.check_form()?;
        Ok(checkpoint)
    }

    /// Checks the form of every field, signature included (not its validity).
    pub(crate) fn check_form(&self) -> Result<(), AuditError> {
        self.validate_payload()?;
        if self.signature.len() == 128 && is_lower_hex(&self.signature) {
            Ok(())
        } else {
            Err(AuditError::InvalidField { field: "signature", detail: "expected 128 lowercase hex digits".to_owned() })
        }
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), "checkpoint".into());
        m.insert("key_id".into(), self.key_id.clone().into());
        m.insert("chain".into(), self.chain.clone().into());
        m.insert("seq".into(), self.seq.into());
        m.insert("hash".into(), self.hash.clone().into());
        m.insert("ts".into(), self.ts.clone().into());
        m.insert("signature".into(), self.signature.clone().into());
        m
    }

    /// Checks the form of every signed field.
    fn validate_payload(&self) -> Result<(), AuditError> {
        if !(self.key_id.len() == 16 && is_lower_hex(&self.key_id)) {
            return Err(AuditError::InvalidField {
                field: "key_id",
                detail: format!("expected 16 lowercase hex digits, got {:?}", self.key_id),
            });
        }
        check_non_empty("chain", &self.chain)?;
        check_safe_integer("seq", self.seq)?;
        check_digest("hash", &self.hash)?;
        check_utc_timestamp("ts", &self.ts).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::testing::test_key;
    use serde_json::json;

    /// A named edit of a checkpoint or of its JSON.
    type Edit<T> = (&'static str, fn(&mut T));

    /// RFC 8032 §7.1 test 1 seed; public key id 21fe31dfa154a261.
    fn rfc_key() -> SigningKey {
        let mut seed = [0u8; 32];
        hex::decode_to_slice("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", &mut seed).unwrap();
        SigningKey::from_seed(seed)
    }

    fn sample() -> Checkpoint {
        let hash = format!("sha256:{}", "ab".repeat(32));
        Checkpoint::sign(&rfc_key(), "t_acme", 3, &hash, "2026-11-24T22:10:00Z").unwrap()
    }

    #[test]
    fn payload_and_signature_match_an_independent_ed25519_vector() {
        let cp = sample();
        let payload = format!(
            r#"{{"chain":"t_acme","hash":"sha256:{}","key_id":"21fe31dfa154a261","seq":3,"ts":"2026-11-24T22:10:00Z","type":"checkpoint"}}"#,
            "ab".repeat(32)
        );
        assert_eq!(cp.signing_payload().unwrap(), payload);
        // Produced by `openssl pkeyutl -sign -rawin` over `payload` with the RFC 8032 key.
        assert_eq!(
            cp.signature,
            "7b96e10bd28210cac643614d79b8d9510cddb2075b8a2e8d2390ac7c8fdcdb48\
             1ac3d0eaefd3128bb59442838bc8e8289bcd0a8835da64c86742815742c48606"
        );
        cp.verify(&rfc_key().public_key()).unwrap();
    }

    #[test]
    fn json_form_is_fixed_and_round_trips() {
        let cp = sample();
        let v = cp.to_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["type", "key_id", "chain", "seq", "hash", "ts", "signature"]);
        assert_eq!(v["type"], json!("checkpoint"));
        assert_eq!(serde_json::to_value(&cp).unwrap(), v);
        assert_eq!(Checkpoint::from_json(&v).unwrap(), cp);
    }

    #[test]
    fn every_signed_field_is_covered_by_the_signature() {
        let key = rfc_key().public_key();
        let edits: [Edit<Checkpoint>; 5] = [
            ("chain", |c| c.chain.push('x')),
            ("seq", |c| c.seq += 1),
            ("hash", |c| c.hash = format!("sha256:{}", "cd".repeat(32))),
            ("ts", |c| c.ts = "2026-11-24T22:10:01Z".into()),
            ("signature", |c| c.signature.replace_range(0..2, if c.signature.starts_with("00") { "01" } else { "00" })),
        ];
        for (what, edit) in edits {
            let mut cp = sample();
            edit(&mut cp);
            let err = cp.verify(&key).unwrap_err();
            assert!(matches!(err, AuditError::BadSignature { .. }), "{what}: {err}");
        }
    }

    #[test]
    fn another_key_is_a_key_mismatch_and_a_forged_key_id_fails_the_signature() {
        let cp = sample();
        let other = test_key(1);
        let err = cp.verify(&other.public_key()).unwrap_err();
        assert!(matches!(err, AuditError::KeyMismatch { .. }), "{err}");

        let mut forged = Checkpoint::sign(&other, "t_acme", 3, &cp.hash, "2026-11-24T22:10:00Z").unwrap();
        forged.key_id = cp.key_id.clone();
        let err = forged.verify(&rfc_key().public_key()).unwrap_err();
        assert!(matches!(err, AuditError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn strict_parsing_refuses_bad_shapes() {
        let edits: [Edit<Map<String, Value>>; 7] = [
            ("unknown field", |m| {
                m.insert("note".into(), json!(1));
            }),
            ("missing signature", |m| {
                m.remove("signature");
            }),
            ("capitalised type", |m| {
                m.insert("type".into(), json!("Checkpoint"));
            }),
            ("float seq", |m| {
                m.insert("seq".into(), json!(3.0));
            }),
            ("short signature", |m| {
                m.insert("signature".into(), json!("abcd"));
            }),
            ("uppercase key id", |m| {
                m.insert("key_id".into(), json!("21FE31DFA154A261"));
            }),
            ("offset ts", |m| {
                m.insert("ts".into(), json!("2026-11-24T22:10:00+00:00"));
            }),
        ];
        for (what, edit) in edits {
            let mut v = sample().to_json();
            edit(v.as_object_mut().unwrap());
            assert!(Checkpoint::from_json(&v).is_err(), "accepted: {what}");
        }
    }

    #[test]
    fn sign_refuses_ill_formed_fields() {
        let key = rfc_key();
        let hash = format!("sha256:{}", "ab".repeat(32));
        assert!(Checkpoint::sign(&key, "t", 1, "sha256:abc", "2026-11-24T22:10:00Z").is_err());
        assert!(Checkpoint::sign(&key, "t", 1, &hash, "2026-11-24").is_err());
        assert!(Checkpoint::sign(&key, "", 1, &hash, "2026-11-24T22:10:00Z").is_err());
        assert!(Checkpoint::sign(&key, "t", 1 << 60, &hash, "2026-11-24T22:10:00Z").is_err());
    }
}
