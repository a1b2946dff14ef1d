//! A batch's stamps as CSV, for the CLI (`tem issue --csv`, `tem export`)
//! and the API (`GET /api/v1/batches/{id}/stamps.csv`). One reader pages
//! through the registry, one writer per document:
//! - [`Columns::Print`], for print shops and variable-data printing: what a
//!   label needs (`batch_id, seq, serial, short_code, kid, url`);
//! - [`Columns::Status`], for the producer's books: each stamp's state and
//!   scans (`seq, serial, short_code, state, scan_count, first_scan_at, url`).

use std::io::Write;

use super::{ServiceResult, access, internal};
use crate::codes::{Kid, StampCode, StampForm};
use crate::domain::{Batch, BatchId, Grant};
use crate::store::{StoredStamp, prelude::*};

/// Rows read from the registry at a time.
const PAGE: u32 = 10_000;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// What a label printer needs.
    Print,
    /// State and scans of each stamp.
    Status,
}

impl Columns {
    /// The header row.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            Columns::Print => &["batch_id", "seq", "serial", "short_code", "kid", "url"],
            Columns::Status => &[
                "seq",
                "serial",
                "short_code",
                "state",
                "scan_count",
                "first_scan_at",
                "url",
            ],
        }
    }
}

/// Writes print rows as stamps are issued (`tem issue --csv`).
pub struct PrintRows<W: Write> {
    writer: csv::Writer<W>,
    base_url: String,
    form: StampForm,
}

impl<W: Write> PrintRows<W> {
    /// Starts the document (writes the header); URLs in `form`.
    pub fn new(out: W, base_url: &str, form: StampForm) -> ServiceResult<Self> {
        let mut writer = csv::Writer::from_writer(out);
        writer
            .write_record(Columns::Print.header())
            .map_err(csv_error)?;
        Ok(PrintRows {
            writer,
            base_url: base_url.to_string(),
            form,
        })
    }

    /// One stamp.
    pub fn row(&mut self, kid: &Kid, seq: u32, code: &StampCode) -> ServiceResult<()> {
        self.writer
            .write_record([
                code.batch.to_string(),
                seq.to_string(),
                code.serial.to_string(),
                code.serial.short_code().to_string(),
                kid.to_string(),
                code.url_in(&self.base_url, &self.form),
            ])
            .map_err(csv_error)
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> ServiceResult<W> {
        self.writer.into_inner().map_err(internal)
    }
}

/// Writes stamps `from`.., at most `count`, of `batch` as `columns` to
/// `out`; `on_page` hears how many rows each page added. Returns the rows
/// written.
pub fn write(
    store: &dyn Store,
    base_url: &str,
    batch: BatchId,
    (from, count): (u32, u32),
    columns: Columns,
    out: impl Write,
    on_page: &mut dyn FnMut(u64),
) -> ServiceResult<u64> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns.header()).map_err(csv_error)?;
    let (mut next, mut remaining, mut written) = (from.max(1), count, 0u64);
    while remaining > 0 {
        let limit = remaining.min(PAGE);
        let page = store.stamps(batch, next, limit)?;
        let Some(last) = page.last() else { break };
        let scans = match columns {
            Columns::Status => store.stamp_scans(batch, next, limit)?,
            Columns::Print => Vec::new(),
        };
        next = last.seq + 1;
        remaining = remaining.saturating_sub(page.len() as u32);
        for (i, s) in page.iter().enumerate() {
            match columns {
                Columns::Print => writer.write_record(print_row(s, base_url)),
                Columns::Status => {
                    writer.write_record(status_row(s, scans.get(i).copied(), base_url))
                }
            }
            .map_err(csv_error)?;
        }
        written += page.len() as u64;
        on_page(page.len() as u64);
    }
    writer.flush().map_err(internal)?;
    Ok(written)
}

/// The status document of a batch the caller may see, in memory (the API:
/// at most `count` rows), with the batch for the file name.
pub fn status_csv(
    store: &dyn Store,
    grant: &Grant,
    base_url: &str,
    batch: BatchId,
    (from, count): (u32, u32),
) -> ServiceResult<(Batch, Vec<u8>)> {
    let b = access::batch(store, grant, batch)?;
    let mut out = Vec::with_capacity(count.min(PAGE) as usize * 200);
    write(
        store,
        base_url,
        batch,
        (from, count),
        Columns::Status,
        &mut out,
        &mut |_| {},
    )?;
    Ok((b, out))
}

fn print_row(s: &StoredStamp, base_url: &str) -> [String; 6] {
    let code = s.code();
    [
        code.batch.to_string(),
        s.seq.to_string(),
        code.serial.to_string(),
        code.serial.short_code().to_string(),
        s.kid.to_string(),
        s.url(base_url),
    ]
}

fn status_row(
    s: &StoredStamp,
    scans: Option<(u32, u64, Option<jiff::Timestamp>)>,
    base_url: &str,
) -> [String; 7] {
    // The scan counts come from a second read of the same numbers; a stamp
    // without a row there has not been scanned.
    let (count, first) = match scans {
        Some((seq, count, first)) if seq == s.seq => (count, first),
        _ => (0, None),
    };
    [
        s.seq.to_string(),
        s.serial.to_string(),
        s.serial.short_code().to_string(),
        s.state.as_str().to_string(),
        count.to_string(),
        first.map(|f| f.to_string()).unwrap_or_default(),
        s.url(base_url),
    ]
}

fn csv_error(e: csv::Error) -> super::ServiceError {
    internal(format!("writing CSV: {e}"))
}
