//! Helpers shared by the integration test crates.

/// A plain raster of a QR symbol: `scale` pixels per module, 4-module quiet zone.
pub fn render_qr(qr: &qrcode::QrCode, scale: u32) -> image::GrayImage {
    let width = qr.width() as u32;
    let colors = qr.to_colors();
    let side = (width + 8) * scale;
    image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - 4, (y / scale) as i64 - 4);
        let dark = mx >= 0
            && my >= 0
            && (mx as u32) < width
            && (my as u32) < width
            && colors[(my as u32 * width + mx as u32) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    })
}
