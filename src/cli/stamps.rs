//! `tem issue` and `tem export`: issue signed stamps, write them as CSV.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::codes::{KeyRing, StampCode};
use crate::config::Config;
use crate::domain::BatchId;
use crate::service::{issue, registry};

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// Batch id (see `tem batch list`).
    #[arg(long)]
    batch: u32,
    /// How many stamps, 1 to 1,000,000.
    #[arg(long)]
    count: u64,
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

const CSV_HEADER: [&str; 6] = ["batch_id", "seq", "serial", "short_code", "kid", "url"];

/// A CSV written to a temporary file and moved into place only on success,
/// so a failed or killed run never leaves a partial file under the real name.
struct CsvOut {
    writer: csv::Writer<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
}

impl CsvOut {
    fn create(target: &Path) -> anyhow::Result<CsvOut> {
        let tmp = super::temp_path(target)?;
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        writer.write_record(CSV_HEADER)?;
        Ok(CsvOut {
            writer,
            tmp,
            target: target.to_path_buf(),
        })
    }

    fn finish(self) -> anyhow::Result<()> {
        let file = self
            .writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
        let file = file
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
        file.sync_all()?;
        std::fs::rename(&self.tmp, &self.target)
            .with_context(|| format!("moving CSV to {}", self.target.display()))
    }

    fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn csv_row<W: Write>(
    w: &mut csv::Writer<W>,
    base_url: &str,
    kid: &str,
    seq: u32,
    code: &StampCode,
) -> csv::Result<()> {
    w.write_record([
        code.batch.to_string(),
        seq.to_string(),
        code.serial.to_string(),
        code.serial.short_code().to_string(),
        kid.to_string(),
        code.url(base_url),
    ])
}

pub fn issue(config: &Config, args: IssueArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let keys = KeyRing::open(config.keys_dir())?;
    let batch = registry::batch(&*store, BatchId(args.batch))?;
    let product = registry::product(&*store, batch.product_id)?;
    let count = issue::validate_count(args.count)?;
    // The same ring object goes to the service, so this is the key that signs.
    let kid = keys.signer()?.kid().to_string();

    let bar = ProgressBar::new(u64::from(count));
    bar.set_style(
        ProgressStyle::with_template("{spinner} signing and storing [{bar:30}] {human_pos}/{human_len} stamps ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut csv = args.csv.as_deref().map(CsvOut::create).transpose()?;
    let base_url = config.base_url.clone();
    let mut on_written = |stamps: &[(u32, StampCode)]| -> Result<(), String> {
        if let Some(out) = csv.as_mut() {
            for (seq, code) in stamps {
                csv_row(&mut out.writer, &base_url, &kid, *seq, code)
                    .map_err(|e| format!("writing CSV: {e}"))?;
            }
        }
        bar.inc(stamps.len() as u64);
        Ok(())
    };
    let result = issue::issue(
        &*store,
        &keys,
        &config.base_url,
        batch.id,
        u64::from(count),
        &super::cli_actor(),
        &mut on_written,
    );
    bar.finish_and_clear();
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if let Some(out) = csv {
                out.discard();
            }
            return Err(e.into());
        }
    };
    if let Some(out) = csv {
        out.finish()?;
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

/// Rows fetched per query when exporting.
const EXPORT_PAGE: u32 = 10_000;

/// Writes the EPCIS document to a temporary file moved into place at the
/// end (or to standard output).
fn export_epcis(
    store: &dyn crate::store::Store,
    config: &Config,
    batch: BatchId,
    path: &Path,
) -> anyhow::Result<ExitCode> {
    if path.as_os_str() == "-" {
        let mut out = BufWriter::new(std::io::stdout().lock());
        crate::service::epcis::write(store, batch, &config.base_url, &mut out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let tmp = path.with_extension("part");
    let mut out = BufWriter::new(
        File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
    );
    let events = match crate::service::epcis::write(store, batch, &config.base_url, &mut out) {
        Ok(n) => n,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "{events} events of batch {batch} written to {}",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn export(config: &Config, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let batch = registry::batch(&*store, BatchId(args.batch))?;
    if let Some(path) = &args.epcis {
        return export_epcis(&*store, config, batch.id, path);
    }
    let csv_path = args.csv.clone().unwrap_or_else(|| PathBuf::from("-"));
    let to_stdout = csv_path.as_os_str() == "-";
    let mut out = (!to_stdout)
        .then(|| CsvOut::create(&csv_path))
        .transpose()?;
    let mut stdout_writer = csv::Writer::from_writer(std::io::stdout().lock());
    if to_stdout {
        stdout_writer.write_record(CSV_HEADER)?;
    }
    let mut next = args.from.max(1);
    let mut remaining = args.count.unwrap_or(u32::MAX);
    let mut written = 0u64;
    while remaining > 0 {
        let page = store.stamps(batch.id, next, remaining.min(EXPORT_PAGE))?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        remaining = remaining.saturating_sub(page.len() as u32);
        for s in &page {
            match out.as_mut() {
                Some(o) => csv_row(
                    &mut o.writer,
                    &config.base_url,
                    &s.kid.to_string(),
                    s.seq,
                    &s.code(),
                )?,
                None => csv_row(
                    &mut stdout_writer,
                    &config.base_url,
                    &s.kid.to_string(),
                    s.seq,
                    &s.code(),
                )?,
            }
            written += 1;
        }
    }
    stdout_writer.flush()?;
    if let Some(o) = out {
        o.finish()?;
        eprintln!(
            "wrote {written} stamps of batch {} to {}",
            batch.id,
            csv_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
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
    let store = super::open_store(config)?;
    let n = crate::service::lifecycle::activate(
        &*store,
        BatchId(args.batch),
        args.from,
        args.count,
        &super::cli_actor(),
    )?;
    println!("{n} stamps activated");
    Ok(ExitCode::SUCCESS)
}

pub fn void(config: &Config, args: RangeArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let reason = args
        .reason
        .as_deref()
        .context("--reason: say why the stamps are voided (e.g. \"in hỏng\")")?;
    let n = crate::service::lifecycle::void(
        &*store,
        BatchId(args.batch),
        args.from,
        args.count,
        reason,
        &super::cli_actor(),
    )?;
    println!("{n} stamps voided");
    Ok(ExitCode::SUCCESS)
}

pub fn recall(config: &Config, args: RecallArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let range = args.from.zip(args.count);
    crate::service::lifecycle::recall(
        &*store,
        BatchId(args.batch),
        range,
        &args.reason,
        &args.notice,
        &super::cli_actor(),
    )?;
    println!(
        "batch {} recalled; consumers see the notice on their next scan",
        args.batch
    );
    Ok(ExitCode::SUCCESS)
}

pub fn lift(config: &Config, args: LiftArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config)?;
    let n = crate::service::lifecycle::lift(
        &*store,
        BatchId(args.batch),
        &args.reason,
        &super::cli_actor(),
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
    let store = super::open_store(config)?;
    let report = crate::service::report::batch(&*store, BatchId(args.batch), &config.scan.rules())?;
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
