//! The dashboard's look at a batch's next sheet: the first page of the
//! stamps waiting to be printed, rendered by the same sheet code, shrunk to a
//! small greyscale JPEG (~60 KB, for a slow phone connection). Nothing is
//! recorded as printed.

use super::sheet::{self, Format, Selection, SheetRequest};
use super::{ServiceResult, access, internal};
use crate::domain::{Actor, BatchId};
use crate::render::label::Lang;
use crate::render::layout::Layout;

/// The preview of `batch`'s first unprinted page in `layout`, as JPEG.
pub fn jpeg(
    ctx: &super::Context,
    by: &Actor,
    batch: BatchId,
    layout: Layout,
    lang: Lang,
) -> ServiceResult<Vec<u8>> {
    access::batch(ctx.store(), &by.grant, batch)?;
    let prepared = sheet::prepare(
        ctx,
        SheetRequest {
            batch,
            layout,
            format: Format::Png,
            selection: Selection::Unprinted,
            start_at: 1,
            ec: sheet::parse_ec("M")?,
            lang,
            crop_marks: false,
            calibration: Default::default(),
            dpi: 300,
            page: Some(1),
            actor: by.name.clone(),
            reprint_claim_codes: false,
            quiet_zone: crate::render::label::QUIET_ZONE,
        },
    )?
    .masked();
    let mut page = Vec::new();
    sheet::write_pages(
        &prepared,
        &mut |_, bytes| {
            page = bytes;
            Ok(())
        },
        &mut |_| (),
    )
    .map_err(internal)?;
    let img = image::load_from_memory(&page)
        .map_err(internal)?
        .resize(720, 1020, image::imageops::FilterType::Triangle)
        .to_luma8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
        .encode_image(&img)
        .map_err(internal)?;
    Ok(out)
}
