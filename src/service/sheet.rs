//! Printing: choose stamps, lay them out on a label sheet, write the file,
//! and record the print job (which moves the stamps to `printed`).
//!
//! `prepare` checks everything that can be wrong before a byte is written
//! (unknown batch, voided stamps, a layout whose QR modules would be too
//! small); `write_pdf`/`write_csv` stream the file; `record` stores the job.

use std::io::Write;

use qrcode::EcLevel;

use super::sheet_claims::{self, ClaimCodes};
use super::{ServiceError, ServiceResult, not_found};
use crate::codes::StampCode;
use crate::domain::{
    Batch, BatchId, DomainError, Producer, Product, Serial, ShortCode, StampState,
};
use crate::render::claim_panel::{self, ClaimPanel};
use crate::render::label::{self, Content, Design, Lang};
use crate::render::layout::Layout;
use crate::render::pdf::{Calibration, PdfSheetWriter, Placed, Sheet, Written};
use crate::render::qr;
pub use crate::store::PrintJob;
use crate::store::{NewPrintJob, PrintedStamps, Store, StoredStamp};

/// The most stamps one sheet file may hold.
pub const MAX_STAMPS_PER_FILE: u32 = 100_000;

/// What a sheet is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Vector PDF, all pages, streamed.
    Pdf,
    /// One PNG per page.
    Png,
    /// One SVG per page.
    Svg,
    /// One SVG and one PNG per stamp, and a CSV manifest.
    Zip,
    /// Serial, short code and URL per stamp.
    Csv,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::Pdf,
        Format::Png,
        Format::Svg,
        Format::Zip,
        Format::Csv,
    ];

    /// A format by its file extension.
    pub fn parse(s: &str) -> Result<Format, DomainError> {
        let s = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    "format",
                    format!("must be pdf, png, svg, zip or csv (got {s:?})"),
                )
            })
    }

    /// Its file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Zip => "zip",
            Format::Csv => "csv",
        }
    }

    /// Its HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Png => "image/png",
            Format::Svg => "image/svg+xml",
            Format::Zip => "application/zip",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// Which stamps to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every stamp of the batch not printed yet.
    Unprinted,
    /// `count` stamps from number `from` on (reprints allowed).
    Range {
        /// The first stamp's number.
        from: u32,
        /// How many.
        count: u32,
    },
    /// These stamps, by serial, short code or URL.
    Listed(Vec<String>),
}

/// An error-correction level by letter (L, M, Q, H).
pub fn parse_ec(s: &str) -> Result<EcLevel, DomainError> {
    match s.trim().to_ascii_uppercase().as_str() {
        "L" => Ok(EcLevel::L),
        "M" => Ok(EcLevel::M),
        "Q" => Ok(EcLevel::Q),
        "H" => Ok(EcLevel::H),
        other => Err(DomainError::new(
            "ec",
            format!("must be L, M, Q or H (got {other:?})"),
        )),
    }
}

/// What to print and how.
#[derive(Debug, Clone)]
pub struct SheetRequest {
    /// The batch.
    pub batch: BatchId,
    /// The label sheet.
    pub layout: Layout,
    /// PDF, PNG, SVG, ZIP or CSV.
    pub format: Format,
    /// Which stamps.
    pub selection: Selection,
    /// 1-based label to start at on the first sheet.
    pub start_at: u32,
    /// QR error correction.
    pub ec: EcLevel,
    /// The caption's language.
    pub lang: Lang,
    /// Whether to print crop marks.
    pub crop_marks: bool,
    /// The printer's calibration.
    pub calibration: Calibration,
    /// Resolution of PNG output: 300 or 600.
    pub dpi: u32,
    /// For PNG and SVG: only this page (1-based), e.g. a preview.
    pub page: Option<u32>,
    /// Who prints, for the records.
    pub actor: String,
    /// Print stamps with claim codes that were printed before: a second
    /// copy of a secret, so only when asked for (and recorded).
    pub reprint_claim_codes: bool,
    /// White modules around each symbol, on the label (`label::QUIET_ZONES`).
    pub quiet_zone: u32,
}

/// A checked request with its stamps, ready to write.
#[derive(Debug)]
pub struct Prepared {
    /// What was asked.
    pub request: SheetRequest,
    /// The batch.
    pub batch: Batch,
    /// Its product's name.
    pub product_name: String,
    /// The stamps, in print order.
    pub stamps: Vec<StoredStamp>,
    /// The label design.
    pub design: Design,
    /// The sheet, as the PDF writer takes it.
    pub sheet: Sheet,
    base_url: String,
    claim_codes: ClaimCodes,
}

impl Prepared {
    /// How many stamps of the job carry a real claim code (the file then
    /// holds secrets: written 0600, downloads recorded).
    pub fn claim_codes(&self) -> usize {
        match self.claim_codes {
            ClaimCodes::Real(_) => self.stamps.iter().filter(|s| s.claimable).count(),
            _ => 0,
        }
    }

    /// The same job with every claim code masked: a preview shows where the
    /// scratch panel goes, never the secret under it.
    pub fn masked(mut self) -> Prepared {
        if !matches!(self.claim_codes, ClaimCodes::None) {
            self.claim_codes = ClaimCodes::Masked;
        }
        self
    }

    /// What stamp `s`'s scratch panel shows.
    fn claim_code(&self, s: &StoredStamp) -> Option<String> {
        self.claim_codes.shown(s)
    }

    /// One stamp's label contents.
    fn placed(&self, s: &StoredStamp) -> Result<Placed, String> {
        let matrix = qr::encode(&self.base_url, &s.code(), &s.form, self.request.ec)
            .map_err(|e| e.to_string())?;
        Ok(Placed {
            matrix,
            short_code: s.serial.short_code().to_string(),
            claim_code: self.claim_code(s),
        })
    }

    /// Pages the sheet has.
    pub fn pages(&self) -> u32 {
        let per = self.request.layout.per_sheet();
        (self.request.start_at - 1 + self.stamps.len() as u32)
            .div_ceil(per)
            .max(1)
    }
}

/// Checks the request and loads its stamps.
#[tracing::instrument(skip_all)]
/// `prepare` for a caller who must be allowed the batch; `max_zip`: the
/// most stamps a ZIP may hold (HTTP answers in one response).
pub fn prepare_for(
    ctx: &super::Context,
    grant: &crate::domain::Grant,
    request: SheetRequest,
    max_zip: Option<usize>,
) -> ServiceResult<Prepared> {
    super::access::batch(ctx.store(), grant, request.batch)?;
    let format = request.format;
    let prepared = prepare(ctx, request)?;
    // Over HTTP a PNG or SVG page is a preview, not a print: no secrets in it.
    let prepared = if matches!(format, Format::Png | Format::Svg) {
        prepared.masked()
    } else {
        prepared
    };
    if let Some(max) = max_zip
        && format == Format::Zip
        && prepared.stamps.len() > max
    {
        return Err(DomainError::new(
            "count",
            format!(
                "at most {max} stamps per ZIP over HTTP; use from/count, or `tem sheet` for more"
            ),
        )
        .into());
    }
    Ok(prepared)
}

/// Loads and checks everything a print job needs before anything is written.
pub fn prepare(ctx: &super::Context, request: SheetRequest) -> ServiceResult<Prepared> {
    let (store, base_url) = (ctx.store(), ctx.base_url());
    check_request(&request)?;
    let batch = store
        .batch(request.batch)?
        .ok_or_else(|| not_found("batch", request.batch))?;
    let product = store
        .product(batch.product_id)?
        .ok_or_else(|| not_found("product", batch.product_id))?;
    let producer = store
        .producer(product.producer_id)?
        .ok_or_else(|| not_found("producer", product.producer_id))?;
    let stamps = select(store, &batch, &request.selection)?;
    let stamps = on_page(&request, stamps)?;
    check_stamps(&request, &batch, &stamps)?;
    sheet_claims::check_reprints(request.reprint_claim_codes, &stamps)?;
    let claim_codes = ClaimCodes::load(ctx, &stamps)?;
    let design = design_for(&request, base_url, &product, &producer, &stamps)?;
    let sheet = sheet_for(&request, &batch, &product, &design);
    Ok(Prepared {
        request,
        batch,
        product_name: product.name,
        stamps,
        design: design.0,
        sheet,
        base_url: base_url.to_string(),
        claim_codes,
    })
}

/// The layout, printer profile, resolution and first label are usable.
fn check_request(request: &SheetRequest) -> ServiceResult<()> {
    request
        .layout
        .check()
        .map_err(|e| DomainError::new("layout", e.to_string()))?;
    request
        .calibration
        .check()
        .map_err(|e| DomainError::new("printer", e))?;
    if !crate::render::raster::DPIS.contains(&request.dpi) {
        return Err(
            DomainError::new("dpi", format!("must be 300 or 600 (got {})", request.dpi)).into(),
        );
    }
    if !label::QUIET_ZONES.contains(&request.quiet_zone) {
        return Err(DomainError::new(
            "quiet_zone",
            format!("must be 2, 3 or 4 modules (got {})", request.quiet_zone),
        )
        .into());
    }
    let per = request.layout.per_sheet();
    if request.start_at == 0 || request.start_at > per {
        return Err(DomainError::new(
            "start_at",
            format!("must be between 1 and {per} (the labels on one sheet)"),
        )
        .into());
    }
    Ok(())
}

/// Only the stamps that land on the requested page, when one is.
fn on_page(request: &SheetRequest, stamps: Vec<StoredStamp>) -> ServiceResult<Vec<StoredStamp>> {
    let per = request.layout.per_sheet();
    let Some(page) = request.page else {
        return Ok(stamps);
    };
    let first_cap = (per - (request.start_at - 1)) as usize;
    let (start, len) = if page <= 1 {
        (0, first_cap)
    } else {
        (first_cap + (page as usize - 2) * per as usize, per as usize)
    };
    if page == 0 || start >= stamps.len() {
        let pages = (request.start_at - 1 + stamps.len() as u32)
            .div_ceil(per)
            .max(1);
        return Err(DomainError::new("page", format!("must be between 1 and {pages}")).into());
    }
    Ok(stamps.into_iter().skip(start).take(len).collect())
}

/// Something to print, within one file's limit, and nothing voided.
fn check_stamps(
    request: &SheetRequest,
    batch: &Batch,
    stamps: &[StoredStamp],
) -> ServiceResult<()> {
    if stamps.is_empty() {
        return Err(ServiceError::Conflict(match request.selection {
            Selection::Unprinted => format!(
                "batch {} has no unprinted stamps; issue some, or choose stamps with --from/--count to reprint",
                batch.id
            ),
            _ => "no stamps selected".into(),
        }));
    }
    if stamps.len() as u32 > MAX_STAMPS_PER_FILE {
        return Err(DomainError::new(
            "count",
            format!(
                "at most {MAX_STAMPS_PER_FILE} stamps per file; split the job with --from/--count"
            ),
        )
        .into());
    }
    let voided: Vec<u32> = stamps
        .iter()
        .filter(|s| s.state == StampState::Voided)
        .map(|s| s.seq)
        .collect();
    if !voided.is_empty() {
        let shown: Vec<String> = voided.iter().take(10).map(u32::to_string).collect();
        return Err(ServiceError::Conflict(format!(
            "{} selected stamp(s) are voided and must not be printed: number {}",
            voided.len(),
            shown.join(", ")
        )));
    }
    Ok(())
}

/// The label design for these stamps, checked against the printer's dots.
fn design_for(
    request: &SheetRequest,
    base_url: &str,
    product: &Product,
    producer: &Producer,
    stamps: &[StoredStamp],
) -> ServiceResult<(Design, Option<ClaimPanel>)> {
    // Every code of a form has the same length, so one symbol per form in
    // the job gives the size: the largest is the one that must fit.
    let mut sample: Option<qr::Matrix> = None;
    for s in stamps {
        if sample.is_some() && !matches!(s.form, crate::codes::StampForm::Gs1 { .. }) {
            continue;
        }
        let m = qr::encode(base_url, &s.code(), &s.form, request.ec)
            .map_err(|e| DomainError::new("base_url", format!("does not fit a QR code: {e}")))?;
        let gs1 = matches!(s.form, crate::codes::StampForm::Gs1 { .. });
        if sample.as_ref().is_none_or(|p| m.width > p.width) {
            sample = Some(m);
        }
        if gs1 {
            break;
        }
    }
    let sample = sample.ok_or_else(|| DomainError::new("stamps", "no stamps to print"))?;
    let content = Content {
        product: product.name.clone(),
        producer: producer.name.clone(),
        stars: product.ocop.as_ref().map(|o| o.stars),
        lang: request.lang,
        widest_code: widest_short_code(stamps),
        quiet_zone: request.quiet_zone,
        reserve_bottom: 0.0,
    };
    let modules = sample.width as u32;
    let (design, panel) = if stamps.iter().any(|s| s.claimable) {
        claim_panel::design(&request.layout, &content, modules).map(|(d, p)| (d, Some(p)))
    } else {
        label::design(&request.layout, &content, modules).map(|d| (d, None))
    }
    .map_err(|e| DomainError::new("layout", e.to_string()))?;
    if matches!(request.format, Format::Png | Format::Zip) {
        // Whole dots per module can only round down; check what is left.
        let dots = crate::render::raster::module_dots(design.module, request.dpi);
        let printed = dots as f32 * 25.4 / request.dpi as f32;
        if printed + 1e-4 < label::MIN_MODULE_MM {
            return Err(DomainError::new(
                "dpi",
                format!(
                    "at {} dpi a {:.2} mm module becomes {dots} dots = {printed:.2} mm, below {} mm; use --dpi 600",
                    request.dpi,
                    design.module,
                    label::MIN_MODULE_MM
                ),
            )
            .into());
        }
    }
    Ok((design, panel))
}

/// The sheet: layout, design, first label, marks, profile and the footer
/// in the request's language.
fn sheet_for(
    request: &SheetRequest,
    batch: &Batch,
    product: &Product,
    (design, claim): &(Design, Option<ClaimPanel>),
) -> Sheet {
    let (footer, title) = match request.lang {
        Lang::Vi => (
            format!(
                "tem · Lô {} (#{}) · {}",
                batch.lot_code, batch.id, product.name
            ),
            "tem số".to_string(),
        ),
        Lang::En => (
            format!(
                "tem · Lot {} (#{}) · {}",
                batch.lot_code, batch.id, product.name
            ),
            "stamps".to_string(),
        ),
    };
    Sheet {
        layout: request.layout.clone(),
        design: design.clone(),
        claim: *claim,
        first_slot: request.start_at - 1,
        crop_marks: request.crop_marks,
        calibration: request.calibration,
        footer,
        title,
    }
}

fn widest_short_code(stamps: &[StoredStamp]) -> Option<String> {
    let bold = crate::render::font::font(crate::render::font::Weight::Bold);
    stamps
        .iter()
        .map(|s| s.serial.short_code().to_string())
        .max_by(|a, b| bold.width(a, 1.0).total_cmp(&bold.width(b, 1.0)))
}

fn select(
    store: &dyn Store,
    batch: &Batch,
    selection: &Selection,
) -> ServiceResult<Vec<StoredStamp>> {
    const PAGE: u32 = 10_000;
    match selection {
        Selection::Unprinted | Selection::Range { .. } => {
            let (from, count) = match selection {
                Selection::Range { from, count } => {
                    if *from == 0 || *count == 0 {
                        return Err(DomainError::new(
                            "from",
                            "stamp numbers and counts start at 1",
                        )
                        .into());
                    }
                    (*from, *count)
                }
                _ => (1, u32::MAX),
            };
            let mut out = Vec::new();
            let mut next = from;
            let end = from.saturating_add(count);
            while next < end {
                let page = store.stamps(batch.id, next, PAGE.min(end - next))?;
                let Some(last) = page.last() else { break };
                next = last.seq + 1;
                out.extend(page.into_iter().filter(|s| {
                    !matches!(selection, Selection::Unprinted) || s.state == StampState::Issued
                }));
                if out.len() as u32 > MAX_STAMPS_PER_FILE {
                    break;
                }
            }
            if let Selection::Range { from, count } = selection
                && (out.len() as u32) < *count
            {
                return Err(DomainError::new(
                    "count",
                    format!(
                        "batch {} has no stamps numbered {}–{}",
                        batch.id,
                        from,
                        from.saturating_add(count - 1)
                    ),
                )
                .into());
            }
            Ok(out)
        }
        Selection::Listed(items) => {
            let mut out: Vec<StoredStamp> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let serial = parse_serial(item).ok_or_else(|| {
                    DomainError::new(
                        format!("serials[{i}]"),
                        format!("{item:?} is not a serial, short code or stamp URL"),
                    )
                })?;
                let stamp = store
                    .stamp(serial)?
                    .ok_or_else(|| not_found("stamp", serial))?;
                if stamp.batch != batch.id {
                    return Err(DomainError::new(
                        format!("serials[{i}]"),
                        format!(
                            "stamp {serial} belongs to batch {}, not {}",
                            stamp.batch, batch.id
                        ),
                    )
                    .into());
                }
                if !out.iter().any(|s| s.serial == stamp.serial) {
                    out.push(stamp);
                }
            }
            out.sort_by_key(|s| s.seq);
            Ok(out)
        }
    }
}

/// A serial as 16 hex digits, a short code, or a whole stamp URL/code.
pub fn parse_serial(text: &str) -> Option<Serial> {
    let t = text.trim();
    Serial::parse(t)
        .or_else(|| ShortCode::parse(t).map(ShortCode::serial))
        .or_else(|| StampCode::parse(t).ok().map(|c| c.serial))
}

/// Encodes the QR symbols of `stamps` on every core, keeping order.
fn encode_all(p: &Prepared, stamps: &[StoredStamp]) -> Vec<Result<Placed, String>> {
    crate::parallel::par_map(stamps, |s| p.placed(s))
}

/// Writes the PDF, reporting progress (stamps done) as it goes. Pages are
/// encoded and compressed on every core, a few at a time, and written in
/// order: memory stays flat however many stamps there are.
#[tracing::instrument(skip_all)]
pub fn write_pdf<W: Write + Sync>(
    p: &Prepared,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<(Written, W)> {
    let mut writer = PdfSheetWriter::new(out, p.sheet.clone(), p.stamps.len() as u64)?;
    let at_once = crate::parallel::cores() * 2;
    let pages = pages(p);
    for (group_index, group) in pages.chunks(at_once).enumerate() {
        let first_index = (group_index * at_once) as u32;
        let numbered: Vec<(u32, u32, &[StoredStamp])> = group
            .iter()
            .enumerate()
            .map(|(k, (first_slot, stamps))| (first_index + k as u32, *first_slot, *stamps))
            .collect();
        let shared = &writer;
        let built = crate::parallel::par_map(&numbered, |&(index, first_slot, stamps)| {
            let placed = stamps
                .iter()
                .map(|s| Ok((p.placed(s).map_err(std::io::Error::other)?, s.seq)))
                .collect::<std::io::Result<Vec<_>>>()?;
            let content = shared.page_content(index, first_slot, &placed)?;
            Ok::<_, std::io::Error>((content, stamps.len() as u64))
        });
        for page in built {
            let (content, n) = page?;
            writer.push_page(content, n)?;
            progress(n);
        }
    }
    writer.finish()
}

/// The pages of a prepared job: (first label slot, stamps) for each page.
pub fn pages(p: &Prepared) -> Vec<(u32, &[StoredStamp])> {
    let per = p.request.layout.per_sheet() as usize;
    let first_slot = if p.request.page.is_some_and(|n| n > 1) {
        0
    } else {
        (p.request.start_at - 1) as usize
    };
    let mut out = Vec::new();
    let mut rest: &[StoredStamp] = &p.stamps;
    let mut slot = first_slot;
    while !rest.is_empty() {
        let take = (per - slot).min(rest.len());
        out.push((slot as u32, &rest[..take]));
        rest = &rest[take..];
        slot = 0;
    }
    out
}

/// Renders PNG or SVG pages, handing each to `sink` with its page number.
#[tracing::instrument(skip_all)]
pub fn write_pages(
    p: &Prepared,
    sink: &mut dyn FnMut(u32, Vec<u8>) -> std::io::Result<()>,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<u32> {
    let pages = pages(p);
    let total = pages.len() as u32;
    let page_offset = p.request.page.map_or(0, |n| n.saturating_sub(1));
    let all_pages = p.pages().max(total + page_offset);
    for (i, (first_slot, stamps)) in pages.into_iter().enumerate() {
        let placed: Vec<Placed> = encode_all(p, stamps)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(std::io::Error::other)?;
        let number = page_offset + i as u32 + 1;
        let numbers = stamps
            .first()
            .map(|s| s.seq)
            .zip(stamps.last().map(|s| s.seq));
        let footer = p.sheet.footer_line(number, all_pages, numbers);
        let bytes = match p.request.format {
            Format::Svg => {
                crate::render::svg::page(&p.sheet, &placed, first_slot, &footer).into_bytes()
            }
            _ => crate::render::raster::page(&p.sheet, &placed, first_slot, &footer, p.request.dpi)
                .ok_or_else(|| std::io::Error::other("page too large to rasterise"))?
                .to_png()?,
        };
        sink(number, bytes)?;
        progress(stamps.len() as u64);
    }
    Ok(total)
}

/// One SVG and one PNG per stamp (named by number and serial) and a CSV manifest.
#[tracing::instrument(skip_all)]
pub fn write_zip<W: Write + std::io::Seek>(
    p: &Prepared,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<W> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(out);
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let z = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    zip.start_file("stamps.csv", deflated).map_err(z)?;
    let manifest = write_csv(p, Vec::new())?;
    zip.write_all(&manifest)?;
    for chunk in p.stamps.chunks(256) {
        let placed = encode_all(p, chunk);
        for (stamp, placed) in chunk.iter().zip(placed) {
            let placed = placed.map_err(std::io::Error::other)?;
            let name = format!("{:06}-{}", stamp.seq, stamp.serial);
            zip.start_file(format!("svg/{name}.svg"), deflated)
                .map_err(z)?;
            zip.write_all(crate::render::svg::label(&p.sheet, &placed).as_bytes())?;
            let png = crate::render::raster::label(&p.sheet, &placed, p.request.dpi)
                .ok_or_else(|| std::io::Error::other("label too large to rasterise"))?
                .to_png()?;
            zip.start_file(format!("png/{name}.png"), stored)
                .map_err(z)?;
            zip.write_all(&png)?;
        }
        progress(chunk.len() as u64);
    }
    zip.finish().map_err(z)
}

/// Writes serial, short code and URL per stamp, for print shops with their
/// own variable-data software; and the claim code (grouped as printed),
/// when the job has claim stamps.
#[tracing::instrument(skip_all)]
pub fn write_csv<W: Write>(p: &Prepared, out: W) -> std::io::Result<W> {
    let mut w = csv::Writer::from_writer(out);
    let claims = !matches!(p.claim_codes, ClaimCodes::None);
    let mut header = vec!["batch_id", "seq", "serial", "short_code", "url"];
    if claims {
        header.push("claim_code");
    }
    w.write_record(&header)?;
    for s in &p.stamps {
        let mut row = vec![
            s.batch.to_string(),
            s.seq.to_string(),
            s.serial.to_string(),
            s.serial.short_code().to_string(),
            s.url(&p.base_url),
        ];
        if claims {
            row.push(p.claim_code(s).unwrap_or_default());
        }
        w.write_record(&row)?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Records the print job: the stamps become `printed` (reprints are counted).
#[tracing::instrument(skip_all)]
pub fn record(store: &dyn Store, p: &Prepared) -> ServiceResult<PrintJob> {
    let seqs: Vec<u32> = p.stamps.iter().map(|s| s.seq).collect();
    let (first, last) = (seqs[0], seqs[seqs.len() - 1]);
    let stamps = if last - first + 1 == seqs.len() as u32 {
        PrintedStamps::Range { first, last }
    } else {
        PrintedStamps::List(seqs)
    };
    let job = store.record_print_job(&NewPrintJob {
        batch: p.batch.id,
        actor: p.request.actor.clone(),
        layout: p.request.layout.name.clone(),
        format: p.request.format.as_str().to_string(),
        stamps,
        claim_codes: p.claim_codes() as u32,
        claim_reprint: p.request.reprint_claim_codes && p.claim_codes() > 0,
    })?;
    tracing::info!(batch.id = %p.batch.id, stamps = job.stamps, reprinted = job.reprinted, format = %job.format, "print job recorded");
    Ok(job)
}

/// A CSV, a ZIP or one page, made in full; the print job is recorded for
/// the CSV and the ZIP (a page is a preview).
pub fn whole_file(
    store: &dyn Store,
    prepared: &Prepared,
    format: Format,
) -> Result<Vec<u8>, ServiceError> {
    let bytes = match format {
        Format::Csv => write_csv(prepared, Vec::new()),
        Format::Zip => write_zip(prepared, std::io::Cursor::new(Vec::new()), &mut |_| ())
            .map(std::io::Cursor::into_inner),
        _ => {
            let mut page = Vec::new();
            write_pages(
                prepared,
                &mut |_, bytes| {
                    page = bytes;
                    Ok(())
                },
                &mut |_| (),
            )
            .map(|_| page)
        }
    }
    .map_err(super::internal)?;
    // Made in full: now the stamps are printed (a page is a preview).
    if matches!(format, Format::Csv | Format::Zip) {
        record(store, prepared)?;
    }
    Ok(bytes)
}
