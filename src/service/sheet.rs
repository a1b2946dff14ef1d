//! Printing: choose stamps, lay them out on a label sheet, write the file,
//! and record the print job (which moves the stamps to `printed`).
//!
//! `prepare` checks everything that can be wrong before a byte is written
//! (unknown batch, voided stamps, a layout whose QR modules would be too
//! small); `write_pdf`/`write_csv` stream the file; `record` stores the job.

use std::io::Write;

use qrcode::EcLevel;

use super::{ServiceError, ServiceResult, not_found};
use crate::codes::StampCode;
use crate::domain::{Batch, BatchId, DomainError, Serial, ShortCode, StampState};
use crate::render::label::{self, Content, Design, Lang};
use crate::render::layout::Layout;
use crate::render::pdf::{Calibration, PdfSheetWriter, Placed, Sheet, Written};
use crate::render::qr;
use crate::store::{NewPrintJob, PrintJob, PrintedStamps, Store, StoredStamp};

/// The most stamps one sheet file may hold.
pub const MAX_STAMPS_PER_FILE: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pdf" => Ok(Format::Pdf),
            "csv" => Ok(Format::Csv),
            other => Err(DomainError::new(
                "format",
                format!("must be pdf or csv (got {other:?})"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Csv => "csv",
        }
    }
}

/// Which stamps to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every stamp of the batch not printed yet.
    Unprinted,
    /// `count` stamps from number `from` on (reprints allowed).
    Range { from: u32, count: u32 },
    /// These stamps, by serial, short code or URL.
    Listed(Vec<String>),
}

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

#[derive(Debug, Clone)]
pub struct SheetRequest {
    pub batch: BatchId,
    pub layout: Layout,
    pub format: Format,
    pub selection: Selection,
    /// 1-based label to start at on the first sheet.
    pub start_at: u32,
    pub ec: EcLevel,
    pub lang: Lang,
    pub crop_marks: bool,
    pub calibration: Calibration,
    pub actor: String,
}

/// A checked request with its stamps, ready to write.
#[derive(Debug)]
pub struct Prepared {
    pub request: SheetRequest,
    pub batch: Batch,
    pub product_name: String,
    pub stamps: Vec<StoredStamp>,
    pub design: Design,
    pub sheet: Sheet,
    base_url: String,
}

impl Prepared {
    pub fn pages(&self) -> u32 {
        let per = self.request.layout.per_sheet();
        (self.request.start_at - 1 + self.stamps.len() as u32)
            .div_ceil(per)
            .max(1)
    }
}

/// Checks the request and loads its stamps.
pub fn prepare(
    store: &dyn Store,
    base_url: &str,
    request: SheetRequest,
) -> ServiceResult<Prepared> {
    request
        .layout
        .check()
        .map_err(|e| DomainError::new("layout", e.to_string()))?;
    request
        .calibration
        .check()
        .map_err(|e| DomainError::new("printer", e))?;
    let per = request.layout.per_sheet();
    if request.start_at == 0 || request.start_at > per {
        return Err(DomainError::new(
            "start_at",
            format!("must be between 1 and {per} (the labels on one sheet)"),
        )
        .into());
    }
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
    // Every code of a batch has the same length, so one symbol gives the size.
    let sample = qr::encode(base_url, &stamps[0].code(), request.ec)
        .map_err(|e| DomainError::new("base_url", format!("does not fit a QR code: {e}")))?;
    let content = Content {
        product: product.name.clone(),
        producer: producer.name.clone(),
        stars: product.ocop.as_ref().map(|o| o.stars),
        lang: request.lang,
        widest_code: widest_short_code(&stamps),
    };
    let design = label::design(&request.layout, &content, sample.width as u32)
        .map_err(|e| DomainError::new("layout", e.to_string()))?;
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
    let sheet = Sheet {
        layout: request.layout.clone(),
        design: design.clone(),
        first_slot: request.start_at - 1,
        crop_marks: request.crop_marks,
        calibration: request.calibration,
        footer,
        title,
    };
    Ok(Prepared {
        request,
        batch,
        product_name: product.name,
        stamps,
        design,
        sheet,
        base_url: base_url.to_string(),
    })
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
fn encode_all(base_url: &str, ec: EcLevel, stamps: &[StoredStamp]) -> Vec<Result<Placed, String>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = stamps.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = stamps
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|s| {
                            let matrix =
                                qr::encode(base_url, &s.code(), ec).map_err(|e| e.to_string())?;
                            Ok(Placed {
                                matrix,
                                short_code: s.serial.short_code().to_string(),
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Writes the PDF, reporting progress (stamps done) as it goes.
pub fn write_pdf<W: Write>(
    p: &Prepared,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<(Written, W)> {
    let mut writer = PdfSheetWriter::new(out, p.sheet.clone(), p.stamps.len() as u64)?;
    // Encode a few pages at a time: all cores busy, memory flat.
    let block = (p.request.layout.per_sheet() as usize * 4).max(256);
    for chunk in p.stamps.chunks(block) {
        let placed = encode_all(&p.base_url, p.request.ec, chunk);
        for (stamp, placed) in chunk.iter().zip(placed) {
            let placed = placed.map_err(std::io::Error::other)?;
            writer.add(&placed, stamp.seq)?;
        }
        progress(chunk.len() as u64);
    }
    writer.finish()
}

/// Writes serial, short code and URL per stamp, for print shops with their
/// own variable-data software.
pub fn write_csv<W: Write>(p: &Prepared, out: W) -> std::io::Result<W> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["batch_id", "seq", "serial", "short_code", "url"])?;
    for s in &p.stamps {
        w.write_record([
            s.batch.to_string(),
            s.seq.to_string(),
            s.serial.to_string(),
            s.serial.short_code().to_string(),
            s.code().url(&p.base_url),
        ])?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Records the print job: the stamps become `printed` (reprints are counted).
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
    })?;
    tracing::info!(batch.id = %p.batch.id, stamps = job.stamps, reprinted = job.reprinted, format = %job.format, "print job recorded");
    Ok(job)
}
