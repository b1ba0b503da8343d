//! The `tollgate` command line: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tollgate::cmd::audit::Pin;
use tollgate::cmd::{self as cli, ServeArgs};

#[derive(Parser)]
#[command(name = "tollgate", version, about = "Multi-tenant MCP tool server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataDirArg {
    /// The data dir (database, signing key, config).
    #[arg(long, env = "TOLLGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Accept client certificates issued by this CA (PEM): mTLS identity.
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Refuse clients without a certificate from --client-ca (a TLS alert, no HTTP answer).
    #[arg(long, requires = "client_ca")]
    require_client_cert: bool,
}

impl TlsArgs {
    fn settings(self) -> Option<tollgate::transport::tls::TlsSettings> {
        let (cert, key) = (self.tls_cert?, self.tls_key?);
        Some(tollgate::transport::tls::TlsSettings {
            cert,
            key,
            client_ca: self.client_ca,
            require_client_cert: self.require_client_cert,
        })
    }
}

/// How `call` and `tools` reach the server and who they act as. A credential
/// is only ever named by an environment variable, never given on the command line.
#[derive(Args)]
struct ConnectArgs {
    /// The server's MCP endpoint (default http://127.0.0.1:8787/mcp).
    #[arg(long, conflicts_with = "stdio")]
    url: Option<String>,
    /// Start `tollgate stdio` on --data-dir (or TOLLGATE_DATA_DIR) and speak to it instead.
    #[arg(long)]
    stdio: bool,
    /// The data dir for --stdio.
    #[arg(long, env = "TOLLGATE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// With --stdio and no key: act as the platform admin at this terminal.
    #[arg(long, requires = "stdio")]
    local_admin: bool,
    /// Read the API key from this environment variable (default: TOLLGATE_API_KEY).
    #[arg(long, value_name = "VAR", conflicts_with = "bearer_env")]
    api_key_env: Option<String>,
    /// Read an OAuth access token from this environment variable (HTTP only).
    #[arg(long, value_name = "VAR")]
    bearer_env: Option<String>,
    /// HTTPS: trust only this CA certificate (PEM) instead of the system's roots.
    #[arg(long, value_name = "PEM")]
    ca: Option<PathBuf>,
    /// HTTPS: present this client certificate (PEM), for mTLS.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The private key of --client-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Speak the 2025-11-25 protocol (initialize handshake) instead of 2026-07-28.
    #[arg(long)]
    legacy: bool,
    /// Print one JSON document on stdout (the result, or {"error": …}).
    #[arg(long)]
    json: bool,
}

impl ConnectArgs {
    fn connect(self) -> (cli::call::Connect, bool) {
        let connect = cli::call::Connect {
            url: self.url,
            stdio: self.stdio,
            data_dir: self.data_dir,
            local_admin: self.local_admin,
            api_key_env: self.api_key_env,
            bearer_env: self.bearer_env,
            ca: self.ca,
            client_cert: self.client_cert,
            client_key: self.client_key,
            legacy: self.legacy,
        };
        (connect, self.json)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Call one tool and print its result. Exit: 0 ok, 1 tool failed, 2 usage, 3 refused, 4 a question
    /// that could not be asked (stdin is not a terminal), 5 no answer.
    Call {
        /// The tool's name (`name` or `name.vN`).
        tool: String,
        /// The arguments, a JSON object.
        #[arg(long, conflicts_with = "args_file")]
        args: Option<String>,
        /// Read the arguments from this file.
        #[arg(long, value_name = "FILE")]
        args_file: Option<PathBuf>,
        /// Make the call idempotent under this key (a retry returns the first result).
        #[arg(long, value_name = "K")]
        idempotency_key: Option<String>,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// List the tools the caller may use, with versions and one-line descriptions (exit codes as `call`).
    Tools {
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Create a data dir: database, signing key, config, tenant `default`, first platform-admin key.
    Init {
        #[command(flatten)]
        dir: DataDirArg,
        /// Print {"data_dir": …, "api_key": …} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve Streamable HTTP at /mcp.
    Serve {
        #[command(flatten)]
        dir: DataDirArg,
        /// Address to listen on; port 0 picks a free port (printed on stderr).
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Also accept this Host/Origin name (repeatable); loopback names are always accepted.
        #[arg(long = "allowed-host")]
        allowed_hosts: Vec<String>,
        /// Conformance mode: fixture tools, and requests without credentials act as the local admin (loopback only).
        #[arg(long, hide = true)]
        conformance: bool,
        /// Tests only: read the current time from this file (loopback only).
        #[arg(long, hide = true)]
        clock_file: Option<PathBuf>,
        #[command(flatten)]
        tls: TlsArgs,
        /// Serve Prometheus `/metrics` on this separate address (bare flag: 127.0.0.1:9464).
        #[arg(long, num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
        metrics_listen: Option<SocketAddr>,
        /// Accept OAuth access tokens from this issuer (replaces `[oauth] issuers` with this one).
        #[arg(long, requires = "oauth_resource")]
        oauth_issuer: Option<String>,
        /// This server's canonical resource URI, e.g. https://mcp.example.com/mcp (tokens' `aud`).
        #[arg(long)]
        oauth_resource: Option<String>,
    },
    /// Serve newline-delimited JSON-RPC on stdin/stdout, acting with the key in TOLLGATE_API_KEY.
    Stdio {
        #[command(flatten)]
        dir: DataDirArg,
        /// Act as the platform admin at this terminal (principal `local`) when no key is given.
        #[arg(long)]
        local_admin: bool,
        /// Conformance mode: fixture tools; acts as the local admin without a key.
        #[arg(long, hide = true)]
        conformance: bool,
        /// Tests only: read the current time from this file.
        #[arg(long, hide = true)]
        clock_file: Option<PathBuf>,
    },
    /// Bring a PostgreSQL database (TOLLGATE_DATABASE_URL) to this binary's schema, as the maintenance role.
    Migrate {
        #[command(flatten)]
        dir: DataDirArg,
        /// First create the roles (tollgate_owner, tollgate_maint, tollgate_lookup, tollgate_app); needs a superuser.
        #[arg(long)]
        bootstrap_roles: bool,
        /// Print the SQL that creates the roles and exit (to run it yourself).
        #[arg(long)]
        print_roles_sql: bool,
    },
    /// Move a stopped SQLite data dir's data into PostgreSQL (as the maintenance role); every chain is verified after.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Offline audit tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write or check the published tool schemas.
    Schemas {
        /// Write one file per tool version into this directory.
        #[arg(long, conflicts_with = "check")]
        out: Option<PathBuf>,
        /// Fail if `--dir` differs from the code or breaks a published version.
        #[arg(long)]
        check: bool,
        /// Directory checked by `--check`.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
    /// Write a consistent backup of a data dir while its server runs (SQLite; file mode 0600).
    Backup {
        #[command(flatten)]
        dir: DataDirArg,
        /// The backup file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Include the audit signing key, sealed under the passphrase in --passphrase-env.
        #[arg(long, requires = "passphrase_env")]
        include_signing_key: bool,
        /// The environment variable holding the passphrase (at least 12 characters).
        #[arg(long, value_name = "VAR", requires = "include_signing_key")]
        passphrase_env: Option<String>,
    },
    /// Restore a backup into a new, empty data dir; its chains are verified first.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The new data dir (must not exist, or be empty).
        #[arg(long)]
        data_dir: PathBuf,
        /// The environment variable holding the passphrase of a sealed signing key.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// Trust the backup only if its signing key has this fingerprint.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Create a data dir filled with realistic tenants, keys, calls, a reached quota and an export.
    Seed {
        #[command(flatten)]
        dir: DataDirArg,
        /// The same seed gives the same tenants, plans and call history (keys are always random).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the summary (with the keys) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the main job end to end on a temporary data dir and print a summary; exit 1 if a step misbehaves.
    Demo {
        /// Keep the data dir here (a new or empty directory) instead of removing it.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Print a machine-readable summary, step by step.
        #[arg(long)]
        json: bool,
    },
    /// Write, print or check the tool reference (docs/tools.md), generated from the code.
    Docs {
        /// Write the reference to this file.
        #[arg(long, conflicts_with = "check")]
        out: Option<PathBuf>,
        /// Fail if `--file` differs from what the code generates.
        #[arg(long)]
        check: bool,
        /// File checked by `--check`.
        #[arg(long, default_value = "docs/tools.md")]
        file: PathBuf,
    },
    /// Measure governed calls per second (1 and N concurrent clients) on a temporary data dir.
    Bench {
        /// Calls per measurement.
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        /// Concurrent clients to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,32")]
        clients: Vec<usize>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy --from DATA_DIR into the PostgreSQL database --to (or TOLLGATE_DATABASE_URL), migrated and empty.
    Copy {
        /// The stopped SQLite data dir.
        #[arg(long)]
        from: Option<PathBuf>,
        /// postgres://USER@HOST/DB (no password here: use TOLLGATE_DATABASE_URL for one).
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify audit chains (--data-dir) or an audit package (PATH: directory or .tar); exit 0 valid, 1 invalid, 2 usage error.
    Verify {
        /// An audit package directory or .tar to verify (needs --pubkey, --fingerprint or --trust-embedded-key).
        path: Option<PathBuf>,
        #[command(flatten)]
        dir: DataDirArg,
        /// Only this tenant (id or slug) or `_system`.
        #[arg(long)]
        tenant: Option<String>,
        /// Trust this public key (hex, as `tollgate audit pubkey` prints it); repeat to trust several (key rotation).
        #[arg(long)]
        pubkey: Vec<String>,
        /// Trust the data dir's (or the package's) key with this fingerprint; repeatable.
        #[arg(long)]
        fingerprint: Vec<String>,
        /// Packages only: trust the key embedded in the package (integrity only, not origin; reported loudly).
        #[arg(long, conflicts_with_all = ["pubkey", "fingerprint"])]
        trust_embedded_key: bool,
    },
    /// Build a tenant's audit package offline (refused while a server holds the data dir).
    Export {
        #[command(flatten)]
        dir: DataDirArg,
        /// The tenant (id or slug).
        #[arg(long)]
        tenant: String,
        /// Directory to create (its .tar is written as OUT.tar), or a path ending in .tar.
        #[arg(long)]
        out: PathBuf,
        /// First seq (default 1).
        #[arg(long)]
        from_seq: Option<u64>,
        /// Last seq (default: the chain's last record).
        #[arg(long)]
        to_seq: Option<u64>,
    },
    /// Print the audit signing public key and its fingerprint.
    Pubkey {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Replace the audit signing key (offline; refused while a server runs): seals every chain with the old key,
    /// keeps the old public key in the keyring, prints the new key.
    RotateKey {
        #[command(flatten)]
        dir: DataDirArg,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    cli::init_logging();
    let result = match cli.command {
        Command::Call { tool, args, args_file, idempotency_key, connect } => {
            let (connect, json) = connect.connect();
            let args = match (args, args_file) {
                (Some(a), _) => cli::call::ArgsSource::Inline(a),
                (None, Some(f)) => cli::call::ArgsSource::File(f),
                (None, None) => cli::call::ArgsSource::None,
            };
            let request = cli::call::CallRequest { tool, args, idempotency_key };
            return ExitCode::from(cli::client(&connect, Some(&request), json));
        }
        Command::Tools { connect } => {
            let (connect, json) = connect.connect();
            return ExitCode::from(cli::client(&connect, None, json));
        }
        Command::Init { dir, json } => cli::init(dir.data_dir, json),
        Command::Store { command: StoreCommand::Copy { from, to } } => tollgate::cmd::store_copy::copy(from, to),
        Command::Migrate { dir, bootstrap_roles, print_roles_sql } => {
            tollgate::cmd::migrate::migrate(dir.data_dir, bootstrap_roles, print_roles_sql)
        }
        Command::Serve {
            dir,
            listen,
            allowed_hosts,
            conformance,
            clock_file,
            tls,
            metrics_listen,
            oauth_issuer,
            oauth_resource,
        } => cli::serve(ServeArgs {
            data_dir: dir.data_dir,
            listen,
            allowed_hosts,
            conformance,
            clock_file,
            tls: tls.settings(),
            metrics_listen,
            oauth_issuer,
            oauth_resource,
        }),
        Command::Stdio { dir, local_admin, conformance, clock_file } => {
            // The key comes from the environment only: a flag would show it in `ps`.
            let api_key = std::env::var("TOLLGATE_API_KEY").ok();
            cli::stdio(dir.data_dir, api_key, local_admin, conformance, clock_file)
        }
        Command::Audit {
            command: AuditCommand::Verify { path: Some(path), dir, tenant, pubkey, fingerprint, trust_embedded_key },
        } => {
            if dir.data_dir.is_some() && std::env::var_os("TOLLGATE_DATA_DIR").is_none() || tenant.is_some() {
                Err(cli::CliError::Usage("a package PATH is verified on its own: drop --data-dir and --tenant".into()))
            } else {
                cli::verify_package(
                    &path,
                    tollgate::cmd::export::PinArgs {
                        pubkeys: pubkey,
                        fingerprints: fingerprint,
                        trust_embedded: trust_embedded_key,
                    },
                )
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { path: None, dir, tenant, pubkey, fingerprint, trust_embedded_key },
        } => {
            if trust_embedded_key {
                return finish(Err(cli::CliError::Usage("--trust-embedded-key is for packages (give a PATH)".into())));
            }
            let pin = if pubkey.is_empty() && fingerprint.is_empty() {
                Pin::DataDirKey
            } else {
                Pin::Pinned { pubkeys: pubkey, fingerprints: fingerprint }
            };
            cli::audit_verify(dir.data_dir, tenant, pin)
        }
        Command::Audit { command: AuditCommand::Pubkey { dir } } => cli::audit_pubkey(dir.data_dir),
        Command::Audit { command: AuditCommand::RotateKey { dir } } => cli::audit_rotate_key(dir.data_dir),
        Command::Audit { command: AuditCommand::Export { dir, tenant, out, from_seq, to_seq } } => {
            cli::audit_export(tollgate::cmd::export::ExportArgs {
                data_dir: dir.data_dir,
                tenant,
                out,
                from_seq,
                to_seq,
            })
        }
        Command::Schemas { out: Some(dir), .. } => cli::schemas_write(&dir),
        Command::Schemas { check: true, dir, .. } => cli::schemas_check(&dir),
        Command::Schemas { .. } => cli::schemas_print(),
        Command::Backup { dir, out, include_signing_key: _, passphrase_env } => {
            cli::backup(dir.data_dir, out, passphrase_env)
        }
        Command::Restore { file, data_dir, passphrase_env, fingerprint } => {
            cli::restore(tollgate::cmd::backup::RestoreArgs { file, data_dir, passphrase_env, fingerprint })
        }
        Command::Seed { dir, seed, json } => cli::seed(dir.data_dir, seed, json),
        Command::Demo { keep, json } => cli::demo(keep, json),
        Command::Docs { out: Some(file), .. } => tollgate::cmd::docs::write(&file),
        Command::Docs { check: true, file, .. } => tollgate::cmd::docs::check(&file),
        Command::Docs { .. } => tollgate::cmd::docs::print(),
        Command::Bench { calls, clients } => cli::bench(calls, &clients),
    };
    finish(result)
}

fn finish(result: Result<(), cli::CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
