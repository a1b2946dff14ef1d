//! `tem backup`: a consistent copy of the SQLite database while tem keeps
//! running (SQLite's online backup API), checked before it is reported good.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, Database};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (refused if it exists, unless --force).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let Database::Sqlite(source) = &config.db else {
        anyhow::bail!(
            "tem backup copies a SQLite database; back PostgreSQL up with pg_dump (docs/deploy.md)"
        );
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} pages {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let copied =
        crate::service::backup::sqlite(source, &args.output, args.force, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        });
    bar.finish_and_clear();
    let counts = copied.map_err(|e| match e {
        crate::service::ServiceError::NotFound { .. } => {
            anyhow::anyhow!("there is no database at {}", source.display())
        }
        other => other.into(),
    })?;
    let (stamps, scans, entries) = (counts.stamps, counts.scans, counts.audit_entries);
    println!(
        "backup {}: {stamps} stamps, {scans} scans, {entries} audit entries; integrity ok",
        args.output.display()
    );
    println!(
        "check its audit log any time: tem --db {} audit verify",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
