//! Reading QR codes back from a photo or scan (PNG/JPEG), possibly several
//! stamps in one picture. Uses rxing (a ZXing port), which found the most
//! codes on whole label sheets and skewed phone photos in our comparison.

use std::collections::HashSet;
use std::path::Path;

use image::DynamicImage;

use crate::picture::{self, PictureError};

/// Why the codes in a photo could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("{path}: cannot read the image: {reason}")]
    /// The file could not be read or decoded.
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    #[error("{path}: {reason}")]
    /// The picture was refused before decoding (too large, not an image).
    Refused {
        /// The file.
        path: String,
        /// Why.
        reason: PictureError,
    },
}

/// Above this, images are scaled down before decoding: a stamp's QR still
/// has several pixels per module, and decoding time falls with the area.
const DECODE_SIDE: u32 = 4_000;
/// A photo file larger than this is not read at all: a 32-megapixel JPEG
/// is under 20 MB.
pub const MAX_FILE_BYTES: u64 = 40 << 20;

/// Decodes every QR code in an image file; returns their texts, each once,
/// in the order found.
pub fn decode_file(path: &Path) -> Result<Vec<String>, PhotoError> {
    let name = path.display().to_string();
    let unreadable = |reason: String| PhotoError::Unreadable {
        path: name.clone(),
        reason,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(unreadable(format!(
            "the file is {} MB; photos over {} MB are not read",
            size >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    decode_bytes(&name, &bytes)
}

/// Decodes every QR code in an image held in memory (an upload); `name`
/// says which one in errors. The picture is decoded within
/// `crate::picture`'s limits.
pub fn decode_bytes(name: &str, bytes: &[u8]) -> Result<Vec<String>, PhotoError> {
    let picture = picture::decode(bytes).map_err(|reason| PhotoError::Refused {
        path: name.to_string(),
        reason,
    })?;
    Ok(decode_image(&picture.image))
}

/// Decodes every QR code in a decoded image.
pub fn decode_image(image: &DynamicImage) -> Vec<String> {
    // Grey first (a third of RGB), then smaller: a QR code has no colour,
    // and its reading does not depend on which way up the photo is.
    let luma = DynamicImage::ImageLuma8(image.to_luma8());
    let luma = picture::shrink(&luma, DECODE_SIDE).into_luma8();
    let (w, h) = luma.dimensions();
    let mut hints = rxing::DecodeHints {
        PossibleFormats: Some(HashSet::from([rxing::BarcodeFormat::QR_CODE])),
        ..Default::default()
    };
    let mut texts: Vec<String> = Vec::new();
    fn push(texts: &mut Vec<String>, t: &str) {
        if !texts.iter().any(|x| x == t) {
            texts.push(t.to_string());
        }
    }
    if let Ok(found) =
        rxing::helpers::detect_multiple_in_luma_with_hints(luma.as_raw().clone(), w, h, &mut hints)
    {
        for r in &found {
            push(&mut texts, r.getText());
        }
    }
    if texts.is_empty()
        && let Ok(r) = rxing::helpers::detect_in_luma_with_hints(
            luma.into_raw(),
            w,
            h,
            Some(rxing::BarcodeFormat::QR_CODE),
            &mut hints,
        )
    {
        push(&mut texts, r.getText());
    }
    texts
}
