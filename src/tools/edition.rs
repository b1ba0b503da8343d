//! Editions: the multi-tenant and the single-tenant product (the
//! `multi_tenant` switch) are an axis of a tool, apart from its version.
//!
//! Invariants: a tool is declared once, and its version number changes only
//! with a breaking change of one edition's contract; what differs between
//! editions is supplied here — how roles are written and the optional
//! `tenant_id` of a tenant-scoped tool — or by the declaration's wording for
//! each edition. The single-tenant edition has no `tenant_id` and no tenant
//! wording.

use serde_json::{Map, Value, json};

use crate::identity::{AccountRole, Role, RoleWire};

/// Which product a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edition {
    /// `multi_tenant = true`: tenants, tenant management, tenant wording.
    MultiTenant,
    /// `multi_tenant = false`: one account (the tenant `default`), no tenant wording.
    SingleTenant,
}

impl Edition {
    /// Both editions, in a stable order.
    pub const ALL: [Edition; 2] = [Edition::MultiTenant, Edition::SingleTenant];

    /// The edition a server with this `multi_tenant` setting serves.
    pub fn of(multi_tenant: bool) -> Self {
        if multi_tenant { Edition::MultiTenant } else { Edition::SingleTenant }
    }

    /// The stable name, as in `schemas/<edition>/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::MultiTenant => "multi-tenant",
            Edition::SingleTenant => "single-tenant",
        }
    }
}

/// In which editions a tool exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Editions {
    Both,
    /// Tenant management: only where there are tenants.
    MultiTenantOnly,
}

impl Editions {
    /// Whether a tool with these editions exists in `edition`.
    pub fn includes(self, edition: Edition) -> bool {
        matches!((self, edition), (Editions::Both, _) | (Editions::MultiTenantOnly, Edition::MultiTenant))
    }
}

/// An edition as a type, for declarations whose types depend on it (roles).
pub trait EditionKind: Send + Sync + 'static {
    const EDITION: Edition;
    /// How roles are written in this edition.
    type Role: RoleWire;

    /// `multi` in the multi-tenant edition, `single` in the single-tenant one
    /// (a description with and without tenant wording).
    fn says(multi: &'static str, single: &'static str) -> &'static str {
        match Self::EDITION {
            Edition::MultiTenant => multi,
            Edition::SingleTenant => single,
        }
    }
}

/// The multi-tenant edition.
pub struct Multi;

/// The single-tenant edition.
pub struct Single;

impl EditionKind for Multi {
    const EDITION: Edition = Edition::MultiTenant;
    type Role = Role;
}

impl EditionKind for Single {
    const EDITION: Edition = Edition::SingleTenant;
    type Role = AccountRole;
}

/// The argument that names a tenant (multi-tenant edition only).
pub const TENANT_ARG: &str = "tenant_id";

/// The schema of the optional `tenant_id` a tenant-scoped tool takes in the
/// multi-tenant edition.
fn tenant_arg() -> Value {
    json!({
        "type": ["string", "null"],
        "description": "The tenant to act on; your own by default. A platform admin may name any tenant, anyone else only its own.",
    })
}

/// A declaration's input schema as `edition` publishes it, and whether the
/// optional `tenant_id` was added to it (the handler then takes it out again
/// before the typed input is read: the gate bound the tenant from it).
pub fn input_schema(mut schema: Value, edition: Edition, tenant_scoped: bool) -> (Value, bool) {
    let declares = takes_tenant_id(&schema);
    if edition != Edition::MultiTenant || !tenant_scoped || declares {
        return (schema, false);
    }
    let Some(root) = schema.as_object_mut() else { return (schema, false) };
    let properties = root.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    match properties.as_object_mut() {
        Some(p) => {
            p.insert(TENANT_ARG.to_owned(), tenant_arg());
            (schema, true)
        }
        None => (schema, false),
    }
}

/// Whether an input schema has a `tenant_id` property.
pub fn takes_tenant_id(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|p| p.contains_key(TENANT_ARG))
}

/// Arguments as the typed input reads them: without the added `tenant_id`.
pub fn without_tenant_arg(mut arguments: Value, added: bool) -> Value {
    if added && let Some(args) = arguments.as_object_mut() {
        args.remove(TENANT_ARG);
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Value {
        json!({"type": "object", "additionalProperties": false})
    }

    #[test]
    fn only_the_multi_tenant_edition_of_a_tenant_scoped_tool_gets_a_tenant_id() {
        let (multi, added) = input_schema(none(), Edition::MultiTenant, true);
        assert!(added && takes_tenant_id(&multi), "{multi}");
        assert!(multi.get("required").is_none(), "tenant_id is optional: {multi}");
        let (single, added) = input_schema(none(), Edition::SingleTenant, true);
        assert!(!added && !takes_tenant_id(&single), "{single}");
        let (unscoped, added) = input_schema(none(), Edition::MultiTenant, false);
        assert!(!added && !takes_tenant_id(&unscoped), "{unscoped}");
    }

    #[test]
    fn a_declared_tenant_id_is_kept_as_declared() {
        let declared =
            json!({"type": "object", "properties": {"tenant_id": {"type": "string"}}, "required": ["tenant_id"]});
        let (schema, added) = input_schema(declared.clone(), Edition::MultiTenant, true);
        assert_eq!((schema, added), (declared, false));
    }

    #[test]
    fn the_added_tenant_id_is_taken_out_before_the_input_is_read() {
        let args = json!({"tenant_id": "tn_1", "period": "2026-01"});
        assert_eq!(without_tenant_arg(args.clone(), true), json!({"period": "2026-01"}));
        assert_eq!(without_tenant_arg(args.clone(), false), args);
    }

    #[test]
    fn editions_say_where_a_tool_exists() {
        assert!(Editions::Both.includes(Edition::SingleTenant));
        assert!(!Editions::MultiTenantOnly.includes(Edition::SingleTenant));
        assert_eq!(Edition::of(false), Edition::SingleTenant);
        assert_eq!(Single::says("tenant", "account"), "account");
    }
}
