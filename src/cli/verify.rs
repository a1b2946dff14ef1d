//! `tem verify`: offline verification of codes, URLs, photos and code lists.
//! Needs only the public key set (`--keys` file or key directory).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use crate::codes::photo;
use crate::codes::{CodeCheck, CodeVerdict, KeySet, Verifier};
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Stamp URLs, bare codes, or image files (PNG/JPEG, several stamps per
    /// picture are fine). `-` reads one code per line from standard input.
    #[arg(value_name = "URL|CODE|IMAGE")]
    inputs: Vec<String>,
    /// A file of codes: one per line, or a CSV with a `url` column (as
    /// written by `tem issue --csv` and `tem export`).
    #[arg(long, value_name = "FILE")]
    from_file: Vec<PathBuf>,
    /// Print one JSON object per code (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Verify a whole batch instead: every stamp's signature, the stamps
    /// against the audit log, the data consumers see; prints the signed
    /// report (with --json, the signed JSON) and stores it.
    #[arg(long, value_name = "ID", conflicts_with_all = ["inputs", "from_file", "bundle"])]
    batch: Option<u32>,
    /// With --batch: also write the signed report (JSON) to this file.
    #[arg(short, long, value_name = "FILE", requires = "batch")]
    output: Option<PathBuf>,
    /// With --batch: also write the report as a printable PDF.
    #[arg(long, value_name = "FILE", requires = "batch")]
    pdf: Option<PathBuf>,
    /// Check with an offline bundle (`tem bundle export`) instead of the
    /// key set alone: recalls, voids and the batch's origin, no network.
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// With --bundle: the service's key set (tem-keys.json) to trust; the
    /// bundle must be signed by one of its keys.
    #[arg(long, value_name = "KEYSET", requires = "bundle")]
    trust: Option<PathBuf>,
    /// With --bundle: warn when the bundle is older than this many days
    /// (default: bundle_max_age_days in tem.toml, 7).
    #[arg(long, value_name = "DAYS", requires = "bundle", value_parser = clap::value_parser!(u32).range(1..=366))]
    max_age: Option<u32>,
    /// With --bundle: where the checks are made (recorded with them).
    #[arg(long, requires = "bundle")]
    place: Option<String>,
    #[arg(long, requires = "bundle")]
    province: Option<String>,
    /// With --bundle: the file the checks are appended to (default
    /// BUNDLE.checks.jsonl).
    #[arg(long, value_name = "FILE", requires = "bundle")]
    checks: Option<PathBuf>,
}

/// One line of `--json` output.
#[derive(Debug, Serialize)]
struct Line<'a> {
    verdict: &'static str,
    serial: Option<String>,
    short_code: Option<String>,
    kid: Option<String>,
    batch: Option<u32>,
    /// Where the code came from: the argument, or `file:line`, or the image.
    source: &'a str,
    reason: Option<String>,
}

pub fn run(config: &Config, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(batch) = args.batch {
        return verify_batch(
            config,
            batch,
            args.json,
            args.output.as_deref(),
            args.pdf.as_deref(),
        );
    }
    if args.inputs.is_empty() && args.from_file.is_empty() {
        anyhow::bail!(
            "nothing to verify: give stamp URLs, codes or image files (see `tem verify --help`)"
        );
    }
    let items = inputs(&args)?;

    if let Some(bundle) = &args.bundle {
        return super::bundle::verify_offline(
            super::bundle::OfflineOptions {
                bundle,
                trust: args.trust.as_deref(),
                max_age_days: args.max_age.unwrap_or(config.bundle_max_age_days),
                place: args.place,
                province: args.province,
                checks: args.checks,
                json: args.json,
            },
            &items,
        );
    }
    let keys = KeySet::load(config.keys_dir())?;
    if keys.keys.is_empty() {
        anyhow::bail!(
            "the key set {} has no keys; export one with `tem keys export`",
            config.keys_dir().display()
        );
    }
    let verifier = Verifier::new(&keys);
    let checks = check_all(&verifier, &items);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all_genuine = true;
    for ((source, text), check) in items.iter().zip(&checks) {
        all_genuine &= check.verdict == CodeVerdict::Genuine;
        let reason = if text.is_empty() && looks_like_image(source) {
            Some("no QR code found in the image".to_string())
        } else {
            check.problem.as_ref().map(ToString::to_string)
        };
        let line = Line {
            verdict: check.verdict.as_str(),
            serial: check.code.map(|c| c.serial.to_string()),
            short_code: check.code.map(|c| c.serial.short_code().to_string()),
            kid: check.kid.map(|k| k.to_string()),
            batch: check.code.map(|c| c.batch.0),
            source,
            reason,
        };
        if args.json {
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else {
            write_text(&mut out, &line)?;
        }
    }
    out.flush()?;
    if !args.json && checks.len() > 1 {
        let genuine = checks
            .iter()
            .filter(|c| c.verdict == CodeVerdict::Genuine)
            .count();
        eprintln!("{genuine} of {} codes genuine", checks.len());
    }
    Ok(if all_genuine {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// (source, text) pairs in input order: arguments (codes, URLs, images,
/// `-` for standard input), then the `--from-file` lists.
fn inputs(args: &VerifyArgs) -> anyhow::Result<Vec<(String, String)>> {
    let mut items: Vec<(String, String)> = Vec::new();
    for input in &args.inputs {
        if input == "-" {
            for (n, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line.context("reading standard input")?;
                if !line.trim().is_empty() {
                    items.push((format!("stdin:{}", n + 1), line));
                }
            }
        } else if looks_like_image(input) {
            let path = Path::new(input);
            let texts = photo::decode_file(path)?;
            if texts.is_empty() {
                items.push((input.clone(), String::new()));
            }
            for t in texts {
                items.push((input.clone(), t));
            }
        } else {
            items.push((input.clone(), input.clone()));
        }
    }
    for file in &args.from_file {
        read_code_file(file, &mut items)?;
    }

    Ok(items)
}

fn write_text(out: &mut impl Write, l: &Line<'_>) -> std::io::Result<()> {
    write!(out, "{:<12}", l.verdict)?;
    if let (Some(serial), Some(short)) = (&l.serial, &l.short_code) {
        write!(out, " serial {serial} ({short})")?;
    }
    if let Some(batch) = l.batch {
        write!(out, " batch {batch}")?;
    }
    if let Some(kid) = &l.kid {
        write!(out, " key {kid}")?;
    }
    if let Some(reason) = &l.reason {
        write!(out, " — {reason}")?;
    }
    if l.source.len() <= 80 && looks_like_image(l.source) {
        write!(out, " [{}]", l.source)?;
    }
    writeln!(out)
}

pub(super) fn looks_like_image(input: &str) -> bool {
    let lower = input.to_ascii_lowercase();
    [
        ".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
        && !lower.starts_with("http")
}

/// Reads codes from a file (at most `codes::list::MAX_FILE_BYTES`): a
/// CSV with a `url` column, or one code per line.
pub(super) fn read_code_file(path: &Path, items: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    file.take(crate::codes::list::MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > crate::codes::list::MAX_FILE_BYTES {
        anyhow::bail!(
            "{}: larger than {} MB; split it",
            path.display(),
            crate::codes::list::MAX_FILE_BYTES >> 20
        );
    }
    items.extend(crate::codes::list::parse(
        &path.display().to_string(),
        &text,
    ));
    Ok(())
}

/// Verifies on every core, keeping input order.
fn check_all(verifier: &Verifier, items: &[(String, String)]) -> Vec<CodeCheck> {
    crate::parallel::par_map(items, |(_, text)| verifier.check(text))
}

/// `tem verify --batch`: exit 0 clean, 1 findings or compromised.
fn verify_batch(
    config: &Config,
    batch: u32,
    json: bool,
    output: Option<&Path>,
    pdf: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    use crate::service::verification;
    let ctx = super::context(config)?;
    // A million stamps take seconds: say what is happening (stderr, on a
    // terminal only).
    let spinner = indicatif::ProgressBar::new_spinner().with_message(format!(
        "verifying batch {batch}: signatures, audit log, data, scans…"
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let signed = verification::verify_batch(
        &ctx,
        crate::domain::BatchId(batch),
        &config.scan.rules(),
        &super::cli_as(),
    );
    spinner.finish_and_clear();
    let signed = signed?;
    let text = serde_json::to_string_pretty(&signed)?;
    if let Some(path) = output {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = pdf {
        std::fs::write(path, crate::render::report_pdf::verification_pdf(&signed)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let r = &signed.report;
    if json {
        println!("{text}");
    } else {
        for f in &r.findings {
            println!("{:<12} {:<14} {}", f.severity, f.kind, f.detail);
        }
        println!(
            "batch {} ({}): {} — {} stamps, {} signatures verified, {} bad, {} under revoked keys; audit log {}; report {} signed by {}",
            r.batch.id,
            r.batch.lot_code,
            r.verdict.as_str().to_uppercase(),
            r.stamps.total,
            r.stamps.signatures_ok,
            r.stamps.bad_signatures,
            r.stamps.revoked_key,
            if r.log.audit_log_intact {
                "intact"
            } else {
                "TAMPERED"
            },
            r.id,
            signed.kid
        );
    }
    Ok(
        if r.verdict == crate::report::verification::Conclusion::Clean {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

#[derive(Debug, clap::Args)]
pub struct VerifyReportArgs {
    /// A signed report, as `tem verify --batch … -o FILE` or the API wrote it.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The service's public key set (tem-keys.json); default: the local key
    /// directory's.
    #[arg(long, value_name = "FILE")]
    key_set: Option<PathBuf>,
}

/// `tem verify-report`: exit 0 when the report is as the service signed it.
pub fn verify_report(config: &Config, args: VerifyReportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let keys = match &args.key_set {
        Some(p) => KeySet::read(p)?,
        None => KeySet::load(config.keys_dir())?,
    };
    match crate::service::verification::check_report(&text, &keys) {
        Ok(signed) => {
            let r = &signed.report;
            println!(
                "valid: report {} on batch {} ({}) made {} by {}: {} ({} findings), signed by {}",
                r.id,
                r.batch.id,
                r.batch.lot_code,
                r.verified_at,
                r.verified_by,
                r.verdict,
                r.findings.len(),
                signed.kid
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("REFUSED: {}: {e}", args.file.display());
            Ok(ExitCode::from(1))
        }
    }
}
