//! `tem sheet` (print a batch's stamps on label sheets) and `tem layouts`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::domain::BatchId;
use crate::render::label::{self, Lang};
use crate::render::layout::{self, Layout, Shape};
use crate::render::pdf::Calibration;
use crate::render::raster;
use crate::service::sheet::{self, Format, Selection, SheetRequest};

#[derive(Debug, clap::Args)]
pub struct SheetArgs {
    /// Batch id (see `tem batch list`).
    #[arg(long, required_unless_present = "calibration_page")]
    batch: Option<u32>,
    /// Built-in layout: a4-65, a4-40, a4-21, a4-14, a4-round30 (see `tem layouts`).
    #[arg(long, default_value = "a4-65", conflicts_with = "layout_file")]
    layout: String,
    /// A custom layout in TOML (label_width, label_height, columns, rows, left, top, pitch_x, pitch_y…).
    #[arg(long, value_name = "FILE")]
    layout_file: Option<PathBuf>,
    /// Custom label size in mm, e.g. 50x30 (with --grid and --margins).
    #[arg(long, value_name = "WxH", requires_all = ["grid", "margins"])]
    label_size: Option<String>,
    /// Custom columns × rows, e.g. 4x9.
    #[arg(long, value_name = "CxR")]
    grid: Option<String>,
    /// Custom left and top page margins in mm, e.g. 5,13.5.
    #[arg(long, value_name = "LEFT,TOP")]
    margins: Option<String>,
    /// Custom pitch (distance between label origins) in mm, e.g. 52,30; default: the label size.
    #[arg(long, value_name = "X,Y")]
    pitch: Option<String>,
    /// Custom labels are round (diameter = width).
    #[arg(long)]
    round: bool,
    /// pdf, png, svg, zip or csv; default: from the output file's extension.
    /// PNG and SVG write one file per page (NAME-001.png… when there are several).
    #[arg(long)]
    format: Option<String>,
    /// Resolution of PNG output (also inside zip): 300 or 600.
    #[arg(long, default_value_t = 300)]
    dpi: u32,
    /// First stamp number to print (with --count); reprints are allowed.
    #[arg(long, requires = "count")]
    from: Option<u32>,
    /// How many stamps from --from (default: every unprinted stamp of the batch).
    #[arg(long, requires = "from")]
    count: Option<u32>,
    /// A file of serials, short codes or stamp URLs, one per line.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["from", "count"])]
    serials: Option<PathBuf>,
    /// Start at label K of a partly used first sheet (1 = top left).
    #[arg(long, default_value_t = 1, value_name = "K")]
    start_at: u32,
    /// QR error-correction level: L, M, Q or H.
    #[arg(long, default_value = "M")]
    ec: String,
    /// Label language: vi or en.
    #[arg(long, default_value = "vi")]
    lang: String,
    /// Draw cut marks in the page margins.
    #[arg(long)]
    crop_marks: bool,
    /// White modules around each QR symbol, on the label: 2 to 4 (ISO/IEC
    /// 18004 asks for 4; a smaller one leaves room for larger modules).
    #[arg(long, default_value_t = label::QUIET_ZONE, value_name = "MODULES")]
    quiet_zone: u32,
    /// Print stamps with claim codes that were printed before (refused
    /// otherwise: a reprint is a second copy of each secret). Recorded.
    #[arg(long)]
    reprint_claim_codes: bool,
    /// Printer profile from tem.toml ([printers.NAME] offset_x, offset_y, scale_x, scale_y).
    #[arg(long, value_name = "NAME")]
    printer: Option<String>,
    /// Write the printer calibration page instead of stamps.
    #[arg(long = "calibration", conflicts_with_all = ["batch", "from", "serials"])]
    calibration_page: bool,
    /// Output file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct LayoutsArgs {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// White modules around the code, on the label (2–4; the default is the
    /// 4 the QR standard asks for).
    #[arg(long, default_value_t = label::QUIET_ZONE, value_parser = clap::value_parser!(u32).range(2..=4))]
    quiet_zone: u32,
    /// Error-correction level of the code (L, M, Q, H), as `tem sheet --ec`.
    #[arg(long, default_value = "M")]
    ec: String,
    /// For stamps issued in GS1 form (`tem issue --gs1`): a larger symbol.
    #[arg(long)]
    gs1: bool,
}

/// Modules across the symbol of a stamp URL at `ec` (every code has the same
/// length, so any code gives the size of all).
fn symbol_modules(base_url: &str, ec: qrcode::EcLevel, gs1: bool) -> anyhow::Result<(u32, i16)> {
    let code = crate::codes::StampCode {
        kid_hint: [0; 2],
        serial: crate::domain::Serial(0),
        batch: BatchId(0),
        signature: [0; 64],
    };
    // Every GTIN is 14 digits in the URL: any one gives the size.
    let form = match gs1 {
        true => crate::codes::StampForm::Gs1 {
            gtin: "00000000000000".into(),
        },
        false => crate::codes::StampForm::Tem,
    };
    let m = crate::render::qr::encode(base_url, &code, &form, ec).map_err(|e| {
        anyhow::anyhow!("the stamp URL does not fit a QR code at this level: {e:?}")
    })?;
    Ok((m.width as u32, m.version))
}

pub fn layouts(config: &Config, args: LayoutsArgs) -> anyhow::Result<ExitCode> {
    let ec = sheet::parse_ec(&args.ec)?;
    let (modules, version) = symbol_modules(&config.base_url, ec, args.gs1)?;
    let rows: Vec<serde_json::Value> = layout::builtins()
        .into_iter()
        .map(|l| {
            let module = label::module_for(&l, modules, args.quiet_zone);
            let mm = |m: f32| (f64::from(m) * 1000.0).round() / 1000.0;
            let png = |dpi: u32| {
                let dots = raster::module_dots(module, dpi);
                serde_json::json!({"dots": dots, "module_mm": mm(dots as f32 * 25.4 / dpi as f32)})
            };
            serde_json::json!({
                "name": l.name, "description": l.description, "per_sheet": l.per_sheet(),
                "label_width_mm": l.label_width, "label_height_mm": l.label_height,
                "shape": if l.shape == Shape::Round { "round" } else { "rectangle" },
                "columns": l.columns, "rows": l.rows, "left_mm": l.left, "top_mm": l.top,
                "pitch_x_mm": l.pitch_x, "pitch_y_mm": l.pitch_y,
                "module_mm": (f64::from(module) * 1000.0).round() / 1000.0,
                "module_dots_300dpi": raster::module_dots(module, 300),
                "quiet_zone": args.quiet_zone,
                "qr_version": version, "ec": args.ec.to_uppercase(),
                "formats": {
                    "pdf": {"module_mm": mm(module)}, "svg": {"module_mm": mm(module)},
                    "png300": png(300), "png600": png(600),
                },
                "ok": module >= label::MIN_MODULE_MM,
            })
        })
        .collect();
    if args.json {
        super::print_json(&rows)?;
    } else {
        println!(
            "QR module of a stamp (version {version}, level {}) with a quiet zone of {} modules:",
            args.ec.to_uppercase(),
            args.quiet_zone
        );
        println!(
            "{:<11}  {:>6}  {:<56}  {:>9}  {:>13}  {:>13}",
            "LAYOUT", "LABELS", "SHEET", "PDF, SVG", "PNG 300 dpi", "PNG 600 dpi"
        );
        for r in &rows {
            let f = &r["formats"];
            let png = |k: &str| {
                format!(
                    "{:.2} mm ({})",
                    f[k]["module_mm"].as_f64().unwrap_or(0.0),
                    f[k]["dots"]
                )
            };
            println!(
                "{:<11}  {:>6}  {:<56}  {:>6.2} mm  {:>13}  {:>13}",
                r["name"].as_str().unwrap_or(""),
                r["per_sheet"].as_u64().unwrap_or(0),
                r["description"].as_str().unwrap_or(""),
                f["pdf"]["module_mm"].as_f64().unwrap_or(0.0),
                png("png300"),
                png("png600"),
            );
        }
        println!("(in brackets: printer dots per module)");
        println!(
            "modules must be at least {} mm; a custom layout: tem sheet --layout-file FILE or --label-size/--grid/--margins",
            label::MIN_MODULE_MM
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn pair(field: &str, text: &str, sep: char) -> anyhow::Result<(f64, f64)> {
    let (a, b) = text.split_once(sep).with_context(|| {
        format!("--{field}: expected two numbers separated by '{sep}', got {text:?}")
    })?;
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .with_context(|| format!("--{field}: {s:?} is not a number"))
    };
    Ok((parse(a)?, parse(b)?))
}

fn resolve_layout(args: &SheetArgs) -> anyhow::Result<Layout> {
    if let Some(path) = &args.layout_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Layout::from_toml(&text)?);
    }
    if let Some(size) = &args.label_size {
        let (w, h) = pair("label-size", size, 'x')?;
        let (c, r) = pair("grid", args.grid.as_deref().unwrap_or(""), 'x')?;
        let (left, top) = pair("margins", args.margins.as_deref().unwrap_or(""), ',')?;
        let (px, py) = match &args.pitch {
            Some(p) => pair("pitch", p, ',')?,
            None => (w, h),
        };
        let layout = Layout {
            name: "custom".into(),
            description: format!("custom {w}×{h} mm, {c}×{r}"),
            page_width: layout::A4.0,
            page_height: layout::A4.1,
            label_width: w,
            label_height: h,
            shape: if args.round {
                Shape::Round
            } else {
                Shape::Rectangle
            },
            columns: c as u32,
            rows: r as u32,
            left,
            top,
            pitch_x: px,
            pitch_y: py,
        };
        layout.check()?;
        return Ok(layout);
    }
    Layout::builtin(&args.layout).with_context(|| {
        let names: Vec<String> = layout::builtins().into_iter().map(|l| l.name).collect();
        format!(
            "--layout: no layout named {:?}; built in: {}",
            args.layout,
            names.join(", ")
        )
    })
}

fn calibration(config: &Config, args: &SheetArgs) -> anyhow::Result<Calibration> {
    match &args.printer {
        None => Ok(Calibration::default()),
        Some(name) => config.printers.get(name).copied().with_context(|| {
            let known: Vec<&String> = config.printers.keys().collect();
            format!("--printer: no profile {name:?} in tem.toml (known: {known:?}); add [printers.{name}] with offset_x, offset_y, scale_x, scale_y")
        }),
    }
}

pub fn sheet(config: &Config, args: SheetArgs) -> anyhow::Result<ExitCode> {
    let calibration = calibration(config, &args)?;
    calibration.check().map_err(anyhow::Error::msg)?;
    if args.calibration_page {
        calibration_page(&args.output, &calibration)?;
        return Ok(ExitCode::SUCCESS);
    }
    let layout = resolve_layout(&args)?;
    let format = output_format(&args)?;
    let selection = selection(&args)?;
    let request = SheetRequest {
        batch: BatchId(args.batch.unwrap_or_default()),
        layout,
        format,
        selection,
        start_at: args.start_at,
        ec: sheet::parse_ec(&args.ec)?,
        lang: Lang::parse(&args.lang)
            .with_context(|| format!("--lang: must be vi or en (got {:?})", args.lang))?,
        crop_marks: args.crop_marks,
        calibration,
        dpi: args.dpi,
        page: None,
        actor: super::cli_actor(),
        reprint_claim_codes: args.reprint_claim_codes,
        quiet_zone: args.quiet_zone,
    };
    let ctx = super::context(config)?;
    let store = ctx.store();
    let prepared = sheet::prepare(&ctx, request)?;

    let bar = ProgressBar::new(prepared.stamps.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} rendering [{bar:30}] {human_pos}/{human_len} stamps ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    // Files are written under temporary names and moved into place only
    // after the print job is recorded: a failure leaves neither.
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = write_files(&prepared, &args.output, &bar, &mut files);
    bar.finish_and_clear();
    let job = result.and_then(|()| Ok(sheet::record(store, &prepared)?));
    let job = match job {
        Ok(job) => job,
        Err(e) => {
            for (tmp, _) in &files {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e);
        }
    };
    for (tmp, target) in &files {
        std::fs::rename(tmp, target)
            .with_context(|| format!("moving the file to {}", target.display()))?;
    }
    print_summary(&job, &prepared, format, &args.output);
    Ok(ExitCode::SUCCESS)
}

/// `--calibration-page`: the printer calibration page, with `calibration`
/// applied.
fn calibration_page(output: &Path, calibration: &Calibration) -> anyhow::Result<()> {
    let file = File::create(output).with_context(|| format!("creating {}", output.display()))?;
    crate::render::calibration::write_pdf(BufWriter::new(file), calibration)?;
    println!(
        "calibration page written to {}; print it at 100 % (actual size) and follow the instructions on it",
        output.display()
    );
    Ok(())
}

/// `--format`, or the output file's extension.
fn output_format(args: &SheetArgs) -> anyhow::Result<Format> {
    Ok(match &args.format {
        Some(f) => Format::parse(f)?,
        None => {
            let ext = args
                .output
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("");
            Format::parse(ext).map_err(|_| {
                anyhow::anyhow!(
                    "--format: give pdf, png, svg, zip or csv, or name the output file with one of those extensions"
                )
            })?
        }
    })
}

/// `--serials FILE`, `--from/--count`, or every unprinted stamp.
fn selection(args: &SheetArgs) -> anyhow::Result<Selection> {
    Ok(match (&args.serials, args.from, args.count) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Selection::Listed(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
            )
        }
        (None, Some(from), Some(count)) => Selection::Range { from, count },
        _ => Selection::Unprinted,
    })
}

/// What was written where, and how many were reprints.
fn print_summary(job: &sheet::PrintJob, prepared: &sheet::Prepared, format: Format, output: &Path) {
    println!(
        "{} stamps of batch {} (lot {}, {}) → {} ({}, layout {}, {} page(s), QR modules {:.2} mm)",
        job.stamps,
        prepared.batch.id,
        prepared.batch.lot_code,
        prepared.product_name,
        if matches!(format, Format::Png | Format::Svg) && prepared.pages() > 1 {
            format!(
                "{} files named like {}",
                prepared.pages(),
                numbered(output, 1).display()
            )
        } else {
            output.display().to_string()
        },
        format.as_str(),
        prepared.request.layout.name,
        prepared.pages(),
        prepared.design.module
    );
    if job.reprinted > 0 {
        println!(
            "{} of them had been printed before: recorded as a reprint",
            job.reprinted
        );
    }
    if prepared.claim_codes() > 0 {
        eprintln!(
            "warning: the file(s) written ({}) hold {} claim codes, the secrets under the scratch panels: readable by you only (mode 0600), and recorded as printed by {}. Send them to the print shop over a private channel, and delete every copy once the stamps are printed.",
            output.display(),
            prepared.claim_codes(),
            job.actor
        );
    }
}

fn write_files(
    prepared: &sheet::Prepared,
    output: &Path,
    bar: &ProgressBar,
    files: &mut Vec<(PathBuf, PathBuf)>,
) -> anyhow::Result<()> {
    // A file with claim codes holds secrets: only its owner may read it.
    let mode = if prepared.claim_codes() > 0 {
        0o600
    } else {
        0o666
    };
    let create = |target: &Path, files: &mut Vec<(PathBuf, PathBuf)>| -> anyhow::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = super::temp_path(target)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        files.push((tmp, target.to_path_buf()));
        Ok(file)
    };
    let done = |file: File| -> anyhow::Result<()> { Ok(file.sync_all()?) };
    match prepared.request.format {
        Format::Pdf => {
            let file = create(output, files)?;
            let (_, out) = sheet::write_pdf(prepared, BufWriter::new(file), &mut |n| bar.inc(n))?;
            done(
                out.into_inner()
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", output.display()))?,
            )
        }
        Format::Csv => {
            let file = create(output, files)?;
            let out = sheet::write_csv(prepared, BufWriter::new(file))?;
            done(
                out.into_inner()
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", output.display()))?,
            )
        }
        Format::Zip => {
            let file = create(output, files)?;
            let out = sheet::write_zip(prepared, file, &mut |n| bar.inc(n))?;
            done(out)
        }
        Format::Png | Format::Svg => {
            let several = prepared.pages() > 1;
            sheet::write_pages(
                prepared,
                &mut |page, bytes| {
                    let target = if several {
                        numbered(output, page)
                    } else {
                        output.to_path_buf()
                    };
                    let mut file = create(&target, files).map_err(std::io::Error::other)?;
                    std::io::Write::write_all(&mut file, &bytes)?;
                    file.sync_all()
                },
                &mut |n| bar.inc(n),
            )?;
            Ok(())
        }
    }
}

/// `sheet.png` → `sheet-003.png`.
fn numbered(path: &Path, page: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{page:03}{ext}"))
}
