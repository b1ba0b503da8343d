//! Canonical JSON (RFC 8785, JCS): the byte form that record hashes and
//! checkpoint signatures are computed over.
//! Invariant: equal JSON values give equal bytes, and a value that JCS could
//! not represent exactly (a float, an integer beyond ±(2^53−1)) is refused.

use serde_json::Value;

use super::AuditError;

/// The largest integer an IEEE 754 double holds exactly (2^53 − 1). RFC 8785
/// writes numbers as doubles, so larger magnitudes would be rounded.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Returns the RFC 8785 canonical form of `v`.
///
/// Guarantees: object keys are sorted by UTF-16 code units, there is no
/// insignificant whitespace, strings use the minimal JCS escapes, so the
/// output depends only on the value and not on key order or formatting.
///
/// Refuses (with the JSON path) any floating-point number — including one
/// written as `1.0` or `1e2` — and any integer beyond ±(2^53−1): audit data
/// holds only integers, and those are the ones every verifier (Rust, Python,
/// JavaScript) renders identically.
pub fn canonical_json(v: &Value) -> Result<String, AuditError> {
    check_numbers(v, &mut String::from("$"))?;
    canonical_json_allowing_floats(v)
}

/// RFC 8785 exactly as specified, floats included (written in the shortest
/// ECMAScript form; integers beyond 2^53 are rounded like any double).
///
/// Only for digests of caller data (tool arguments and results), which may
/// legitimately hold floats and never need to be re-hashed by a verifier.
pub(crate) fn canonical_json_allowing_floats(v: &Value) -> Result<String, AuditError> {
    serde_json_canonicalizer::to_string(v).map_err(AuditError::Canonical)
}

/// Walks `v` and refuses numbers that canonical JSON cannot carry exactly.
/// `path` is the JSON path of `v`; it is restored before returning.
fn check_numbers(v: &Value, path: &mut String) -> Result<(), AuditError> {
    match v {
        Value::Number(n) => {
            let safe = if let Some(u) = n.as_u64() {
                u <= MAX_SAFE_INTEGER
            } else if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= MAX_SAFE_INTEGER
            } else {
                return Err(AuditError::Float { path: path.clone(), value: n.to_string() });
            };
            if safe { Ok(()) } else { Err(AuditError::UnsafeInteger { path: path.clone(), value: n.to_string() }) }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let checked = check_numbers(item, path);
                path.truncate(len);
                checked?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                push_key(path, key);
                let checked = check_numbers(item, path);
                path.truncate(len);
                checked?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// Appends `.key` for plain identifiers and `["key"]` (JSON-escaped) otherwise.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_owned()).to_string());
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    #[test]
    fn keys_are_sorted_and_whitespace_removed() {
        let v: Value = serde_json::from_str(r#"{ "b": 2, "a": [1, {"d": null, "c": true}] }"#).unwrap();
        assert_eq!(canonical_json(&v).unwrap(), r#"{"a":[1,{"c":true,"d":null}],"b":2}"#);
    }

    #[test]
    fn rfc8785_sorting_vector_orders_keys_by_utf16_code_units() {
        // RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh",
                "1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canonical_json(&v).unwrap(), expected);
    }

    #[test]
    fn rfc8785_string_escapes_are_minimal() {
        let v = json!(["\u{20ac}$\u{f}\nA'B\"\\\\\"/", "\u{7f}\u{2028}", "\u{8}\t\u{c}\r"]);
        assert_eq!(
            canonical_json(&v).unwrap(),
            "[\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"\u{7f}\u{2028}\",\"\\b\\t\\f\\r\"]"
        );
    }

    #[test]
    fn safe_integers_are_written_as_plain_digits() {
        let v = json!([0, -1, 1_000_000, MAX_SAFE_INTEGER, -(MAX_SAFE_INTEGER as i64)]);
        assert_eq!(canonical_json(&v).unwrap(), "[0,-1,1000000,9007199254740991,-9007199254740991]");
    }

    #[test]
    fn floats_are_refused_with_their_path() {
        let v = json!({"usage": {"tool_calls": 1.5}});
        let err = canonical_json(&v).unwrap_err();
        assert!(matches!(&err, AuditError::Float { path, .. } if path == "$.usage.tool_calls"));
        assert!(err.to_string().contains("floating-point"), "{err}");
    }

    #[test]
    fn integral_looking_floats_are_refused_too() {
        for text in ["1.0", "1e2", "-0.0", "[1, 2.0]", r#"{"a b": [0.5]}"#] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(matches!(canonical_json(&v), Err(AuditError::Float { .. })), "{text} was accepted");
        }
        let v: Value = serde_json::from_str(r#"{"a b": [0.5]}"#).unwrap();
        let err = canonical_json(&v).unwrap_err();
        assert!(matches!(err, AuditError::Float { path, .. } if path == r#"$["a b"][0]"#));
    }

    #[test]
    fn integers_beyond_two_pow_53_are_refused() {
        for n in [json!(MAX_SAFE_INTEGER + 1), json!(u64::MAX), json!(i64::MIN)] {
            assert!(matches!(canonical_json(&n), Err(AuditError::UnsafeInteger { .. })), "{n} was accepted");
        }
    }

    /// JSON values without floats, with integers in the safe range.
    fn arb_value() -> impl Strategy<Value = Value> {
        let max = MAX_SAFE_INTEGER as i64;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-max..=max).prop_map(|n| json!(n)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// The same value with every object's keys inserted in reverse order.
    fn reversed(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, item) in map.iter().rev() {
                    out.insert(k.clone(), reversed(item));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
            other => other.clone(),
        }
    }

    proptest! {
        #[test]
        fn key_order_does_not_change_output(v in arb_value()) {
            let r = reversed(&v);
            prop_assert_eq!(canonical_json(&v).unwrap(), canonical_json(&r).unwrap());
        }

        #[test]
        fn output_reparses_to_an_equal_value_and_is_a_fixed_point(v in arb_value()) {
            let out = canonical_json(&v).unwrap();
            let back: Value = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(canonical_json(&back).unwrap(), out);
        }

        #[test]
        fn any_float_anywhere_is_refused(v in arb_value(), f in -1e9f64..1e9) {
            let wrapped = json!({"x": [v, f]});
            let refused = matches!(canonical_json(&wrapped), Err(AuditError::Float { .. }));
            prop_assert!(refused);
        }
    }
}
