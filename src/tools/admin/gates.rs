//! The release gates the console reports: the published schemas match the
//! committed ones, every chain was verified within the last day, the
//! signing key is readable, the flags are at their documented defaults.
//!
//! Invariant: a gate that cannot be evaluated is reported failing, never
//! passing (fail closed); no gate shows a secret.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use time::Duration;

use super::super::ToolCx;
use super::super::schemas;
use crate::audit::SigningKey;
use crate::config::Flag;
use crate::store::{Db, console};

/// The `schemas/` tree this binary was built from (embedded by `build.rs`).
const COMMITTED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/committed_schemas.rs"));

/// One release gate's state.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Gate {
    /// `schemas_match`, `chains_verified`, `signing_key_readable` or `flags_at_defaults`.
    pub gate: String,
    pub ok: bool,
    /// What was found, for a person.
    pub detail: String,
}

fn gate(name: &str, ok: bool, detail: String) -> Gate {
    Gate { gate: name.to_owned(), ok, detail }
}

/// Every gate, in a stable order.
pub fn evaluate(cx: &ToolCx, conn: &Db) -> Vec<Gate> {
    vec![schemas_match(cx), chains_verified(cx, conn), signing_key_readable(cx), flags_at_defaults(cx)]
}

/// The served tools publish exactly the committed schemas (computed once per
/// process: neither side changes while it runs). A conformance server's
/// fixture tools are not published, so there this gate fails, truthfully.
fn schemas_match(cx: &ToolCx) -> Gate {
    let (ok, detail) = cx.server.schemas_gate.get_or_init(|| compare_schemas(&cx.server.published));
    gate("schemas_match", *ok, detail.clone())
}

/// Compare the served tools' schema documents with the embedded committed ones.
fn compare_schemas(published: &BTreeMap<String, Value>) -> (bool, String) {
    let committed: BTreeMap<String, String> =
        COMMITTED.iter().map(|(f, t)| ((*f).to_owned(), (*t).to_owned())).collect();
    let problems = schemas::check(&committed, published);
    match problems.first() {
        None => (true, format!("{} schema files match the committed ones", committed.len())),
        Some(first) => (false, format!("{} problem(s); first: {first}", problems.len())),
    }
}

/// Every live chain (each tenant's and `_system`) has a valid verification from the last 24 hours.
fn chains_verified(cx: &ToolCx, conn: &Db) -> Gate {
    let since = crate::clock::rfc3339(cx.clock.now() - Duration::days(1));
    match console::chains_verified_since(conn, &since) {
        Err(e) => gate("chains_verified", false, format!("could not be read: {e}")),
        Ok(c) => {
            let mut detail = format!("{} of {} chains verified valid within 24 h", c.verified, c.chains);
            if !c.unverified.is_empty() {
                detail.push_str(&format!("; not: {}", c.unverified.join(", ")));
                if c.chains - c.verified > c.unverified.len() as u64 {
                    detail.push_str(", …");
                }
            }
            gate("chains_verified", c.chains > 0 && c.verified == c.chains, detail)
        }
    }
}

/// The signing key loads, and it is the key the server signs with.
fn signing_key_readable(cx: &ToolCx) -> Gate {
    match SigningKey::load(&cx.server.signing_key_file) {
        Ok(key) if cx.audit_keys.first() == Some(&key.public_key()) => {
            gate("signing_key_readable", true, format!("key {} readable", key.public_key().fingerprint()))
        }
        Ok(_) => gate("signing_key_readable", false, "the key on disk is not the key this server signs with".into()),
        Err(e) => gate("signing_key_readable", false, format!("cannot be loaded: {e}")),
    }
}

/// The flags are at their documented defaults; the changed ones are listed.
fn flags_at_defaults(cx: &ToolCx) -> Gate {
    let changed: Vec<&str> = cx.config.flags().changed().into_iter().map(Flag::key).collect();
    if changed.is_empty() {
        gate("flags_at_defaults", true, "every flag is at its documented default".into())
    } else {
        gate("flags_at_defaults", false, format!("changed: {}", changed.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_schemas_are_the_committed_tree_and_match_the_code() {
        let on_disk =
            schemas::read_dir(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas"))).expect("schemas/");
        let embedded: BTreeMap<String, String> =
            COMMITTED.iter().map(|(f, t)| ((*f).to_owned(), (*t).to_owned())).collect();
        assert_eq!(embedded, on_disk);
        let (ok, detail) = compare_schemas(&schemas::generate(&crate::tools::standard().expect("registry")));
        assert!(ok, "{detail}");
        let mut drifted = schemas::generate(&crate::tools::standard().expect("registry"));
        drifted.remove("multi-tenant/whoami.v1.json");
        let (ok, detail) = compare_schemas(&drifted);
        assert!(!ok && detail.contains("whoami"), "{detail}");
    }
}
