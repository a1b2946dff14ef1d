//! `GET /api/v1/batches/{id}/sheet.{pdf,png,svg,zip,csv}`: printable files
//! over HTTP. PDFs stream as they are produced (a 50,000-stamp sheet starts
//! downloading at once and never sits whole in memory); PNG and SVG return
//! one page (`?page=`), ZIP and CSV are built in memory and capped.
//!
//! The print job (stamps `issued` → `printed`) is recorded only once the
//! whole file was produced: a ZIP or CSV before its answer goes out, a PDF
//! after its last byte was handed to the connection (a download cut short
//! records nothing). One PNG or SVG page is a preview and records nothing:
//! print from the PDF, ZIP or CSV, or with `tem sheet`.

use crate::service::Context;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::stream::ChannelWriter;
use super::{ApiError, AppState};
use crate::domain::{BatchId, DomainError};
use crate::render::label::Lang;
use crate::render::layout::Layout;
use crate::render::pdf::Calibration;
use crate::service::ServiceError;
use crate::service::sheet::{self, Format, Selection, SheetRequest};

/// Stamps per ZIP over HTTP (each label is two files); the CLI has no cap.
pub const MAX_ZIP_STAMPS: usize = 2_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SheetQuery {
    /// a4-65 (default), a4-40, a4-21, a4-14 or a4-round30.
    layout: Option<String>,
    /// First stamp number (with `count`); default: every unprinted stamp.
    from: Option<u32>,
    count: Option<u32>,
    /// Label to start at on the first sheet (1 = top left).
    start_at: Option<u32>,
    /// QR error correction: L, M (default), Q or H.
    ec: Option<String>,
    /// vi (default) or en.
    lang: Option<String>,
    crop_marks: Option<bool>,
    /// PNG resolution: 300 (default) or 600.
    dpi: Option<u32>,
    /// PNG and SVG: which page (default 1).
    page: Option<u32>,
    /// A printer profile from the server's tem.toml.
    printer: Option<String>,
    /// Print claim stamps that were printed before (recorded; default false).
    reprint_claim_codes: Option<bool>,
    /// White modules around each QR symbol on the label: 2, 3 or 4 (default 4).
    quiet_zone: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/batches/{id}/sheet.{format}", tag = "stamps", security(("bearer" = [])),
    params(("id" = u32, Path), ("format" = String, Path, description = "pdf, png, svg, zip or csv"), SheetQuery),
    responses(
        (status = 200, description = "the file; a whole PDF, ZIP or CSV marks the stamps printed and records a print job once produced in full; a PNG or SVG page is a preview"),
        (status = 400, body = crate::web::error::ErrorBody), (status = 404, body = crate::web::error::ErrorBody),
        (status = 409, body = crate::web::error::ErrorBody, description = "nothing to print, or voided stamps selected")))]
pub(crate) async fn sheet(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(u32, String)>,
    query: web::Query<SheetQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, ext) = path.into_inner();
    respond(caller, state, id, &ext, query.into_inner()).await
}

/// The file for `caller` (the API's token or a dashboard session): checks,
/// produces the file, and records the print job once it is complete.
pub(crate) async fn respond(
    caller: Caller,
    state: web::Data<AppState>,
    id: u32,
    ext: &str,
    q: SheetQuery,
) -> Result<HttpResponse, ApiError> {
    let format = Format::parse(ext).map_err(ServiceError::from)?;
    let request = sheet_request(&state, BatchId(id), format, q, caller.name.clone())?;
    let state = state.into_inner();
    let ctx = state.ctx.clone();
    // Check everything before the first byte goes out.
    let prepared =
        web::block(move || sheet::prepare_for(&ctx, &caller.grant, request, Some(MAX_ZIP_STAMPS)))
            .await??;
    let ctx = state.ctx.clone();

    let filename = format!(
        "tem-batch-{}-{}.{}",
        prepared.batch.id,
        prepared.batch.lot_code,
        format.as_str()
    );
    let mut response = HttpResponse::Ok();
    response
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header(("X-Tem-Stamps", prepared.stamps.len().to_string()));
    if prepared.claim_codes() > 0 {
        // The file holds claim codes: no cache may keep a copy.
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("X-Tem-Claim-Codes", prepared.claim_codes().to_string()));
    }
    match format {
        Format::Pdf => Ok(response.streaming(stream_pdf(ctx, prepared))),
        _ => {
            let bytes =
                web::block(move || sheet::whole_file(ctx.store(), &prepared, format)).await??;
            Ok(response.body(bytes))
        }
    }
}

/// The query as a sheet request: built-in layout, printer profile of this
/// server, stamps (unprinted, or a range), language; PNG and SVG are one
/// page.
fn sheet_request(
    state: &AppState,
    batch: BatchId,
    format: Format,
    q: SheetQuery,
    actor: String,
) -> Result<SheetRequest, ServiceError> {
    let layout_name = q.layout.unwrap_or_else(|| "a4-65".into());
    let layout = Layout::builtin(&layout_name).ok_or_else(|| {
        ServiceError::from(DomainError::new(
            "layout",
            format!("no built-in layout {layout_name:?}; see `tem layouts`"),
        ))
    })?;
    let calibration = match &q.printer {
        None => Calibration::default(),
        Some(name) => *state.printers.get(name).ok_or_else(|| {
            ServiceError::from(DomainError::new(
                "printer",
                format!("no printer profile {name:?} on this server"),
            ))
        })?,
    };
    let selection = match (q.from, q.count) {
        (Some(from), Some(count)) => Selection::Range { from, count },
        (None, None) => Selection::Unprinted,
        _ => {
            return Err(DomainError::new("count", "give both from and count, or neither").into());
        }
    };
    Ok(SheetRequest {
        batch,
        layout,
        format,
        selection,
        start_at: q.start_at.unwrap_or(1),
        ec: sheet::parse_ec(q.ec.as_deref().unwrap_or("M")).map_err(ServiceError::from)?,
        lang: match q.lang.as_deref() {
            None => Lang::Vi,
            Some(l) => Lang::parse(l)
                .ok_or_else(|| ServiceError::from(DomainError::new("lang", "must be vi or en")))?,
        },
        crop_marks: q.crop_marks.unwrap_or(false),
        calibration,
        dpi: q.dpi.unwrap_or(300),
        page: matches!(format, Format::Png | Format::Svg).then(|| q.page.unwrap_or(1)),
        actor,
        reprint_claim_codes: q.reprint_claim_codes.unwrap_or(false),
        quiet_zone: q.quiet_zone.unwrap_or(crate::render::label::QUIET_ZONE),
    })
}

/// The PDF as it is written, page group by page group; the print job is
/// recorded after its last byte, and a failure to record fails the
/// download.
fn stream_pdf(
    ctx: Context,
    prepared: sheet::Prepared,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(16);
    actix_web::rt::task::spawn_blocking(move || {
        let out = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx.clone()));
        if let Err(e) = sheet::write_pdf(&prepared, out, &mut |_| ()) {
            // The client went away (or rendering failed): the
            // stamps were not printed.
            tracing::warn!(error = %e, batch.id = %prepared.batch.id, "sheet PDF not delivered; no print job recorded");
            return;
        }
        if let Err(e) = sheet::record(ctx.store(), &prepared) {
            tracing::error!(error = %e, "recording the print job failed; the download is failed too");
            let _ = tx.blocking_send(Err(e.to_string()));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map_err(actix_web::error::ErrorInternalServerError), rx))
    })
}
