//! Reading QR codes back from a photo or scan (PNG/JPEG), possibly several
//! stamps in one picture. Uses rxing (a ZXing port), which found the most
//! codes on whole label sheets and skewed phone photos in our comparison.

use std::collections::HashSet;
use std::path::Path;

use image::{DynamicImage, ImageReader};

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("{path}: cannot read the image: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: the image is too large ({width}×{height}); at most {MAX_SIDE} pixels a side")]
    TooLarge {
        path: String,
        width: u32,
        height: u32,
    },
}

/// Photos from a 200-megapixel phone are ~16,000 px wide; larger inputs are
/// more likely a decompression bomb than a stamp.
pub const MAX_SIDE: u32 = 20_000;
/// Above this, images are scaled down before decoding: a stamp's QR still
/// has several pixels per module, and decoding time falls with the area.
const DECODE_SIDE: u32 = 4_000;

/// Decodes every QR code in an image file; returns their texts, each once,
/// in the order found.
pub fn decode_file(path: &Path) -> Result<Vec<String>, PhotoError> {
    let bytes = std::fs::read(path).map_err(|e| PhotoError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    decode_bytes(&path.display().to_string(), &bytes)
}

/// Decodes every QR code in an image held in memory (an upload); `name`
/// says which one in errors.
pub fn decode_bytes(name: &str, bytes: &[u8]) -> Result<Vec<String>, PhotoError> {
    let unreadable = |reason: String| PhotoError::Unreadable {
        path: name.to_string(),
        reason,
    };
    let reader = || {
        ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| unreadable(e.to_string()))
    };
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| unreadable(e.to_string()))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PhotoError::TooLarge {
            path: name.to_string(),
            width,
            height,
        });
    }
    let image = reader()?.decode().map_err(|e| unreadable(e.to_string()))?;
    Ok(decode_image(&image))
}

/// Decodes every QR code in a decoded image.
pub fn decode_image(image: &DynamicImage) -> Vec<String> {
    let image = if image.width().max(image.height()) > DECODE_SIDE {
        image.resize(
            DECODE_SIDE,
            DECODE_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        image.clone()
    };
    let luma = image.to_luma8();
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
