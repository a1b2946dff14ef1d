//! `tem migrate-data`: moves a registry from SQLite to PostgreSQL, then
//! checks the copy: the same rows in every table, and an audit log that
//! verifies on its own and has the same root as the source's.

use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::codes::KeyRing;
use crate::config::{Config, Database};
use crate::service::migrate_data;

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
    let bar = ProgressBar::new(migrate_data::TABLES.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} tables {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let migration =
        migrate_data::sqlite_to_postgres(&source, &target, args.force, &keys, &mut |table, n| {
            bar.set_message(format!("{table}: {n} rows"));
            bar.inc(1);
        });
    bar.finish_and_clear();
    let migration = migration?;
    println!("{:<20} {:>12} {:>12}", "table", "SQLite", "PostgreSQL");
    for (table, a, b) in &migration.counts {
        println!("{table:<20} {a:>12} {b:>12}");
    }
    let problems = &migration.problems;
    if !problems.is_empty() {
        for p in problems {
            println!("FAIL {p}");
        }
        anyhow::bail!("the copy in PostgreSQL does not match the source; do not switch to it");
    }
    println!(
        "copied {} rows in {:.1} s; the audit log's {} entries verify ({} signed heads) with the source's root",
        migration.rows,
        started.elapsed().as_secs_f64(),
        migration.audit_size,
        migration.heads_checked
    );
    println!(
        "next: point every node at it (db = \"{}\" in tem.toml)",
        crate::config::redacted(&target)
    );
    Ok(ExitCode::SUCCESS)
}
