//! The batch report and the inspection record (biên bản kiểm tra) as PDF
//! files (A4, Noto Sans embedded as subsets, real text): what an inspector
//! files. Text is
//! wrapped to its table cell and tables continue on the next page with their
//! header repeated; every page carries the lot and "page n/m".

use std::io;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

mod batch;
mod inspection;
mod verification;

pub use batch::pdf;
pub use inspection::inspection_pdf;
pub use verification::verification_pdf;

use super::font::{Weight, font};
use super::pdf::{FontUse, compress, font_objects};
use super::report::local_time as vietnam_time;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 42.0;
const BODY: f32 = 8.5;
const PAD: f32 = 3.0;

/// A document being laid out top to bottom.
struct Doc {
    fonts: [FontUse; 2],
    pages: Vec<Content>,
    y: f32,
}

fn font_ref(weight: Weight) -> Name<'static> {
    match weight {
        Weight::Regular => Name(b"F1"),
        Weight::Bold => Name(b"F2"),
    }
}

/// Splits `text` into lines no wider than `width` points at `size`.
fn wrap(text: &str, weight: Weight, size: f32, width: f32) -> Vec<String> {
    let f = font(weight);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if f.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the cell (a serial, a hash) is cut by characters.
            for ch in word.chars() {
                let mut next = line.clone();
                next.push(ch);
                if f.width(&next, size) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(ch);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

impl Doc {
    fn new() -> Doc {
        let mut d = Doc {
            fonts: [
                FontUse::new(Weight::Regular, Ref::new(3)),
                FontUse::new(Weight::Bold, Ref::new(4)),
            ],
            pages: Vec::new(),
            y: 0.0,
        };
        d.new_page();
        d
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    /// Starts a new page unless `height` points still fit.
    fn room(&mut self, height: f32) -> bool {
        if self.y - height < MARGIN + 14.0 {
            self.new_page();
            return false;
        }
        true
    }

    fn text(&mut self, x: f32, baseline: f32, text: &str, weight: Weight, size: f32, grey: f32) {
        let glyphs = self.fonts[weight as usize].encode(text);
        let c = self.pages.last_mut().expect("a page");
        c.set_fill_gray(grey);
        c.begin_text();
        c.set_font(font_ref(weight), size);
        c.next_line(x, baseline);
        c.show(Str(&glyphs));
        c.end_text();
    }

    /// A paragraph across the page.
    fn para(&mut self, text: &str, weight: Weight, size: f32, grey: f32) {
        for line in wrap(text, weight, size, PAGE_W - 2.0 * MARGIN) {
            self.room(size * 1.4);
            self.y -= size * 1.3;
            self.text(MARGIN, self.y, &line, weight, size, grey);
        }
        self.y -= size * 0.4;
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y -= 10.0;
        self.para(text, Weight::Bold, 11.5, 0.0);
        let c = self.pages.last_mut().expect("a page");
        c.set_stroke_gray(0.5);
        c.set_line_width(0.5);
        c.move_to(MARGIN, self.y + 2.0);
        c.line_to(PAGE_W - MARGIN, self.y + 2.0);
        c.stroke();
        self.y -= 4.0;
    }

    /// A table: column widths as shares of the page width; the header row
    /// is repeated on each page the table runs onto.
    fn table(&mut self, header: &[&str], shares: &[f32], rows: &[Vec<String>]) {
        let total = PAGE_W - 2.0 * MARGIN;
        let widths: Vec<f32> = shares.iter().map(|s| s * total).collect();
        self.row(
            header.iter().map(|h| h.to_string()).collect(),
            &widths,
            true,
            header,
        );
        for r in rows {
            self.row(r.clone(), &widths, false, header);
        }
        self.y -= 6.0;
    }

    fn row(&mut self, cells: Vec<String>, widths: &[f32], is_header: bool, header: &[&str]) {
        let weight = if is_header {
            Weight::Bold
        } else {
            Weight::Regular
        };
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| wrap(c, weight, BODY, w - 2.0 * PAD))
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = lines as f32 * BODY * 1.25 + 2.0 * PAD;
        if !self.room(height) && !is_header {
            // Continued on a new page: the header first.
            self.row(
                header.iter().map(|h| h.to_string()).collect(),
                widths,
                true,
                header,
            );
        }
        let top = self.y;
        let mut x = MARGIN;
        {
            let c = self.pages.last_mut().expect("a page");
            if is_header {
                c.set_fill_gray(0.92);
                c.rect(MARGIN, top - height, widths.iter().sum(), height);
                c.fill_nonzero();
            }
            c.set_stroke_gray(0.7);
            c.set_line_width(0.4);
            for w in widths {
                c.rect(x, top - height, *w, height);
                x += w;
            }
            c.stroke();
        }
        let mut x = MARGIN;
        for (lines, w) in wrapped.iter().zip(widths) {
            let mut baseline = top - PAD - BODY;
            for line in lines {
                self.text(x + PAD, baseline, line, weight, BODY, 0.0);
                baseline -= BODY * 1.25;
            }
            x += w;
        }
        self.y = top - height;
    }

    /// Two signature lines side by side, with who signs under each.
    fn signatures(&mut self, who: [&str; 2]) {
        self.room(70.0);
        self.y -= 50.0;
        let y = self.y;
        for (i, who) in who.iter().enumerate() {
            let x = MARGIN + i as f32 * (PAGE_W - 2.0 * MARGIN) / 2.0;
            let c = self.pages.last_mut().expect("a page");
            c.set_stroke_gray(0.0);
            c.move_to(x + 10.0, y);
            c.line_to(x + 230.0, y);
            c.stroke();
            self.text(x + 10.0, y - 12.0, who, Weight::Regular, 9.0, 0.0);
        }
    }

    /// Adds "lot · page n/m" to every page and writes the file.
    fn finish(mut self, title: &str, footer: &str) -> io::Result<Vec<u8>> {
        let n = self.pages.len();
        for i in 0..n {
            let line = format!("{footer} · trang {}/{n}", i + 1);
            let glyphs = self.fonts[0].encode(&line);
            let c = &mut self.pages[i];
            c.set_fill_gray(0.35);
            c.begin_text();
            c.set_font(font_ref(Weight::Regular), 7.5);
            c.next_line(MARGIN, MARGIN - 16.0);
            c.show(Str(&glyphs));
            c.end_text();
        }
        let catalog = Ref::new(1);
        let pages_ref = Ref::new(2);
        let mut next = 5;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let mut pdf = Pdf::new();
        let mut kids = Vec::with_capacity(n);
        for page in self.pages {
            let (page_ref, content_ref) = (alloc(), alloc());
            kids.push(page_ref);
            let mut p = pdf.page(page_ref);
            p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            p.parent(pages_ref);
            p.contents(content_ref);
            let mut resources = p.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Name(b"F1"), Ref::new(3));
            fonts.pair(Name(b"F2"), Ref::new(4));
            fonts.finish();
            resources.finish();
            p.finish();
            pdf.stream(content_ref, &compress(&page.finish()))
                .filter(Filter::FlateDecode);
        }
        for used in &self.fonts {
            let refs = [alloc(), alloc(), alloc(), alloc()];
            for (_, chunk) in font_objects(used, refs)? {
                pdf.extend(&chunk);
            }
        }
        let count = kids.len() as i32;
        pdf.pages(pages_ref).kids(kids).count(count);
        pdf.catalog(catalog).pages(pages_ref);
        pdf.document_info(alloc())
            .producer(TextStr("tem"))
            .title(TextStr(title));
        Ok(pdf.finish())
    }
}

/// A verdict in Vietnamese, as records print it.
pub fn verdict_vi(v: &str) -> &'static str {
    match v {
        "genuine" => "Chính hãng",
        "recalled" => "Đã thu hồi",
        "voided" => "Đã hủy",
        "expired" => "Hết hạn",
        "claimed" => "Đã được người mua xác nhận",
        "sold" => "Đã bán",
        "not-printed" => "Chưa in",
        "unknown-serial" => "Không có trong hệ thống",
        "forged" => "Giả (sai chữ ký)",
        "unknown-key" => "Khóa lạ",
        "revoked-key" => "Khóa đã thu hồi",
        _ => "Không đọc được",
    }
}

pub(super) fn when_text(at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .map(vietnam_time)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_fits_the_width() {
        let text = "Ngừng sử dụng lô này ngay, liên hệ hợp tác xã để được hoàn tiền 0123456789abcdef0123456789abcdef";
        let lines = wrap(text, Weight::Regular, 8.5, 60.0);
        assert!(lines.len() > 3);
        for l in &lines {
            assert!(font(Weight::Regular).width(l, 8.5) <= 60.0 + 0.01, "{l:?}");
        }
        let joined: String = lines.concat().split_whitespace().collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(joined, original);
        assert_eq!(wrap("a\nb", Weight::Bold, 9.0, 100.0), ["a", "b"]);
    }
}
