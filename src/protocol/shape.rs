//! The era's shape of a result on its way back: 2026-07-28 results carry
//! `resultType` and the server's identity in `_meta`; 2025 results carry
//! neither, nor the list cache hints.
//!
//! Invariant: the server below returns era-neutral results; only this file
//! adds or strips the era's envelope.

use serde_json::{Value, json};

use crate::wire::{Era, META_SERVER_INFO, SERVER_INFO};

/// Shape an internal result for the era it goes back to.
pub fn finish(era: Era, result: Value) -> Value {
    let mut obj = match result {
        Value::Object(o) => o,
        other => return other,
    };
    match era {
        Era::Modern => {
            obj.entry("resultType").or_insert_with(|| json!("complete"));
            let meta = obj.entry("_meta").or_insert_with(|| json!({}));
            if let Some(m) = meta.as_object_mut() {
                m.insert(META_SERVER_INFO.to_owned(), json!(SERVER_INFO));
            }
        }
        Era::Legacy => {
            for key in ["resultType", "ttlMs", "cacheScope"] {
                obj.remove(key);
            }
        }
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_adds_the_modern_envelope_and_strips_it_for_legacy() {
        let modern = finish(Era::Modern, json!({"tools": [], "ttlMs": 0, "cacheScope": "public"}));
        assert_eq!(modern["resultType"], "complete");
        assert_eq!(modern["_meta"][META_SERVER_INFO]["name"], "tollgate");
        let legacy =
            finish(Era::Legacy, json!({"tools": [], "ttlMs": 0, "cacheScope": "public", "resultType": "complete"}));
        assert_eq!(legacy, json!({"tools": []}));
    }
}
