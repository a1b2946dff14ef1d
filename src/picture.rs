//! Pictures from outside: product photos, inspection photos, `tem verify
//! IMAGE`. Untrusted bytes, so the limits are set before a pixel is decoded:
//! a 48 KB PNG can declare 20,000 × 20,000 pixels and ask for gigabytes.
//!
//! - Only JPEG and PNG are built in (the `image` crate's other formats are
//!   off in Cargo.toml).
//! - Width and height are read from the header and checked against
//!   `MAX_SIDE` and `MAX_PIXELS`; the decoder gets `image::Limits` (the same
//!   sides and `MAX_ALLOC` bytes for any one allocation), so a header that
//!   lies about its size still cannot make it allocate more.
//! - One picture is decoded at a time in the whole process, so concurrent
//!   uploads cannot add their peaks up.
//! - Downscaling uses `imageops::thumbnail` (area averaging straight into the
//!   small output), not `resize`, whose float intermediate for a tall image
//!   is larger than the image itself; turning a photo upright happens after
//!   it is small.
//!
//! With these limits the largest picture accepted (32 megapixels, a phone
//! camera at full resolution) keeps `tem serve` under 300 MB (docs/security.md).

use std::sync::Mutex;

use image::{DynamicImage, ImageDecoder, ImageReader};

/// Longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 12_000;
/// Most pixels accepted: 32 megapixels (a 48 MP phone's full-resolution
/// photo is 8,000 × 6,000; the usual 12 MP photo is 4,000 × 3,000).
pub const MAX_PIXELS: u64 = 32_000_000;
/// Largest single allocation a decoder may make: 32 MP of RGBA.
pub const MAX_ALLOC: u64 = 128 << 20;

/// Why a picture was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    /// Not a picture tem reads (PNG, JPEG, WebP).
    #[error("not a JPEG or PNG image")]
    NotAnImage,
    #[error(
        "the image is {width} × {height} pixels; at most {MAX_SIDE} a side and {} megapixels are accepted",
        MAX_PIXELS / 1_000_000
    )]
    /// More pixels than tem decodes.
    TooLarge {
        /// Pixels across, as the header declares.
        width: u32,
        /// Pixels down.
        height: u32,
    },
    /// Decoding would need more memory than allowed.
    #[error("the image needs more memory to decode than tem allows ({} MB); send a smaller one", MAX_ALLOC >> 20)]
    TooMuchMemory,
    /// It could not be decoded (the decoder's reason).
    #[error("the image cannot be read: {0}")]
    Unreadable(String),
}

/// One decode at a time (see the module doc).
static DECODING: Mutex<()> = Mutex::new(());

/// A decoded picture and how the camera says to turn it upright.
pub struct Picture {
    /// The decoded image.
    pub image: DynamicImage,
    /// How the camera held it (from EXIF), to turn it upright.
    pub orientation: image::metadata::Orientation,
}

/// The width and height a picture's header declares (only the header is
/// read), checked against the limits.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), PictureError> {
    let (width, height) = reader(bytes)?.into_dimensions().map_err(error)?;
    check(width, height)?;
    Ok((width, height))
}

/// Decodes a picture within the limits.
pub fn decode(bytes: &[u8]) -> Result<Picture, PictureError> {
    dimensions(bytes)?;
    let _one_at_a_time = DECODING.lock().unwrap_or_else(|e| e.into_inner());
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = reader(bytes)?;
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(error)?;
    let (width, height) = decoder.dimensions();
    check(width, height)?;
    // The decoded image itself counts against the allocation limit (the
    // crate's own `decode` does this; `from_decoder` does not).
    limits.reserve(decoder.total_bytes()).map_err(error)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(error)?;
    Ok(Picture { image, orientation })
}

/// The picture made at most `side` pixels a side (aspect kept), with little
/// memory beyond the output.
pub fn shrink(image: &DynamicImage, side: u32) -> DynamicImage {
    let (w, h) = (image.width(), image.height());
    if w.max(h) <= side {
        return image.clone();
    }
    let scale = f64::from(side) / f64::from(w.max(h));
    let (nw, nh) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    match image {
        DynamicImage::ImageLuma8(i) => image::imageops::thumbnail(i, nw, nh).into(),
        DynamicImage::ImageRgb8(i) => image::imageops::thumbnail(i, nw, nh).into(),
        DynamicImage::ImageRgba8(i) => image::imageops::thumbnail(i, nw, nh).into(),
        other => image::imageops::thumbnail(&other.to_rgba8(), nw, nh).into(),
    }
}

fn reader(bytes: &[u8]) -> Result<ImageReader<std::io::Cursor<&[u8]>>, PictureError> {
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PictureError::Unreadable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(PictureError::NotAnImage);
    }
    Ok(reader)
}

fn check(width: u32, height: u32) -> Result<(), PictureError> {
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PictureError::TooLarge { width, height });
    }
    Ok(())
}

fn error(e: image::ImageError) -> PictureError {
    match e {
        image::ImageError::Limits(l) => match l.kind() {
            image::error::LimitErrorKind::DimensionError => PictureError::TooLarge {
                width: 0,
                height: 0,
            },
            _ => PictureError::TooMuchMemory,
        },
        image::ImageError::Unsupported(_) => PictureError::NotAnImage,
        other => PictureError::Unreadable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG whose header declares `w × h` one-bit pixels, all black: tiny
    /// on disk, huge once decoded.
    pub(crate) fn png_bomb(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::One);
            enc.set_compression(png::Compression::High);
            let mut writer = enc.write_header().unwrap();
            let mut stream = writer.stream_writer().unwrap();
            let row = vec![0u8; w.div_ceil(8) as usize];
            for _ in 0..h {
                std::io::Write::write_all(&mut stream, &row).unwrap();
            }
            stream.finish().unwrap();
        }
        out
    }

    /// A small real JPEG whose frame header is patched to say `w × h`.
    fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut out)
            .encode_image(&image::RgbImage::new(16, 16))
            .unwrap();
        let sof = out.windows(2).position(|x| x == [0xff, 0xc0]).unwrap();
        out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        out
    }

    #[test]
    fn bombs_are_refused_before_decoding() {
        let png = png_bomb(20_000, 20_000);
        assert!(png.len() < 200_000, "{} bytes", png.len());
        assert!(matches!(
            decode(&png),
            Err(PictureError::TooLarge { width: 20_000, .. })
        ));
        // Under the side limit but over the pixel limit.
        assert!(matches!(
            decode(&png_bomb(8_000, 8_000)),
            Err(PictureError::TooLarge { .. })
        ));
        for (w, h) in [(20_000, 20_000), (65_000, 65_000), (9_000, 9_000)] {
            let jpeg = jpeg_claiming(w, h);
            let err = decode(&jpeg).err().unwrap();
            assert!(
                matches!(err, PictureError::TooLarge { .. }),
                "{w}×{h}: {err}"
            );
        }
        assert_eq!(decode(b"GIF89a....").err(), Some(PictureError::NotAnImage));
        assert!(decode(b"\x89PNG\r\n\x1a\nbroken").is_err());
    }

    #[test]
    fn ordinary_photos_decode_and_shrink() {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&image::RgbImage::new(3000, 2000))
            .unwrap();
        let p = decode(&jpeg).unwrap();
        assert_eq!((p.image.width(), p.image.height()), (3000, 2000));
        let small = shrink(&p.image, 1200);
        assert_eq!((small.width(), small.height()), (1200, 800));
        assert_eq!(dimensions(&jpeg).unwrap(), (3000, 2000));
    }
}
