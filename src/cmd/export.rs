//! `tollgate audit verify PATH` (a package directory or `.tar`) and
//! `tollgate audit export` (build a package offline).
//!
//! Invariants: verification trusts only a pinned key unless told
//! `--trust-embedded-key`, which it says loudly; exit 0 valid, 1 invalid
//! (an unreadable package included), 2 usage error. The offline export holds
//! the data dir exclusively, and is audited and metered like the tool.

use std::path::{Path, PathBuf};

use serde_json::{Map, json};

use crate::audit::{Decision, PublicKey, RecordDraft, SigningKey, digest_json};
use crate::billing::Counter;
use crate::clock::Clock;
use crate::cmd::CliError;
use crate::identity::TenantId;
use crate::package::build::{ExportRange, build_package};
use crate::package::tree::{read_any, write_dir};
use crate::package::verify::{Trust, verify_tree};
use crate::store::billing::{UsageEvent, record_usage};
use crate::store::datadir::DataDir;
use crate::store::{Store, StoreOptions, audit_log, lock};

/// How the user asked to pin trust.
pub struct PinArgs {
    /// `--pubkey`, repeatable.
    pub pubkeys: Vec<String>,
    /// `--fingerprint`, repeatable.
    pub fingerprints: Vec<String>,
    /// `--trust-embedded-key`.
    pub trust_embedded: bool,
}

/// Checks a `--fingerprint` value's form: `sha256:` and 64 hex digits.
pub fn check_fingerprint(f: &str) -> Result<(), CliError> {
    let ok = f.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "--fingerprint {f:?} is not a fingerprint; pass sha256:<64 hex> as `tollgate audit pubkey` prints it"
        )))
    }
}

/// Parses every `--pubkey` value.
pub fn parse_pubkeys(hexes: &[String]) -> Result<Vec<PublicKey>, CliError> {
    hexes.iter().map(|h| PublicKey::from_hex(h).map_err(|e| CliError::Usage(format!("--pubkey: {e}")))).collect()
}

fn trust_of(pin: PinArgs) -> Result<Trust, CliError> {
    let pinned = !pin.pubkeys.is_empty() || !pin.fingerprints.is_empty();
    match (pinned, pin.trust_embedded) {
        (true, false) => {
            pin.fingerprints.iter().try_for_each(|f| check_fingerprint(f))?;
            Ok(Trust::Pinned { keys: parse_pubkeys(&pin.pubkeys)?, fingerprints: pin.fingerprints })
        }
        (false, true) => Ok(Trust::Embedded),
        (false, false) => Err(CliError::Usage(
            "a package proves nothing without a trusted key: pass --pubkey HEX or --fingerprint sha256:HEX \
             (from `tollgate audit pubkey` on the server, obtained out of band; repeat them to trust the keys \
             of a rotation), or --trust-embedded-key to check integrity only"
                .into(),
        )),
        (true, true) => {
            Err(CliError::Usage("--trust-embedded-key cannot be combined with --pubkey or --fingerprint".into()))
        }
    }
}

/// `tollgate audit verify PATH`.
pub fn verify_package(path: &Path, pin: PinArgs) -> Result<(), CliError> {
    let trust = trust_of(pin)?;
    if matches!(trust, Trust::Embedded) {
        eprintln!(
            "WARNING: --trust-embedded-key: trusting the key inside the package itself. This proves the files \
             agree with each other, NOT that tollgate's server signed them: anyone can rewrite a package and \
             sign it with their own key. Pin the server's key with --pubkey or --fingerprint."
        );
    }
    let tree = match read_any(path) {
        Ok(t) => t,
        Err(e) => {
            println!("INVALID {}: the package cannot be read: {e} [unreadable]", path.display());
            return Err(CliError::Invalid(format!("package {} is unreadable: {e}", path.display())));
        }
    };
    match verify_tree(&tree, &trust) {
        Ok(r) => {
            println!(
                "ok      package {} ({}): records {} to {} ({} records), {} checkpoints, {} files; signed by {}{}",
                r.tenant,
                r.slug,
                r.range.0,
                r.range.1,
                r.records,
                r.checkpoints,
                r.files,
                r.fingerprint,
                if r.pinned { " (pinned)" } else { " (EMBEDDED KEY, NOT PINNED)" }
            );
            Ok(())
        }
        Err(problem) => {
            println!("INVALID {}: {problem} [{}]", path.display(), problem.code());
            Err(CliError::Invalid(format!("package is invalid: {problem}")))
        }
    }
}

/// `tollgate audit export` arguments.
pub struct ExportArgs {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--tenant` (id or slug).
    pub tenant: String,
    /// `--out`: a directory to create (the `.tar` goes next to it as `OUT.tar`),
    /// or a path ending in `.tar` (archive only).
    pub out: PathBuf,
    /// `--from-seq`.
    pub from_seq: Option<u64>,
    /// `--to-seq`.
    pub to_seq: Option<u64>,
}

/// `tollgate audit export --data-dir DIR --tenant T --out PATH`.
pub fn audit_export(args: ExportArgs) -> Result<(), CliError> {
    let dir = args
        .data_dir
        .ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    // On PostgreSQL (TOLLGATE_DATABASE_URL as the maintenance role) the data
    // dir holds the signing key only; the export's records go through the
    // same deployment-wide writer lock as every instance's.
    let database_url = crate::config::Config::load(&DataDir::new(&dir).config())?.database_url;
    let ready = match database_url {
        Some(_) => DataDir::new(&dir).require_signing_key(),
        None => DataDir::new(&dir).require_initialized(),
    };
    ready.map_err(|e| CliError::Usage(e.to_string()))?;
    if args.out.exists() {
        return Err(CliError::Usage(format!("{} already exists; choose a new --out path", args.out.display())));
    }
    let tar_only = args.out.extension().is_some_and(|e| e == "tar");
    let tar_path = if tar_only { args.out.clone() } else { PathBuf::from(format!("{}.tar", args.out.display())) };
    if tar_path.exists() {
        return Err(CliError::Usage(format!("{} already exists; choose a new --out path", tar_path.display())));
    }
    let _lock = lock::acquire_exclusive(&dir).map_err(|e| CliError::Failed(e.to_string()))?;
    let key = SigningKey::load(&DataDir::new(&dir).signing_key()).map_err(|e| CliError::Failed(e.to_string()))?;
    let retired = crate::store::keyring::trusted_keys(&DataDir::new(&dir), &key)?;
    let tenant = if args.tenant.starts_with("tn_") { args.tenant.clone() } else { TenantId::for_slug(&args.tenant).0 };
    let clock = Clock::system();
    let maintenance = database_url.is_some();
    let store =
        Store::open(&dir, clock.clone(), StoreOptions { database_url, maintenance, ..StoreOptions::default() })?;
    let range = ExportRange { from_seq: args.from_seq, to_seq: args.to_seq };
    let built = store.read(|conn| {
        conn.set_scope(Some(&tenant))?;
        Ok(build_package(conn, &tenant, range, &key, &retired))
    });
    let built = match built? {
        Ok(b) => b,
        Err(crate::package::BuildError::NoSuchTenant) => {
            store.shutdown();
            return Err(CliError::Usage(format!(
                "no tenant {:?} in this data dir (give its id or its slug)",
                args.tenant
            )));
        }
        Err(e) => {
            store.shutdown();
            return Err(CliError::Failed(format!("cannot build the package: {e}")));
        }
    };
    if !tar_only {
        write_dir(&built.tree, &args.out).map_err(|e| CliError::Failed(e.to_string()))?;
    }
    std::fs::write(&tar_path, &built.tar)?;
    let manifest_digest =
        crate::audit::digest(built.tree.get(crate::package::paths::MANIFEST).map(Vec::as_slice).unwrap_or_default());
    let args_v = json!({"tenant_id": tenant, "from_seq": args.from_seq, "to_seq": args.to_seq});
    let result_v = json!({"manifest_sha256": manifest_digest});
    // A deleted tenant's chain is sealed: its export is recorded on the platform's chain and ledger.
    let sealed = store
        .read(|c| {
            c.set_scope(Some(&tenant))?;
            crate::store::lifecycle::tombstone(c, &tenant)
        })?
        .is_some();
    let (chain, ledger) = if sealed {
        (crate::audit::SYSTEM_CHAIN.to_owned(), crate::server::call::PLATFORM_LEDGER.to_owned())
    } else {
        (tenant.clone(), tenant.clone())
    };
    let (at, request_id) = (clock.now_rfc3339(), crate::audit::new_request_id());
    store.write_blocking(move |w| {
        w.conn.set_scope(Some(&ledger))?;
        record_usage(
            w.conn,
            &UsageEvent {
                tenant: &ledger,
                counter: Counter::AuditExports.as_str(),
                quantity: 1,
                idempotency_key: None,
                request_id: &request_id,
                tool: "audit.export_package",
                at: &at,
            },
        )?;
        let mut usage = Map::new();
        usage.insert(Counter::AuditExports.as_str().into(), json!(1));
        let draft = RecordDraft {
            ts: at.clone(),
            request_id: request_id.clone(),
            principal: "local".into(),
            tenant: chain.clone(),
            tool: Some("audit.export_package".into()),
            version: None,
            decision: Decision::Allow,
            reason: None,
            args_digest: digest_json(&args_v).ok(),
            result_digest: digest_json(&result_v).ok(),
            usage,
            transport: "cli".into(),
            aggregate: None,
        };
        audit_log::append(w, &chain, draft).map(|_| ())
    })?;
    store.shutdown();
    let m = &built.manifest;
    if !tar_only {
        println!("wrote {}", args.out.display());
    }
    println!("wrote {} ({} bytes)", tar_path.display(), built.tar.len());
    println!(
        "package of {} ({}): records {} to {}, {} checkpoints; manifest {}",
        m.tenant.id, m.tenant.slug, m.range.from_seq, m.range.to_seq, m.checkpoint_count, manifest_digest
    );
    println!(
        "verify: tollgate audit verify {} --fingerprint {}",
        if tar_only { tar_path.display() } else { args.out.display() },
        // A package spanning a key rotation needs every key that signed it pinned.
        m.public_keys.iter().flatten().map(|k| k.fingerprint.as_str()).collect::<Vec<_>>().join(" --fingerprint ")
    );
    Ok(())
}
