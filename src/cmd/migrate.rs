//! `tollgate migrate`: bring a PostgreSQL database to this binary's schema,
//! and (with `--bootstrap-roles`, as a superuser) create the roles first.
//!
//! Invariant: the URL comes from `TOLLGATE_DATABASE_URL` or the data dir's
//! config, never from the command line (it may carry a password), and is
//! never printed; two instances migrating at once take turns (advisory lock).

use std::path::PathBuf;

use super::CliError;
use crate::config::Config;
use crate::store::datadir::DataDir;
use crate::store::pg_roles::{self, Roles};
use crate::store::{migrations_latest, open_postgres, pg_schema};

/// `tollgate migrate [--data-dir DIR] [--bootstrap-roles] [--print-roles-sql]`.
pub fn migrate(dir: Option<PathBuf>, bootstrap_roles: bool, print_roles_sql: bool) -> Result<(), CliError> {
    let roles = Roles::default();
    if print_roles_sql {
        print!("{}", pg_roles::bootstrap_sql(&roles));
        return Ok(());
    }
    let config = match &dir {
        Some(d) => Config::load(&DataDir::new(d).config())?,
        None => Config::load(std::path::Path::new("/nonexistent/tollgate.toml"))?,
    };
    let url = config.database_url.ok_or_else(|| {
        CliError::Usage(
            "no PostgreSQL database: set TOLLGATE_DATABASE_URL (or database_url in the data dir's tollgate.toml); \
             the embedded SQLite database migrates itself at start"
                .into(),
        )
    })?;
    let db = open_postgres(&url)?;
    if bootstrap_roles {
        pg_roles::bootstrap(&db, &roles)?;
        eprintln!("roles {}, {}, {}, {} are in place", roles.owner, roles.maint, roles.lookup, roles.app);
    }
    let before = pg_schema::version(&db)?;
    pg_schema::migrate(&db)?;
    let after = pg_schema::version(&db)?;
    if before == after {
        println!("schema version {after}: up to date");
    } else {
        println!("schema version {before} -> {after} (this binary: {})", migrations_latest());
    }
    Ok(())
}
