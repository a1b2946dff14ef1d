//! `tem inspect`: record an inspection of the stamps found in a shop or
//! market, from codes, code files or photos, on this machine's database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::codes::Verifier;
use crate::config::Config;
use crate::domain::Grant;
use crate::domain::inspection::Inspection;
use crate::service::inspection::{self, Found, Submission};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Stamp URLs, bare codes, or photos (PNG/JPEG, several stamps per
    /// photo are fine).
    #[arg(value_name = "URL|CODE|IMAGE")]
    inputs: Vec<String>,
    /// A file of codes: one per line, or a CSV with a `url` column.
    #[arg(long, value_name = "FILE")]
    from_file: Vec<PathBuf>,
    /// The shop or market, e.g. "Chợ Đồng Xuân, quầy 12".
    #[arg(long)]
    place: String,
    #[arg(long)]
    province: Option<String>,
    /// When the inspection took place (RFC 3339, e.g. 2026-11-20T09:30:00+07:00); now by default.
    #[arg(long)]
    at: Option<jiff::Timestamp>,
    #[arg(long)]
    note: Option<String>,
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    lat: Option<f64>,
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    lon: Option<f64>,
    /// Also write the printable record (biên bản kiểm tra) to this PDF file.
    #[arg(long, value_name = "FILE")]
    pdf: Option<PathBuf>,
    /// Print the stored inspection as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit status 0 when every stamp is genuine and none is repeated, 1 when
/// the inspection found problems (it is stored either way), 2 on errors.
pub fn run(config: &Config, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let mut found = Vec::new();
    for input in &args.inputs {
        if super::verify::looks_like_image(input) {
            let bytes = std::fs::read(input).with_context(|| format!("reading {input}"))?;
            found.push(Found::Photo {
                name: input.clone(),
                bytes,
            });
        } else {
            found.push(Found::Code(input.clone()));
        }
    }
    for file in &args.from_file {
        let mut items = Vec::new();
        super::verify::read_code_file(file, &mut items)?;
        found.extend(items.into_iter().map(|(_, text)| Found::Code(text)));
    }
    let ctx = super::context(config)?;
    let store = ctx.store();
    let verifier = Verifier::new(&ctx.keys()?.key_set());
    let inspection = inspection::create(
        store,
        &verifier,
        &Grant::admin(),
        &super::cli_actor(),
        Submission {
            place: args.place,
            province: args.province,
            location: args.lat.zip(args.lon),
            at: args.at,
            note: args.note,
            found,
            offline: None,
        },
    )?;
    if let Some(path) = &args.pdf {
        let bytes = crate::render::report_pdf::inspection_pdf(&inspection)?;
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        super::print_json(&inspection)?;
    } else {
        print_text(&inspection);
        if let Some(path) = &args.pdf {
            println!("biên bản: {}", path.display());
        }
    }
    Ok(if inspection.summary.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(i: &Inspection) {
    for it in &i.items {
        let mut line = format!("{:>4}  {:<14} {:<10}", it.n, it.verdict, it.source);
        match &it.serial {
            Some(s) => line.push_str(&format!(" serial {s}")),
            None if !it.input.is_empty() => line.push_str(&format!(" {:.60}", it.input)),
            None => {}
        }
        if let Some(b) = it.batch_id {
            line.push_str(&format!(" batch {b}"));
        }
        if let Some(first) = it.duplicate_of {
            line.push_str(&format!(" — DUPLICATE of #{first}"));
        }
        if let Some(r) = &it.reason {
            line.push_str(&format!(" — {r}"));
        }
        println!("{line}");
    }
    let s = &i.summary;
    println!(
        "inspection {} at {}: {} stamps, {} genuine, {} with problems ({} duplicates)",
        i.id, i.place, s.stamps, s.genuine, s.problems, s.duplicates
    );
}
