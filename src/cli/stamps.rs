//! `tem issue` and `tem export`: issue signed stamps, write them as CSV.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::codes::StampCode;
use crate::config::Config;
use crate::domain::BatchId;
use crate::service::stamp_export::{self, Columns, PrintRows};
use crate::service::{epcis, issue, registry};

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// Batch id (see `tem batch list`).
    #[arg(long)]
    batch: u32,
    /// How many stamps, 1 to 1,000,000.
    #[arg(long)]
    count: u64,
    /// Give each stamp a claim code for a scratch-off panel: the buyer's
    /// secret that catches copied stamps for certain.
    #[arg(long)]
    claim_codes: bool,
    /// Print the stamps' URLs as GS1 Digital Link URIs with the product's
    /// GTIN and the stamp's serial (`/01/{gtin}/21/{serial}?s=…`), so GS1
    /// scanners read them too; the symbol is larger (version 8 instead of 6).
    #[arg(long)]
    gs1: bool,
    /// Also write the new stamps to this CSV file (serial, short_code, url…).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long)]
    batch: u32,
    /// First stamp number in the batch (default 1).
    #[arg(long, default_value_t = 1)]
    from: u32,
    /// How many stamps (default: all from --from on).
    #[arg(long)]
    count: Option<u32>,
    /// Output CSV file (serial, short code, URL per stamp); `-` for standard output.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "epcis",
        conflicts_with = "epcis"
    )]
    csv: Option<PathBuf>,
    /// Instead: the batch's lifecycle events as a GS1 EPCIS 2.0 JSON-LD
    /// document (commissioning, printing, activation, voids, recalls); `-` for
    /// standard output.
    #[arg(long, value_name = "FILE")]
    epcis: Option<PathBuf>,
}

/// A file written under a temporary name and moved into place only on
/// success, so a failed or killed run never leaves a partial file under the
/// real name.
struct FileOut {
    tmp: PathBuf,
    target: PathBuf,
}

impl FileOut {
    fn create(target: &Path) -> anyhow::Result<(FileOut, BufWriter<File>)> {
        let tmp = super::temp_path(target)?;
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let out = FileOut {
            tmp,
            target: target.to_path_buf(),
        };
        Ok((out, BufWriter::new(file)))
    }

    fn finish(self, written: BufWriter<File>) -> anyhow::Result<()> {
        let file = written
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.target.display()))?;
        file.sync_all()?;
        std::fs::rename(&self.tmp, &self.target)
            .with_context(|| format!("moving the file to {}", self.target.display()))
    }

    fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

pub fn issue(config: &Config, args: IssueArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    let keys = ctx.keys()?;
    let batch = registry::batch(store, BatchId(args.batch))?;
    let product = registry::product(store, batch.product_id)?;
    let count = issue::validate_count(args.count)?;
    // The same ring object goes to the service, so this is the key that signs.
    let kid = keys.signer()?.kid();

    let bar = ProgressBar::new(u64::from(count));
    bar.set_style(
        ProgressStyle::with_template("{spinner} signing and storing [{bar:30}] {human_pos}/{human_len} stamps ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut csv = match args.csv.as_deref() {
        Some(path) => {
            let (file, out) = FileOut::create(path)?;
            let form = issue::stamp_form(store, &batch, args.gs1)?;
            Some((file, PrintRows::new(out, &config.base_url, form)?))
        }
        None => None,
    };
    let mut on_written = |stamps: &[(u32, StampCode)]| -> Result<(), String> {
        if let Some((_, rows)) = csv.as_mut() {
            for (seq, code) in stamps {
                rows.row(&kid, *seq, code).map_err(|e| e.to_string())?;
            }
        }
        bar.inc(stamps.len() as u64);
        Ok(())
    };
    let result = issue::issue(
        store,
        &keys,
        &config.base_url,
        issue::Order {
            batch: batch.id,
            count: u64::from(count),
            claim_codes: args.claim_codes,
            gs1: args.gs1,
        },
        &super::cli_as(),
        &mut on_written,
    );
    bar.finish_and_clear();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if let Some((file, _)) = csv {
                file.discard();
            }
            return Err(e.into());
        }
    };
    if let Some((file, rows)) = csv {
        file.finish(rows.finish()?)?;
    }
    let r = &summary.receipt;
    let secs = summary.elapsed.as_secs_f64();
    println!(
        "issued {} stamps for batch {} (lot {}, {}), numbers {}–{}",
        r.count, r.batch, batch.lot_code, product.name, r.first_seq, r.last_seq
    );
    println!(
        "signed by key {}; QR version {} at level M ({}×{} modules) with base URL {}",
        summary.kid,
        summary.qr_version,
        17 + 4 * summary.qr_version,
        17 + 4 * summary.qr_version,
        config.base_url
    );
    println!(
        "issuance {} took {:.2} s ({:.0} stamps/s)",
        r.issuance,
        secs,
        f64::from(r.count) / secs.max(1e-9)
    );
    if let Some(path) = &args.csv {
        println!("CSV written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the EPCIS document to a temporary file moved into place at the
/// end (or to standard output).
fn export_epcis(
    ctx: &crate::service::Context,
    batch: BatchId,
    path: &Path,
) -> anyhow::Result<ExitCode> {
    let write = |out: &mut dyn Write| epcis::write(ctx.store(), batch, ctx.base_url(), out);
    if path.as_os_str() == "-" {
        let mut out = BufWriter::new(std::io::stdout().lock());
        write(&mut out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let (file, mut out) = FileOut::create(path)?;
    match write(&mut out) {
        Ok(events) => {
            file.finish(out)?;
            eprintln!(
                "{events} events of batch {batch} written to {}",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            drop(out);
            file.discard();
            Err(e.into())
        }
    }
}

pub fn export(config: &Config, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let batch = registry::batch(ctx.store(), BatchId(args.batch))?;
    if let Some(path) = &args.epcis {
        return export_epcis(&ctx, batch.id, path);
    }
    let path = args.csv.clone().unwrap_or_else(|| PathBuf::from("-"));
    let range = (args.from.max(1), args.count.unwrap_or(u32::MAX));
    let write = |out: &mut dyn Write, on_page: &mut dyn FnMut(u64)| {
        stamp_export::write(
            ctx.store(),
            ctx.base_url(),
            batch.id,
            range,
            Columns::Print,
            out,
            on_page,
        )
    };
    if path.as_os_str() == "-" {
        let mut out = BufWriter::new(std::io::stdout().lock());
        write(&mut out, &mut |_| {})?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let after_from = batch.stamps.total.saturating_sub(u64::from(range.0 - 1));
    let bar = ProgressBar::new(after_from.min(u64::from(range.1)));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} exporting [{bar:30}] {human_pos}/{human_len} stamps",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let (file, mut out) = FileOut::create(&path)?;
    let written = write(&mut out, &mut |n| bar.inc(n));
    bar.finish_and_clear();
    match written {
        Ok(written) => {
            file.finish(out)?;
            eprintln!(
                "wrote {written} stamps of batch {} to {}",
                batch.id,
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            drop(out);
            file.discard();
            Err(e.into())
        }
    }
}

/// `tem activate`, `tem void`, `tem recall`, `tem lift`: the stamp lifecycle.
#[derive(Debug, clap::Args)]
pub struct RangeArgs {
    #[arg(long)]
    batch: u32,
    /// First stamp number.
    #[arg(long)]
    from: u32,
    /// How many stamps.
    #[arg(long)]
    count: u32,
    /// Why (required for void).
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RecallArgs {
    #[arg(long)]
    batch: u32,
    /// Only stamps from..from+count−1 (with --count); the whole batch when absent.
    #[arg(long, requires = "count")]
    from: Option<u32>,
    #[arg(long, requires = "from")]
    count: Option<u32>,
    /// Why, for the record.
    #[arg(long)]
    reason: String,
    /// What consumers see on their next scan.
    #[arg(long)]
    notice: String,
}

#[derive(Debug, clap::Args)]
pub struct LiftArgs {
    #[arg(long)]
    batch: u32,
    #[arg(long)]
    reason: String,
}

pub fn activate(config: &Config, args: RangeArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    let n = crate::service::lifecycle::activate(
        store,
        BatchId(args.batch),
        args.from,
        args.count,
        &super::cli_as(),
    )?;
    println!("{n} stamps activated");
    Ok(ExitCode::SUCCESS)
}

pub fn void(config: &Config, args: RangeArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    let reason = args
        .reason
        .as_deref()
        .context("--reason: say why the stamps are voided (e.g. \"in hỏng\")")?;
    let n = crate::service::lifecycle::void(
        store,
        BatchId(args.batch),
        args.from,
        args.count,
        reason,
        &super::cli_as(),
    )?;
    println!("{n} stamps voided");
    Ok(ExitCode::SUCCESS)
}

pub fn recall(config: &Config, args: RecallArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    let range = args.from.zip(args.count);
    crate::service::lifecycle::recall(
        store,
        BatchId(args.batch),
        range,
        &args.reason,
        &args.notice,
        &super::cli_as(),
    )?;
    println!(
        "batch {} recalled; consumers see the notice on their next scan",
        args.batch
    );
    Ok(ExitCode::SUCCESS)
}

pub fn lift(config: &Config, args: LiftArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    let n = crate::service::lifecycle::lift(
        store,
        BatchId(args.batch),
        &args.reason,
        &super::cli_as(),
    )?;
    println!("{n} recall(s) of batch {} lifted", args.batch);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(long)]
    batch: u32,
    /// Also write the printable HTML report.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Also write the report as a PDF file (A4), to print or file.
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
}

/// `tem report --batch ID`: the batch report as JSON on standard output.
pub fn report(config: &Config, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    let report = crate::service::report::batch(
        store,
        &crate::domain::Grant::admin(),
        BatchId(args.batch),
        &config.scan.rules(),
    )?;
    if let Some(path) = &args.html {
        let page = crate::render::report::html(&report, None)
            .map_err(|e| anyhow::anyhow!("rendering the report: {e}"))?;
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if let Some(path) = &args.pdf {
        let bytes = crate::render::report_pdf::pdf(&report)?;
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("PDF report written to {}", path.display());
    }
    super::print_json(&report)?;
    Ok(ExitCode::SUCCESS)
}
