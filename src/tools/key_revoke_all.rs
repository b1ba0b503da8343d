//! `key.revoke_all`: revoke every active key of the caller's scope, and unbind
//! its client certificates, at once (incident response), after the person
//! behind the client confirms.
//!
//! The confirmation goes through [`crate::tools::ask`]: it names the keys and is
//! bound to exactly that set, so a confirmation given for one set of keys
//! never revokes another (a key issued in between means asking again).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ToolCx;
use super::edition::EditionKind;
use super::keys::scope;
use super::registry::{Annotations, BillingClass, Tool, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::audit::digest_json;
use crate::events::Ending;
use crate::identity::CertFingerprint;
use crate::identity::Role;
use crate::store::{WriteCx, cert_bindings, keys};
use crate::tools::ask::Question;

/// `key.revoke_all` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllInput {
    /// Keep the key making this call (default true), so the caller can go on issuing new keys.
    #[serde(default = "yes")]
    pub keep_caller: bool,
}

fn yes() -> bool {
    true
}

/// What was revoked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RevokeAllOutput {
    /// The revoked keys' ids, sorted.
    pub revoked: Vec<String>,
    /// The fingerprints of the client certificates unbound, sorted.
    #[serde(default)]
    pub unbound: Vec<String>,
    pub revoked_at: String,
}

/// Revokes every active key of the caller's scope, once confirmed.
pub struct RevokeAll;

impl<E: EditionKind> Tool<E> for RevokeAll {
    type Input = RevokeAllInput;
    type Output = RevokeAllOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations { destructive_hint: true, ..Annotations::WRITE },
            roles: &[Role::PlatformAdmin, Role::TenantAdmin],
            tenant_scoped: true,
            // A leak must stay containable whatever the billing state.
            billing: BillingClass::Safety,
            ..ToolSpec::open(
                "key.revoke_all",
                1,
                "Revoke every active key",
                "Revoke every active key of your scope and unbind its client certificates (except, by default, \
                 the caller's own) after you confirm the list. Needs a client that can answer elicitation.",
            )
        }
    }

    fn run(&self, input: RevokeAllInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<RevokeAllOutput, ToolError> {
        let now = cx.clock.now_rfc3339();
        let scope = scope(cx, tx)?;
        let mut targets: Vec<String> = keys::list(tx.conn, scope.as_deref())?
            .into_iter()
            .filter(|k| k.status == "active" && k.expires_at.as_deref().is_none_or(|e| e > now.as_str()))
            .filter(|k| !(input.keep_caller && k.key_id == cx.principal.id))
            .map(|k| k.key_id)
            .collect();
        targets.sort();
        // A stolen certificate must not survive "revoke everything" either.
        let caller_cert = cx.principal.id.strip_prefix("cert:");
        let mut certs: Vec<String> = match scope.as_deref() {
            Some(tenant) => cert_bindings::list(tx.conn, tenant)?
                .into_iter()
                .map(|b| b.fingerprint)
                .filter(|f| !(input.keep_caller && Some(f.as_str()) == caller_cert))
                .collect(),
            None => Vec::new(),
        };
        certs.sort();
        if targets.is_empty() && certs.is_empty() {
            return Ok(RevokeAllOutput { revoked: targets, unbound: certs, revoked_at: now });
        }
        let mut message = format!(
            "Revoke {} active key(s) of {}: {}",
            targets.len(),
            match scope.as_deref() {
                None => "the platform".to_owned(),
                Some(_) if !cx.config.multi_tenant => "this account".to_owned(),
                Some(t) => format!("tenant {t}"),
            },
            targets.join(", ")
        );
        if !certs.is_empty() {
            message.push_str(&format!("; and unbind {} client certificate(s): {}", certs.len(), certs.join(", ")));
        }
        message.push_str("? Requests with them are refused from then on.");
        let bind = json!(digest_json(&json!({"keys": targets, "certificates": certs})).unwrap_or_default());
        let answers = cx.input.ask(vec![("confirm", Question::confirm(message))], bind)?;
        if !answers.get("confirm").is_some_and(crate::tools::ask::Answer::confirmed) {
            return Err(ToolError::new(ToolErrorCode::Declined, "not confirmed: nothing was revoked"));
        }
        for key_id in &targets {
            keys::revoke(tx.conn, key_id, &now)?;
        }
        if let Some(tenant) = scope.as_deref() {
            for fingerprint in &certs {
                cert_bindings::delete(tx.conn, tenant, fingerprint)?;
            }
        }
        // Their open listen streams end with them.
        let ended = targets.iter().cloned().chain(certs.iter().map(|f| CertFingerprint(f.clone()).principal_id()));
        cx.announcements.end_streams(Ending::Principals(ended.collect()));
        Ok(RevokeAllOutput { revoked: targets, unbound: certs, revoked_at: now })
    }
}
