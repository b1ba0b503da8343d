//! `tollgate store copy --from DATA_DIR [--to URL]`: move a SQLite
//! deployment into PostgreSQL, as the maintenance role.
//!
//! Invariants: the source must be stopped (its exclusive lock is taken, so a
//! running server refuses the copy and a copy refuses a running server); the
//! target must be migrated and empty; every chain is verified on the target;
//! a password is never taken on the command line (give it in
//! `TOLLGATE_DATABASE_URL`), and no URL is printed.

use std::path::PathBuf;

use super::CliError;
use crate::store::datadir::DataDir;

/// `tollgate store copy`.
pub fn copy(from: Option<PathBuf>, to: Option<String>) -> Result<(), CliError> {
    let from = from.ok_or_else(|| CliError::Usage("no source: pass --from DATA_DIR".into()))?;
    let url = match to {
        Some(u) if has_password(&u) => {
            return Err(CliError::Usage(
                "--to must not carry a password (it would show in `ps` and the shell history); \
                 set TOLLGATE_DATABASE_URL instead"
                    .into(),
            ));
        }
        Some(u) => u,
        None => std::env::var("TOLLGATE_DATABASE_URL")
            .map_err(|_| CliError::Usage("no target: pass --to postgres://… or set TOLLGATE_DATABASE_URL".into()))?,
    };
    let files = DataDir::new(&from);
    files.require_initialized().map_err(|e| CliError::Usage(e.to_string()))?;
    let _lock = crate::store::lock::acquire_exclusive(&from).map_err(|_| {
        CliError::Usage(format!("a tollgate server is running on {}; stop it before copying", from.display()))
    })?;
    let key = crate::audit::SigningKey::load(&files.signing_key()).map_err(|e| CliError::Failed(e.to_string()))?;
    let trusted = crate::store::keyring::trusted_keys(&files, &key)?;
    let src = crate::store::open_read_only(&files.db())?;
    let dst = crate::store::open_postgres(&crate::config::DatabaseUrl::new(url))?;
    let report = crate::store::copy::copy(&src, &dst, &trusted, &mut |table, n| eprintln!("copied {table}: {n} rows"))?;
    for (chain, records) in &report.chains {
        eprintln!("verified chain {chain}: {records} records");
    }
    println!(
        "copied {} rows in {} tables; {} chains verify on PostgreSQL. Next: give each instance a data dir with this \
         audit-signing.key and TOLLGATE_DATABASE_URL as the serving role (docs/operations.md)",
        report.rows.iter().map(|(_, n)| n).sum::<u64>(),
        report.rows.len(),
        report.chains.len()
    );
    Ok(())
}

/// Whether a postgres URL has `user:password@`.
fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split_once('@').is_some_and(|(auth, _)| auth.contains(':'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_the_url_is_spotted() {
        assert!(super::has_password("postgres://maint:secret@db/t"));
        assert!(!super::has_password("postgres://maint@db/t"));
        assert!(!super::has_password("postgres://db:5432/t"));
    }
}
