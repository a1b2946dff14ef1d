//! The `tem` command line: argument parsing and one file per subcommand.
//! Errors are reported as one readable chain on stderr with exit status 2;
//! `tem verify` exits 1 when some code is not genuine.

mod audit;
mod backup;
mod bundle;
mod inspect;
mod keys;
mod migrate;
mod monitor;
mod registry;
mod serve;
mod sheet;
mod stamps;
mod token;
mod triage;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, Database, LogFormat, Overrides};

/// tem — signed QR traceability stamps (tem truy xuất nguồn gốc) for farm and
/// craft products: a registry of producers, products and batches, one
/// ed25519-signed serial per stamp, and verification anyone can run offline.
#[derive(Debug, Parser)]
#[command(name = "tem", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// Database: a SQLite file path (or sqlite:PATH), or a PostgreSQL URL
    /// (postgres://USER:PASSWORD@HOST/DB) for several nodes. Default tem.db.
    #[arg(long, global = true, env = "TEM_DB", value_name = "PATH|URL")]
    db: Option<String>,
    /// Key directory (private keys and keyring.json). Default keys/.
    #[arg(long, global = true, env = "TEM_KEYS", value_name = "DIR")]
    keys: Option<PathBuf>,
    /// Base URL printed in stamps, e.g. https://tem.example.vn
    #[arg(long, global = true, env = "TEM_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
    /// Configuration file. Default tem.toml, if present.
    #[arg(long, global = true, env = "TEM_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web service (API, key set, health check).
    Serve(serve::ServeArgs),
    /// Load the demo producers, products and batches (idempotent).
    Demo,
    /// Manage signing keys: generate, list, rotate, revoke, export.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Producers (chủ thể): add, list.
    #[command(subcommand)]
    Producer(registry::ProducerCommand),
    /// Products (sản phẩm): add, list.
    #[command(subcommand)]
    Product(registry::ProductCommand),
    /// Batches (lô): add, list, show, add stages.
    #[command(subcommand)]
    Batch(registry::BatchCommand),
    /// Issue signed stamps for a batch (all or nothing).
    Issue(stamps::IssueArgs),
    /// Export a batch's stamps as CSV (serial, short code, URL).
    Export(stamps::ExportArgs),
    /// Print a batch's stamps on label sheets (vector PDF, or CSV for print shops).
    Sheet(sheet::SheetArgs),
    /// List the built-in label-sheet layouts.
    Layouts(sheet::LayoutsArgs),
    /// Verify stamp codes offline (URLs, bare codes, photos, with a bundle),
    /// or a whole batch (--batch) into a signed report.
    Verify(verify::VerifyArgs),
    /// Check a signed batch verification report against the public keys.
    VerifyReport(verify::VerifyReportArgs),
    /// Copy the SQLite database while tem runs (online backup), checked.
    Backup(backup::BackupArgs),
    /// Move the registry from SQLite to PostgreSQL (for several nodes),
    /// then check the copy: rows per table and the audit log.
    MigrateData(migrate::MigrateDataArgs),
    /// The offline inspector kit: export a signed bundle, sync offline checks.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Record an inspection of the stamps found in a shop or market (codes,
    /// code files, photos): a verdict per stamp, duplicates, a PDF record.
    Inspect(inspect::InspectArgs),
    /// Mark printed stamps as stuck on packages and released.
    Activate(stamps::RangeArgs),
    /// Withdraw stamps (damaged in printing, lost); they scan as voided.
    Void(stamps::RangeArgs),
    /// Recall a batch (or a range of its stamps) with a notice consumers see.
    Recall(stamps::RecallArgs),
    /// Lift a batch's recalls.
    Lift(stamps::LiftArgs),
    /// The batch report (JSON; --html FILE for a printable page): stamps by
    /// state, scans, suspicious stamps with their history, recalls, reports.
    Report(stamps::ReportArgs),
    /// The tamper-evident audit log: sign its tree head, verify it.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The triage queue: stamps that look copied, consumer reports; resolve them.
    #[command(subcommand)]
    Triage(triage::TriageCommand),
    /// API tokens with a role (admin, producer, inspector): create, list, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

/// Parses the command line, runs the command, and turns errors into a message on stderr and an exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tem: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config_file: cli.global.config.clone(),
        db: cli.global.db.clone(),
        keys: cli.global.keys.clone(),
        base_url: cli.global.base_url.clone(),
        listen: None,
    };
    let is_serve = matches!(cli.command, Command::Serve(_));
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen.clone(),
                ..overrides
            };
            let config = Config::load(&overrides).map_err(anyhow::Error::msg)?;
            init_logging(config.log_format, is_serve);
            serve::run(&config, args)
        }
        command => {
            let config = Config::load(&overrides).map_err(anyhow::Error::msg)?;
            init_logging(config.log_format, is_serve);
            match command {
                Command::Demo => registry::demo(&config),
                Command::Keys(cmd) => keys::run(&config, cmd),
                Command::Producer(cmd) => registry::producer(&config, cmd),
                Command::Product(cmd) => registry::product(&config, cmd),
                Command::Batch(cmd) => registry::batch(&config, cmd),
                Command::Issue(args) => stamps::issue(&config, args),
                Command::Export(args) => stamps::export(&config, args),
                Command::Sheet(args) => sheet::sheet(&config, args),
                Command::Layouts(args) => sheet::layouts(&config, args),
                Command::Verify(args) => verify::run(&config, args),
                Command::VerifyReport(args) => verify::verify_report(&config, args),
                Command::Inspect(args) => inspect::run(&config, args),
                Command::Bundle(cmd) => bundle::run(&config, cmd),
                Command::Backup(args) => backup::run(&config, args),
                Command::MigrateData(args) => migrate::run(&config, args),
                Command::Token(cmd) => token::run(&config, cmd),
                Command::Activate(args) => stamps::activate(&config, args),
                Command::Void(args) => stamps::void(&config, args),
                Command::Recall(args) => stamps::recall(&config, args),
                Command::Lift(args) => stamps::lift(&config, args),
                Command::Report(args) => stamps::report(&config, args),
                Command::Triage(cmd) => triage::run(&config, cmd),
                Command::Audit(cmd) => audit::run(&config, cmd),
                Command::Serve(_) => unreachable!("handled above"),
            }
        }
    }
}

/// The configured database, keys and base URL, for one command.
fn context(config: &Config) -> anyhow::Result<crate::service::Context> {
    let ctx = crate::service::Context::open(
        &config.db,
        config.keys_dir().to_path_buf(),
        config.base_url.clone(),
    );
    ctx.with_context(|| match &config.db {
        Database::Sqlite(path) => format!("opening database {}", path.display()),
        Database::Postgres(url) => format!("opening database {}", crate::config::redacted(url)),
    })
}

/// Logs go to stderr. The service logs requests at info; other commands
/// only warnings, so their output stays clean. RUST_LOG overrides both.
fn init_logging(format: LogFormat, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving {
        "info,refinery_core=warn"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colours only on a terminal: a log file or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Who acts from the command line, for the records: "cli:USER".
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// The command line as someone who acts: everything is allowed (whoever
/// runs it holds the database and the keys anyway), recorded as "cli:USER".
fn cli_as() -> crate::domain::Actor {
    crate::domain::Actor::admin(cli_actor())
}

/// Prints JSON to stdout.
fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A temporary name beside `target` (hidden, with this process's id): files
/// are written there and renamed into place only once complete, so a
/// failure never leaves half a file under the name asked for.
pub(crate) fn temp_path(target: &Path) -> anyhow::Result<PathBuf> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .context("the output path has no file name")?
        .to_string_lossy();
    Ok(dir.join(format!(".{name}.{}.tmp", std::process::id())))
}
