//! SVG stamp sheets and single labels for print shops. Self-contained: text
//! is glyph outlines (no font needed on the shop's machine), the QR symbol is
//! one path in module units drawn with crisp edges, sizes are in millimetres.

use std::fmt::Write as _;

use super::font::{Weight, font};
use super::label::PT;
use super::outline::{self, PathSink};
use super::pdf::{Placed, Sheet};
use super::symbol;

/// Path data in millimetres, three decimals (1 µm).
struct SvgPath(String);

fn num(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

impl PathSink for SvgPath {
    fn move_to(&mut self, x: f32, y: f32) {
        let _ = write!(self.0, "M{} {}", num(x), num(y));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let _ = write!(self.0, "L{} {}", num(x), num(y));
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let _ = write!(self.0, "Q{} {} {} {}", num(x1), num(y1), num(x), num(y));
    }
    fn cubic_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let _ = write!(
            self.0,
            "C{} {} {} {} {} {}",
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            num(x),
            num(y)
        );
    }
    fn close(&mut self) {
        self.0.push('Z');
    }
}

fn path(draw: impl FnOnce(&mut dyn PathSink)) -> String {
    let mut p = SvgPath(String::new());
    draw(&mut p);
    p.0
}

/// What is the same on every label: names, stars, caption.
fn static_part(sheet: &Sheet) -> String {
    let d = &sheet.design;
    let mut data = String::new();
    for line in &d.lines {
        data.push_str(&path(|s| {
            outline::text(s, line.weight, &line.text, line.size, line.x, line.baseline);
        }));
    }
    for star in &d.stars {
        data.push_str(&path(|s| outline::star(s, star.cx, star.cy, star.radius)));
    }
    format!("<path d=\"{data}\"/>")
}

/// The varying part of a label whose top-left corner is at `origin` (mm on
/// its page): its QR symbol, on the page's 300-dpi dot grid, and short code.
fn stamp_part(sheet: &Sheet, stamp: &Placed, origin: (f32, f32)) -> String {
    let d = &sheet.design;
    let code = d.code;
    let width = font(Weight::Bold).width(&stamp.short_code, code.size * PT);
    let x = if code.centred {
        code.x - width / 2.0
    } else {
        code.x
    };
    let text = path(|s| {
        outline::text(
            s,
            Weight::Bold,
            &stamp.short_code,
            code.size,
            x,
            code.baseline,
        );
    });
    let mut text = text;
    if let (Some(panel), Some(claim)) = (sheet.claim, &stamp.claim_code) {
        text.push_str(&path(|s| panel.outline(s, claim)));
    }
    let quiet = d.module * d.quiet_zone as f32;
    let mut qr = String::new();
    for (y, x, len) in stamp.matrix.dark_runs() {
        let _ = write!(qr, "M{x} {y}h{len}v1h-{len}z");
    }
    format!(
        "<path d=\"{text}\"/><path shape-rendering=\"crispEdges\" transform=\"translate({} {}) scale({:.5})\" d=\"{qr}\"/>",
        num(symbol::snap_to_dot(origin.0 + d.qr_x + quiet) - origin.0),
        num(symbol::snap_to_dot(origin.1 + d.qr_y + quiet) - origin.1),
        // Five decimals: a module of 25.4 / 60 mm must land on the dot grid
        // 41 modules on, too.
        d.module
    )
}

fn header(width: f64, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\">",
        w = num(width as f32),
        h = num(height as f32)
    )
}

/// One label, its own document, sized to the label.
pub fn label(sheet: &Sheet, stamp: &Placed) -> String {
    let l = &sheet.layout;
    let mut out = header(l.label_width, l.label_height);
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><g fill=\"#000\">");
    out.push_str(&static_part(sheet));
    out.push_str(&stamp_part(sheet, stamp, (0.0, 0.0)));
    out.push_str("</g></svg>\n");
    out
}

/// One page: `stamps` fill label slots from `first_slot` on.
pub fn page(sheet: &Sheet, stamps: &[Placed], first_slot: u32, footer: &str) -> String {
    let l = &sheet.layout;
    let c = sheet.calibration;
    let mut out = header(l.page_width, l.page_height);
    let _ = write!(
        out,
        "<defs><g id=\"label\">{}</g></defs>",
        static_part(sheet)
    );
    let _ = write!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><g fill=\"#000\" transform=\"translate({} {}) scale({} {})\">",
        num(c.offset_x),
        num(c.offset_y),
        num(c.scale_x),
        num(c.scale_y)
    );
    for (i, stamp) in stamps.iter().enumerate() {
        let (x, y) = l.label_origin(first_slot + i as u32);
        let _ = write!(
            out,
            "<g transform=\"translate({} {})\"><use xlink:href=\"#label\" href=\"#label\"/>{}</g>",
            num(x as f32),
            num(y as f32),
            stamp_part(sheet, stamp, (x as f32, y as f32))
        );
    }
    let footer_path = path(|s| {
        outline::text(
            s,
            Weight::Regular,
            footer,
            6.0,
            (l.left as f32).max(5.0),
            sheet.footer_baseline(),
        );
    });
    let _ = writeln!(out, "<path d=\"{footer_path}\"/></g></svg>");
    out
}
