//! What an OAuth token's scopes allow: the scope → role table.
//!
//! Invariants: scopes only narrow the role a binding gave, never widen it
//! or move it sideways; no OAuth principal is a platform admin. (Who a
//! token is, [`super::OAuthSubject`], lives beside the other principals.)

use super::Role;

/// The scopes tollgate defines, each allowing at most one role (the table
/// `docs/security.md` documents). `scopes_supported` publishes them.
pub const SCOPES: [&str; 4] = ["tollgate:read", "tollgate:operate", "tollgate:audit", "tollgate:admin"];

/// The roles a scope allows: `tollgate:admin` any tenant role, `tollgate:operate`
/// operator, `tollgate:audit` auditor, `tollgate:read` viewer; each but admin
/// also allows viewer, the floor every role includes.
pub fn scope_roles(scope: &str) -> &'static [Role] {
    match scope {
        "tollgate:read" => &[Role::Viewer],
        "tollgate:operate" => &[Role::Operator, Role::Viewer],
        "tollgate:audit" => &[Role::Auditor, Role::Viewer],
        "tollgate:admin" => &[Role::TenantAdmin, Role::Operator, Role::Auditor, Role::Viewer],
        _ => &[],
    }
}

/// The scope that allows `role` (what an `insufficient_scope` challenge asks for).
pub fn scope_for(role: Role) -> &'static str {
    match role {
        Role::Viewer => "tollgate:read",
        Role::Operator => "tollgate:operate",
        Role::Auditor => "tollgate:audit",
        Role::TenantAdmin | Role::PlatformAdmin => "tollgate:admin",
    }
}

/// The role a binding's role and a token's scopes allow together: the bound
/// role when a scope allows it, else viewer when a scope allows that, else
/// `None` (no tollgate scope: the token may do nothing here). Never wider
/// than the binding, and never a role the binding does not include.
pub fn effective_role(bound: Role, scopes: &[String]) -> Option<Role> {
    if bound == Role::PlatformAdmin {
        return None;
    }
    let allows = |role: Role| scopes.iter().any(|s| scope_roles(s).contains(&role));
    if allows(bound) {
        Some(bound)
    } else if allows(Role::Viewer) {
        Some(Role::Viewer)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{OAuthSubject, SubjectKind};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn scopes_narrow_a_binding_and_never_widen_it() {
        let every = s(&SCOPES);
        assert_eq!(effective_role(Role::Viewer, &every), Some(Role::Viewer), "a viewer with every scope stays viewer");
        assert_eq!(effective_role(Role::TenantAdmin, &s(&["tollgate:read"])), Some(Role::Viewer));
        assert_eq!(effective_role(Role::TenantAdmin, &s(&["tollgate:operate", "openid"])), Some(Role::Viewer));
        assert_eq!(effective_role(Role::TenantAdmin, &every), Some(Role::TenantAdmin));
        assert_eq!(effective_role(Role::Operator, &s(&["tollgate:admin"])), Some(Role::Operator));
        assert_eq!(effective_role(Role::Operator, &s(&["tollgate:audit"])), Some(Role::Viewer), "not sideways");
        assert_eq!(effective_role(Role::Auditor, &s(&["tollgate:audit"])), Some(Role::Auditor));
        assert_eq!(effective_role(Role::TenantAdmin, &s(&["openid", "profile"])), None, "no tollgate scope: nothing");
        assert_eq!(effective_role(Role::PlatformAdmin, &every), None, "never a platform admin");
    }

    #[test]
    fn users_and_clients_with_one_name_are_different_principals() {
        let user = OAuthSubject {
            issuer_name: "corp".into(),
            issuer: "https://a".into(),
            kind: SubjectKind::User,
            subject: "svc".into(),
            scopes: vec![],
        };
        let client = OAuthSubject { kind: SubjectKind::Client, ..user.clone() };
        assert_ne!(user.principal_id(), client.principal_id());
        assert_eq!(scope_for(Role::Auditor), "tollgate:audit");
    }
}
