//! Stamps in phone-like photos (issue 18): the short version of
//! `scripts/bench-scan-photo`, with zbar (the decoder that suffered most from
//! the PNG's modules being rounded down): single labels of a 300-dpi PNG
//! sheet stuck on a mid-grey package, blurred, scaled to what a phone sees at
//! arm's length and saved as JPEG at quality 55.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use image::GrayImage;

use crate::common::{Env, label_crop, zbar_each};
use tem::render::layout::Layout;

/// What a phone sees of a label cropped from a `dpi` raster: the label on a
/// textured mid-grey package, blurred 0.8 px, scaled to `px_mm`, JPEG 55.
fn photo(label: &GrayImage, dpi: u32, px_mm: f32) -> GrayImage {
    let margin = label.width() / 4;
    let (w, h) = (label.width() + 2 * margin, label.height() + 2 * margin);
    let mut ground = GrayImage::from_fn(w, h, |x, y| {
        let grain = ((x as f32 / 4.7).cos() * 6.0 + (y as f32 / 3.1).sin() * 6.0) as i32;
        image::Luma([(128 + grain + ((x * 7919 + y * 104_729) % 23) as i32 - 11) as u8])
    });
    image::imageops::overlay(&mut ground, label, i64::from(margin), i64::from(margin));
    let blurred = image::imageops::blur(&ground, 0.8);
    let scale = px_mm / (dpi as f32 / 25.4);
    let small = image::imageops::resize(
        &blurred,
        (w as f32 * scale).round() as u32,
        (h as f32 * scale).round() as u32,
        image::imageops::FilterType::Lanczos3,
    );
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 55)
        .encode_image(&small)
        .unwrap();
    image::load_from_memory(&jpeg).unwrap().to_luma8()
}

#[test]
fn png_stamps_read_in_phone_photos_at_arms_length() {
    let env = Env::new();
    env.ok(&["demo"]);
    env.ok(&["issue", "--batch", "2", "--count", "40"]);
    let out = env.path("sheet.png");
    let args = [
        "sheet", "--batch", "2", "--from", "1", "--count", "40", "--dpi", "300", "-o",
    ];
    env.ok(&[&args[..], &[out.to_str().unwrap()]].concat());
    let page = image::open(&out).unwrap().to_luma8();
    let layout = Layout::builtin("a4-65").unwrap();
    let photos: Vec<GrayImage> = (0..40)
        .map(|i| photo(&label_crop(&page, &layout, i, 300), 300, 4.7))
        .collect();
    let read = zbar_each(&photos, env.dir.path());
    let ok = read.iter().filter(|t| t.starts_with("https://")).count();
    // Measured with whole-dot modules: 98 % (bench-scan-photo); rounded down
    // to 4 dots, the same labels read 0 %.
    assert!(ok >= 36, "zbar read {ok} of 40 stamps at 4.7 px/mm");
}
