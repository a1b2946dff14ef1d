//! `tem backup`: a consistent copy of the SQLite database while tem keeps
//! running (SQLite's online backup API), checked before it is reported good.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rusqlite::{Connection, OpenFlags};

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
    if !source.exists() {
        anyhow::bail!("there is no database at {}", source.display());
    }
    if args.output.exists() && !args.force {
        anyhow::bail!(
            "{} exists; choose another file or pass --force to overwrite it",
            args.output.display()
        );
    }
    let tmp = args.output.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", source.display()))?;
    {
        let mut dst =
            Connection::open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} pages {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // 1,000 pages (4 MB) a step, pausing 10 ms between steps so that
        // writers (scans, issues) are never held up for long.
        loop {
            use rusqlite::backup::StepResult;
            let step = backup.step(1000).context("copying the database")?;
            let p = backup.progress();
            bar.set_length(p.pagecount.max(0) as u64);
            bar.set_position((p.pagecount - p.remaining).max(0) as u64);
            if step == StepResult::Done {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        bar.finish_and_clear();
    }
    // The copy must be a sound database before it replaces anything.
    let copy = Connection::open(&tmp)?;
    let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("the copy failed SQLite's integrity check: {check}");
    }
    let count = |table: &str| -> anyhow::Result<i64> {
        Ok(copy.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?)
    };
    let (stamps, scans, entries) = (count("stamps")?, count("scans")?, count("audit_log")?);
    drop(copy);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Token and session hashes are inside: for the owner only.
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, &args.output)
        .with_context(|| format!("moving the copy to {}", args.output.display()))?;
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
