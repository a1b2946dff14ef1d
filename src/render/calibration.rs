//! The printer calibration page: rulers and crosshairs at known positions,
//! with instructions, so a cooperative can measure how its printer shifts and
//! scales a page and write the correction into a printer profile.

use std::io::{self, Write};

use pdf_writer::{Content, Finish, Pdf, Rect, Ref};

use super::font::Weight;
use super::outline::{self, PdfPath};
use super::pdf::Calibration;

const MM: f32 = 72.0 / 25.4;
/// The crosshair's designed distance from the left and top paper edges.
pub const CROSS_AT: f32 = 20.0;

/// A4, in millimetres.
const PAGE: (f32, f32) = (210.0, 297.0);
/// Where the horizontal ruler starts (its 0 mark) and where the vertical one does.
const H_RULER: (f32, f32) = (40.0, 60.0);
const V_RULER: (f32, f32) = (40.0, 80.0);

/// Writes a one-page A4 calibration PDF, drawn with `calibration` applied (so
/// a correct profile measures exactly as designed).
pub fn write_pdf<W: Write>(mut out: W, calibration: &Calibration) -> io::Result<()> {
    let (w, h) = PAGE;
    let mut c = Content::new();
    c.save_state();
    c.transform([
        calibration.scale_x * MM,
        0.0,
        0.0,
        -calibration.scale_y * MM,
        calibration.offset_x * MM,
        (h - calibration.offset_y) * MM,
    ]);
    c.set_stroke_gray(0.0);
    c.set_fill_gray(0.0);
    c.set_line_width(0.15);
    marks(&mut c);
    c.stroke();
    let mut path = PdfPath::new(&mut c);
    ruler_numbers(&mut path);
    instructions(&mut path, calibration);
    c.fill_nonzero();
    c.restore_state();

    let mut pdf = Pdf::new();
    let (catalog, pages, page, content) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.parent(pages)
        .media_box(Rect::new(0.0, 0.0, w * MM, h * MM))
        .contents(content);
    p.finish();
    pdf.stream(content, &c.finish());
    out.write_all(&pdf.finish())?;
    out.flush()
}

/// The length of ruler tick `i` (mm): long every 10, middle every 5.
fn tick(i: u32) -> f32 {
    if i.is_multiple_of(10) {
        5.0
    } else if i.is_multiple_of(5) {
        3.5
    } else {
        2.0
    }
}

/// Crosshairs at (20, 20) and (190, 277), to measure from the paper edges,
/// and a 100 mm horizontal and vertical ruler with 1 mm ticks.
fn marks(c: &mut Content) {
    let (w, h) = PAGE;
    for (x, y) in [(CROSS_AT, CROSS_AT), (w - CROSS_AT, h - CROSS_AT)] {
        c.move_to(x - 6.0, y);
        c.line_to(x + 6.0, y);
        c.move_to(x, y - 6.0);
        c.line_to(x, y + 6.0);
    }
    let ((rx, ry), (vx, vy)) = (H_RULER, V_RULER);
    c.move_to(rx, ry);
    c.line_to(rx + 100.0, ry);
    c.move_to(vx, vy);
    c.line_to(vx, vy + 100.0);
    for i in 0..=100u32 {
        let at = i as f32;
        c.move_to(rx + at, ry);
        c.line_to(rx + at, ry - tick(i));
        c.move_to(vx, vy + at);
        c.line_to(vx + tick(i), vy + at);
    }
}

/// 0, 10 … 100 along both rulers.
fn ruler_numbers(path: &mut PdfPath) {
    let ((rx, ry), (vx, vy)) = (H_RULER, V_RULER);
    for i in (0..=100).step_by(10) {
        let (label, at) = (i.to_string(), i as f32);
        outline::text(path, Weight::Regular, &label, 6.0, rx + at - 1.0, ry - 6.5);
        outline::text(path, Weight::Regular, &label, 6.0, vx + 6.5, vy + at + 0.8);
    }
}

/// How to measure and where to write the profile, then the profile applied.
fn instructions(path: &mut PdfPath, calibration: &Calibration) {
    let mut y = 200.0;
    for (weight, size, text) in INSTRUCTIONS {
        outline::text(path, weight, text, size, 20.0, y);
        y += size * 0.55;
    }
    let applied = format!(
        "Đang áp dụng / applied: offset_x = {:.2}, offset_y = {:.2}, scale_x = {:.4}, scale_y = {:.4}",
        calibration.offset_x, calibration.offset_y, calibration.scale_x, calibration.scale_y
    );
    outline::text(path, Weight::Regular, &applied, 7.0, 20.0, y + 3.0);
}

/// The instructions printed on the page: (weight, size, text), top down.
const INSTRUCTIONS: [(Weight, f32, &str); 13] = [
    (Weight::Bold, 12.0, "Trang hiệu chỉnh máy in — tem"),
    (
        Weight::Regular,
        8.0,
        "1. In trang này với tỉ lệ 100 % (Actual size / Kích thước thực), tắt “Fit to page”.",
    ),
    (
        Weight::Regular,
        8.0,
        "2. Đo từ mép TRÁI tờ giấy đến tâm dấu + ở góc trên (thiết kế: 20,0 mm):",
    ),
    (
        Weight::Regular,
        8.0,
        "    offset_x = 20,0 - số đo   (ví dụ: đo được 21,0 mm thì offset_x = -1,0)",
    ),
    (
        Weight::Regular,
        8.0,
        "3. Đo từ mép TRÊN tờ giấy đến tâm dấu + đó (thiết kế: 20,0 mm):",
    ),
    (Weight::Regular, 8.0, "    offset_y = 20,0 - số đo"),
    (
        Weight::Regular,
        8.0,
        "4. Đo độ dài thước ngang 0–100 và thước dọc 0–100 (thiết kế: 100,0 mm):",
    ),
    (
        Weight::Regular,
        8.0,
        "    scale_x = 100 / số đo thước ngang;   scale_y = 100 / số đo thước dọc",
    ),
    (
        Weight::Regular,
        8.0,
        "5. Ghi vào tem.toml rồi in lại trang này với --printer để kiểm tra:",
    ),
    (
        Weight::Bold,
        8.0,
        "    [printers.may_in_van_phong]   offset_x = -1.0   offset_y = 0.5   scale_x = 1.0   scale_y = 1.0",
    ),
    (
        Weight::Regular,
        7.0,
        "Printer calibration: print at 100 %. offset_x = 20.0 - measured distance from the left edge to the",
    ),
    (
        Weight::Regular,
        7.0,
        "top-left cross; offset_y likewise from the top edge; scale = 100 / measured ruler length.",
    ),
    (
        Weight::Regular,
        7.0,
        "Use it: tem sheet --printer NAME … (the profile lives in tem.toml under [printers.NAME]).",
    ),
];
