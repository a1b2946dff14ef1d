//! `tem migrate-data`: moves a registry from SQLite to PostgreSQL, then
//! checks the copy: the same rows in every table, and an audit log that
//! verifies on its own and has the same root as the source's.

use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::audit::merkle;
use crate::codes::KeyRing;
use crate::config::{Config, Database};
use crate::service::audit;
use crate::store::AuditStore as _;
use crate::store::{PgStore, SqliteStore, Store, migrate};

#[derive(Debug, clap::Args)]
pub struct MigrateDataArgs {
    /// The SQLite database to copy (sqlite:PATH or a path). It stays as it
    /// is; tem may keep serving from it while it is copied.
    #[arg(long, value_name = "sqlite:PATH")]
    from: String,
    /// The PostgreSQL database to fill: postgres://USER:PASSWORD@HOST/DB.
    /// It must be empty, unless --force.
    #[arg(long, value_name = "postgres://…")]
    to: String,
    /// Replace everything the target database holds.
    #[arg(long)]
    force: bool,
}

pub fn run(config: &Config, args: MigrateDataArgs) -> anyhow::Result<ExitCode> {
    let Database::Sqlite(source) = Database::parse(&args.from).map_err(anyhow::Error::msg)? else {
        anyhow::bail!("--from must name a SQLite database (sqlite:PATH or a file path)");
    };
    let Database::Postgres(target) = Database::parse(&args.to).map_err(anyhow::Error::msg)? else {
        anyhow::bail!("--to must be a PostgreSQL URL (postgres://USER:PASSWORD@HOST/DB)");
    };
    // Head signatures are checked against this service's keys.
    let keys = KeyRing::open(config.keys_dir())
        .context("the audit log's signed heads are checked with the key directory (--keys)")?
        .key_set();

    let started = std::time::Instant::now();
    let bar = ProgressBar::new(migrate::TABLES.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} tables {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let copied = migrate::sqlite_to_postgres(&source, &target, args.force, &mut |table, n| {
        bar.set_message(format!("{table}: {n} rows"));
        bar.inc(1);
    })?;
    bar.finish_and_clear();

    // Check the copy as it now stands in PostgreSQL.
    let src = SqliteStore::open(&source)?;
    let dst = PgStore::open(&target)?;
    let mut problems = Vec::new();
    let src_counts = src.table_counts()?;
    let dst_counts = dst.table_counts()?;
    println!("{:<20} {:>12} {:>12}", "table", "SQLite", "PostgreSQL");
    for ((table, a), (_, b)) in src_counts.iter().zip(&dst_counts) {
        println!("{table:<20} {a:>12} {b:>12}");
        if a != b {
            problems.push(format!("{table}: {a} rows in SQLite, {b} in PostgreSQL"));
        }
    }
    let checked = audit::verify(&dst, &keys, Vec::new())?;
    problems.extend(checked.findings.iter().map(|f| format!("audit log: {f}")));
    let size = dst.audit_size()?;
    let root = |s: &dyn Store| -> anyhow::Result<merkle::Hash> {
        let mut s = s;
        Ok(merkle::range_hash(&mut s, 0, size)?)
    };
    if src.audit_size()? != size || root(&src)? != root(&dst)? {
        problems.push("audit log: the copy's tree differs from the source's".into());
    }
    if !problems.is_empty() {
        for p in &problems {
            println!("FAIL {p}");
        }
        anyhow::bail!("the copy in PostgreSQL does not match the source; do not switch to it");
    }
    println!(
        "copied {} rows in {:.1} s; the audit log's {} entries verify ({} signed heads) with the source's root",
        copied.rows(),
        started.elapsed().as_secs_f64(),
        size,
        checked.heads_checked
    );
    println!(
        "next: point every node at it (db = \"{}\" in tem.toml)",
        crate::config::redacted(&target)
    );
    Ok(ExitCode::SUCCESS)
}
