//! PNG stamp sheets and single labels at 300 or 600 dpi.
//!
//! Print shops' raster workflows want whole printer dots per QR module and
//! hard module edges: the design's module is already a whole number of
//! 300-dpi dots (`symbol`), so it is that many dots at 300 dpi and twice as
//! many at 600, the symbol is centred in its designed box, and modules are
//! set pixel by pixel without anti-aliasing. Text and stars are
//! anti-aliased glyph outlines (tiny-skia coverage masks). Pages are 8-bit
//! grey, one byte per pixel (a 600 dpi A4 page is 35 MB in memory).

use tiny_skia::{FillRule, Mask, PathBuilder, Transform};

use super::font::Weight;
use super::label::PT;
use super::outline::{self, PathSink};
use super::pdf::{Placed, Sheet};

/// An 8-bit ink-coverage image: 0 = paper, 255 = full ink.
pub struct Raster {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// Dots per inch.
    pub dpi: u32,
    ink: Mask,
}

impl std::fmt::Debug for Raster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Raster({}×{} @ {} dpi)",
            self.width, self.height, self.dpi
        )
    }
}

/// The resolutions PNG sheets are made at.
pub const DPIS: [u32; 2] = [300, 600];

struct SkiaSink(PathBuilder);

impl PathSink for SkiaSink {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn cubic_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}

impl Raster {
    fn new(width_mm: f64, height_mm: f64, dpi: u32) -> Option<Raster> {
        let width = (width_mm * f64::from(dpi) / 25.4).round() as u32;
        let height = (height_mm * f64::from(dpi) / 25.4).round() as u32;
        Some(Raster {
            width,
            height,
            dpi,
            ink: Mask::new(width.max(1), height.max(1))?,
        })
    }

    fn px_per_mm(&self) -> f32 {
        self.dpi as f32 / 25.4
    }

    /// Fills whatever `draw` emits (mm coordinates, offset by `origin` mm), anti-aliased.
    fn fill(&mut self, origin: (f32, f32), draw: impl FnOnce(&mut dyn PathSink)) {
        let mut sink = SkiaSink(PathBuilder::new());
        draw(&mut sink);
        if let Some(path) = sink.0.finish() {
            let s = self.px_per_mm();
            let t = Transform::from_row(s, 0.0, 0.0, s, origin.0 * s, origin.1 * s);
            self.ink.fill_path(&path, FillRule::Winding, true, t);
        }
    }

    fn set_block(&mut self, x: i64, y: i64, w: i64, h: i64) {
        let (width, height) = (i64::from(self.width), i64::from(self.height));
        let data = self.ink.data_mut();
        for yy in y.max(0)..(y + h).min(height) {
            let row = (yy * width) as usize;
            for xx in x.max(0)..(x + w).min(width) {
                data[row + xx as usize] = 255;
            }
        }
    }

    /// The grey image: paper white, ink black.
    pub fn to_gray(&self) -> image::GrayImage {
        let data: Vec<u8> = self.ink.data().iter().map(|a| 255 - a).collect();
        image::GrayImage::from_raw(self.width, self.height, data).unwrap_or_default()
    }

    /// PNG, 8-bit grey, with the resolution recorded (pHYs) so printers and
    /// layout programs place it at true size.
    pub fn to_png(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            let per_metre = (f64::from(self.dpi) / 0.0254).round() as u32;
            enc.set_pixel_dims(Some(png::PixelDimensions {
                xppu: per_metre,
                yppu: per_metre,
                unit: png::Unit::Meter,
            }));
            enc.set_compression(png::Compression::Fast);
            let mut w = enc.write_header().map_err(std::io::Error::other)?;
            let data: Vec<u8> = self.ink.data().iter().map(|a| 255 - a).collect();
            w.write_image_data(&data).map_err(std::io::Error::other)?;
        }
        Ok(out)
    }
}

/// Dots per module: the largest whole number not above the design's module.
pub fn module_dots(module_mm: f32, dpi: u32) -> u32 {
    ((module_mm * dpi as f32 / 25.4) + 1e-3).floor().max(1.0) as u32
}

/// Draws one label whose top-left corner is at `origin` mm.
fn paint_label(r: &mut Raster, sheet: &Sheet, origin: (f32, f32), stamp: &Placed) {
    let d = &sheet.design;
    for line in &d.lines {
        r.fill(origin, |sink| {
            outline::text(
                sink,
                line.weight,
                &line.text,
                line.size,
                line.x,
                line.baseline,
            );
        });
    }
    for star in &d.stars {
        r.fill(origin, |sink| {
            outline::star(sink, star.cx, star.cy, star.radius)
        });
    }
    let code = d.code;
    let width = super::font::font(Weight::Bold).width(&stamp.short_code, code.size * PT);
    let x = if code.centred {
        code.x - width / 2.0
    } else {
        code.x
    };
    r.fill(origin, |sink| {
        outline::text(
            sink,
            Weight::Bold,
            &stamp.short_code,
            code.size,
            x,
            code.baseline,
        );
    });
    if let (Some(panel), Some(claim)) = (sheet.claim, &stamp.claim_code) {
        r.fill(origin, |sink| panel.outline(sink, claim));
    }
    // The symbol: whole dots per module, centred in the designed box, no anti-aliasing.
    let s = r.px_per_mm();
    let dots = i64::from(module_dots(d.module, r.dpi));
    let n = stamp.matrix.width as i64;
    let designed = d.module * n as f32 * s;
    let slack = (designed - (dots * n) as f32) / 2.0;
    let quiet = d.module * d.quiet_zone as f32;
    let ox = ((origin.0 + d.qr_x + quiet) * s + slack).round() as i64;
    let oy = ((origin.1 + d.qr_y + quiet) * s + slack).round() as i64;
    for (y, x, len) in stamp.matrix.dark_runs() {
        r.set_block(
            ox + x as i64 * dots,
            oy + y as i64 * dots,
            len as i64 * dots,
            dots,
        );
    }
}

/// One label alone, for print shops that place labels themselves.
pub fn label(sheet: &Sheet, stamp: &Placed, dpi: u32) -> Option<Raster> {
    let mut r = Raster::new(sheet.layout.label_width, sheet.layout.label_height, dpi)?;
    paint_label(&mut r, sheet, (0.0, 0.0), stamp);
    Some(r)
}

/// One page: `stamps` fill label slots from `first_slot` on.
pub fn page(
    sheet: &Sheet,
    stamps: &[Placed],
    first_slot: u32,
    footer: &str,
    dpi: u32,
) -> Option<Raster> {
    let l = &sheet.layout;
    let mut r = Raster::new(l.page_width, l.page_height, dpi)?;
    let c = sheet.calibration;
    for (i, stamp) in stamps.iter().enumerate() {
        let (x, y) = l.label_origin(first_slot + i as u32);
        let origin = (
            c.offset_x + x as f32 * c.scale_x,
            c.offset_y + y as f32 * c.scale_y,
        );
        paint_label(&mut r, sheet, origin, stamp);
    }
    let baseline = sheet.footer_baseline();
    r.fill((c.offset_x, c.offset_y), |sink| {
        outline::text(
            sink,
            Weight::Regular,
            footer,
            6.0,
            (l.left as f32).max(5.0),
            baseline,
        );
    });
    Some(r)
}
