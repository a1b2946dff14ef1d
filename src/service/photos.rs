//! Product photos: whatever a producer uploads is decoded within the
//! limits of `picture`, turned upright, shrunk and re-encoded, so no EXIF
//! block (a farm's GPS position, the camera) reaches a consumer's page.

use super::ServiceResult;
use crate::domain::{DomainError, Media};

/// Largest side of a stored product photo.
const IMAGE_SIDE: u32 = 1200;

/// Decodes an uploaded photo, turns it upright, makes it at most
/// IMAGE_SIDE a side and re-encodes it as JPEG: no EXIF (location, camera)
/// or other metadata survives.
pub fn normalise(bytes: &[u8]) -> Result<Vec<u8>, DomainError> {
    let bad = |why: String| DomainError::new("image", why);
    let picture = crate::picture::decode(bytes).map_err(|e| bad(e.to_string()))?;
    // Small first, then upright: turning the full-size photo would copy it.
    let mut img = crate::picture::shrink(&picture.image, IMAGE_SIDE);
    drop(picture.image);
    img.apply_orientation(picture.orientation);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82)
        .encode_image(&img.to_rgb8())
        .map_err(|_| bad("the image cannot be encoded".into()))?;
    Ok(out)
}

/// An uploaded product photo as tem stores it: normalised, named by the
/// hash of its bytes (stored with the product, in its transaction).
pub fn product_photo(bytes: &[u8]) -> ServiceResult<Media> {
    Ok(Media::jpeg(normalise(bytes)?))
}

/// A stored image by name: its content type and bytes.
pub fn media(
    store: &dyn crate::store::Store,
    name: &str,
) -> ServiceResult<Option<(String, Vec<u8>)>> {
    Ok(store.media(name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_photos_lose_their_metadata_and_shrink() {
        // A 2000×1500 JPEG with an EXIF block (GPS would live there).
        let img = image::RgbImage::from_fn(2000, 1500, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS-secret-farm-location";
        let mut with_exif = jpeg[..2].to_vec();
        with_exif.extend_from_slice(&[0xFF, 0xE1]);
        with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        with_exif.extend_from_slice(exif);
        with_exif.extend_from_slice(&jpeg[2..]);
        assert!(image::load_from_memory(&with_exif).is_ok());

        let out = normalise(&with_exif).unwrap();
        let back = image::load_from_memory(&out).unwrap();
        assert_eq!((back.width(), back.height()), (1200, 900));
        let has = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"Exif") && !has(b"GPS-secret"), "metadata kept");
        assert_eq!(normalise(b"not an image").unwrap_err().field, "image");
    }
}
