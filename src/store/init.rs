//! `tollgate init`: create a data dir (database, signing key, config
//! template, tenant `default`, the first platform-admin key).
//!
//! Invariants: init refuses an initialized dir; the signing key file is
//! created with mode 0600 and never overwritten; the first platform-admin
//! secret is returned once and only its digest is stored.

use std::path::Path;

use super::checkpointing::StoreOptions;
use super::datadir::DataDir;
use super::error::StoreError;
use super::handle::Store;
use super::{audit_log, keys, tenants};
use crate::audit::{Decision, RecordDraft, SigningKey};
use crate::clock::Clock;
use crate::identity::{Role, TenantId, key_format};

/// What `init` created.
#[derive(Debug, serde::Serialize)]
pub struct InitOutput {
    pub data_dir: String,
    /// The first platform-admin key: shown once.
    pub api_key: String,
    pub key_id: String,
    pub default_tenant: String,
}

/// Create a data dir: database, signing key, config, tenant `default`, first platform-admin key.
pub fn init(root: &Path, clock: Clock) -> Result<InitOutput, StoreError> {
    init_with(root, clock, None)
}

/// [`init`], on PostgreSQL when `database_url` is given: the data dir gets
/// the signing key and config, the (migrated, empty) database the tenant
/// `default` and the first platform-admin key. Run as the maintenance role.
pub fn init_with(
    root: &Path,
    clock: Clock,
    database_url: Option<crate::config::DatabaseUrl>,
) -> Result<InitOutput, StoreError> {
    let dir = DataDir::new(root);
    if dir.db().exists() || dir.signing_key().exists() {
        return Err(StoreError::AlreadyInitialized(root.display().to_string()));
    }
    if let Some(url) = &database_url {
        let db = super::open::open_postgres(url)?;
        super::pg_schema::require_current(&db)?;
        if tenants::get(&db, TenantId::default_tenant().0.as_str())?.is_some() {
            return Err(StoreError::Refused(
                "the PostgreSQL database is already initialized (it has the tenant `default`); to add an instance, \
                 copy the deployment's audit-signing.key into a new data dir instead (docs/operations.md)"
                    .into(),
            ));
        }
    }
    std::fs::create_dir_all(root)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))?;
    }
    if database_url.is_none() {
        drop(super::open::create_database(&dir.db())?);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.db(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    SigningKey::generate()?.write_new(&dir.signing_key())?;
    if !dir.config().exists() {
        std::fs::write(dir.config(), crate::config::TEMPLATE)?;
    }
    let options = StoreOptions { maintenance: database_url.is_some(), database_url, ..StoreOptions::default() };
    let store = Store::open(root, clock.clone(), options)?;
    let issued = key_format::generate();
    let key_id = issued.key_id.0.clone();
    let digest = issued.secret_digest.clone();
    let now = clock.now_rfc3339();
    let tenant = TenantId::default_tenant();
    let tenant_id = tenant.0.clone();
    store.write_blocking(move |cx| {
        tenants::insert(
            cx.conn,
            &tenants::TenantRow {
                id: tenant_id.clone(),
                slug: "default".into(),
                display_name: "Default tenant".into(),
                plan: "free".into(),
                status: "active".into(),
                created_at: now.clone(),
            },
        )?;
        keys::insert(
            cx.conn,
            &keys::KeyRow {
                key_id: key_id.clone(),
                tenant_id: None,
                role: Role::PlatformAdmin.as_str().into(),
                label: "initial platform admin".into(),
                secret_digest: digest,
                status: "active".into(),
                created_at: now.clone(),
                expires_at: None,
                revoked_at: None,
                replaced_by: None,
            },
        )?;
        let draft = RecordDraft {
            ts: now,
            request_id: "init".into(),
            principal: "local".into(),
            tenant: crate::audit::SYSTEM_CHAIN.into(),
            tool: Some("init".into()),
            version: None,
            decision: Decision::Allow,
            reason: None,
            args_digest: None,
            result_digest: None,
            usage: serde_json::Map::new(),
            transport: "cli".into(),
            aggregate: None,
        };
        audit_log::append(cx, crate::audit::SYSTEM_CHAIN, draft)?;
        Ok(())
    })?;
    store.shutdown();
    Ok(InitOutput {
        data_dir: root.display().to_string(),
        api_key: issued.token,
        key_id: issued.key_id.0,
        default_tenant: tenant.0,
    })
}
