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

#[derive(Subcommand)]
enum Command {
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
    /// Run the main job end to end on a temporary data dir and print a summary.
    Demo,
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
        Command::Init { dir, json } => cli::init(dir.data_dir, json),
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
        Command::Demo => cli::demo(),
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
