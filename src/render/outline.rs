//! Text as outlines: glyph shapes turned into paths for the places where
//! embedding a font is not wanted (SVG for print shops, PNG rasters, the
//! calibration page). Coordinates are millimetres, y pointing down.

use super::font::{Weight, font};
use super::label::PT;

/// Receives path segments.
pub trait PathSink {
    /// Starts a new contour at (x, y).
    fn move_to(&mut self, x: f32, y: f32);
    /// A straight line to (x, y).
    fn line_to(&mut self, x: f32, y: f32);
    /// A quadratic curve to (x, y).
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32);
    /// A cubic curve to (x, y).
    fn cubic_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32);
    /// Closes the contour.
    fn close(&mut self);
}

/// Adapts font units (y up) to millimetres (y down) at a position and size.
struct Place<'a> {
    sink: &'a mut dyn PathSink,
    x: f32,
    y: f32,
    scale: f32,
}

impl Place<'_> {
    fn p(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.y - y * self.scale)
    }
}

impl ttf_parser::OutlineBuilder for Place<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.p(x, y);
        self.sink.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.p(x, y);
        self.sink.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (a, b) = self.p(x1, y1);
        let (x, y) = self.p(x, y);
        self.sink.quad_to(a, b, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (a, b) = self.p(x1, y1);
        let (c, d) = self.p(x2, y2);
        let (x, y) = self.p(x, y);
        self.sink.cubic_to(a, b, c, d, x, y);
    }
    fn close(&mut self) {
        self.sink.close();
    }
}

/// Emits `text` at (x, baseline) mm, `size` points, as outlines. Returns its width in mm.
pub fn text(
    sink: &mut dyn PathSink,
    weight: Weight,
    text: &str,
    size: f32,
    x: f32,
    baseline: f32,
) -> f32 {
    let f = font(weight);
    let size_mm = size * PT;
    let scale = size_mm / f.units_per_em();
    let mut pen = x;
    for g in f.glyphs(text) {
        let mut place = Place {
            sink: &mut *sink,
            x: pen,
            y: baseline,
            scale,
        };
        f.outline(g.id, &mut place);
        pen += g.advance * size_mm;
    }
    pen - x
}

/// A five-pointed star as a closed path.
pub fn star(sink: &mut dyn PathSink, cx: f32, cy: f32, radius: f32) {
    let inner = radius * 0.382;
    for i in 0..10 {
        let r = if i % 2 == 0 { radius } else { inner };
        let angle = std::f32::consts::PI * (i as f32) / 5.0 - std::f32::consts::FRAC_PI_2;
        let (x, y) = (cx + r * angle.cos(), cy + r * angle.sin());
        if i == 0 {
            sink.move_to(x, y);
        } else {
            sink.line_to(x, y);
        }
    }
    sink.close();
}

/// Paths into a PDF content stream. PDF has no quadratic curves (Noto Sans
/// is a TrueType font, so its outlines are quadratic): each becomes the
/// equivalent cubic, which needs the current point.
pub struct PdfPath<'a> {
    /// The content stream drawn into.
    pub content: &'a mut pdf_writer::Content,
    current: (f32, f32),
    start: (f32, f32),
}

impl<'a> PdfPath<'a> {
    /// Draws into `content`.
    pub fn new(content: &'a mut pdf_writer::Content) -> Self {
        PdfPath {
            content,
            current: (0.0, 0.0),
            start: (0.0, 0.0),
        }
    }
}

impl PathSink for PdfPath<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        self.content.move_to(x, y);
        self.current = (x, y);
        self.start = (x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.content.line_to(x, y);
        self.current = (x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x0, y0) = self.current;
        let (c1x, c1y) = (x0 + 2.0 / 3.0 * (x1 - x0), y0 + 2.0 / 3.0 * (y1 - y0));
        let (c2x, c2y) = (x + 2.0 / 3.0 * (x1 - x), y + 2.0 / 3.0 * (y1 - y));
        self.content.cubic_to(c1x, c1y, c2x, c2y, x, y);
        self.current = (x, y);
    }
    fn cubic_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.content.cubic_to(x1, y1, x2, y2, x, y);
        self.current = (x, y);
    }
    fn close(&mut self) {
        self.content.close_path();
        self.current = self.start;
    }
}
