//! Vector PDF stamp sheets, written as a stream.
//!
//! Each page is written to the output as soon as its stamps are encoded, so
//! memory stays flat for 50,000 stamps; only the font subsets (collected as
//! glyphs are used), the page list and the cross-reference table are written
//! at the end. QR codes are vector rectangles (one per horizontal run of dark
//! modules, in module units), text is real text in subset-embedded Noto Sans
//! that `pdftotext` reads back, and what is the same on every label (names,
//! stars, caption) is one form XObject drawn per label.

use std::collections::BTreeMap;
use std::io::{self, Write};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref, Str};
use subsetter::GlyphRemapper;

use super::font::{Weight, font};
use super::label::{Design, PT, Star};
use super::layout::Layout;
use super::qr::Matrix;

/// Millimetres to PDF points.
const MM: f32 = 72.0 / 25.4;

/// Printer correction: where this printer puts things, measured with the
/// calibration page. Applied to everything on the page.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Millimetres to move right (negative: left).
    #[serde(default)]
    pub offset_x: f32,
    /// Millimetres to move down (negative: up).
    #[serde(default)]
    pub offset_y: f32,
    /// Horizontal scale: 100 / measured length of the 100 mm ruler.
    #[serde(default = "one")]
    pub scale_x: f32,
    /// Vertical scale (1.0: none).
    #[serde(default = "one")]
    pub scale_y: f32,
}

fn one() -> f32 {
    1.0
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            offset_x: 0.0,
            offset_y: 0.0,
            scale_x: 1.0,
            scale_y: 1.0,
        }
    }
}

impl Calibration {
    /// Refuses offsets and scales no printer needs (a typo, not a calibration).
    pub fn check(&self) -> Result<(), String> {
        let ok = |v: f32, lo: f32, hi: f32| v.is_finite() && (lo..=hi).contains(&v);
        if !ok(self.offset_x, -20.0, 20.0) || !ok(self.offset_y, -20.0, 20.0) {
            return Err("printer offsets must be between -20 and 20 mm".into());
        }
        if !ok(self.scale_x, 0.9, 1.1) || !ok(self.scale_y, 0.9, 1.1) {
            return Err("printer scale corrections must be between 0.9 and 1.1".into());
        }
        Ok(())
    }

    /// The page matrix: millimetres with y down → PDF points with y up.
    fn page_matrix(&self, page_height_mm: f32) -> [f32; 6] {
        [
            self.scale_x * MM,
            0.0,
            0.0,
            -self.scale_y * MM,
            self.offset_x * MM,
            (page_height_mm - self.offset_y) * MM,
        ]
    }
}

/// One stamp to place: its QR symbol and the short code printed under it.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Where the label goes on the page.
    pub matrix: Matrix,
    /// The short code printed on it.
    pub short_code: String,
    /// Its claim code in groups ("1234 5678 9012 34"), printed in the
    /// scratch panel; or the preview's mask; `None` for stamps without one.
    pub claim_code: Option<String>,
}

/// Everything about a sheet that is not a stamp.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The layout.
    pub layout: Layout,
    /// The label design.
    pub design: Design,
    /// Where claim stamps' scratch panel goes, when the sheet has claim stamps.
    pub claim: Option<super::claim_panel::ClaimPanel>,
    /// 0-based label slot of the first stamp on the first page (`--start-at K` gives K − 1).
    pub first_slot: u32,
    /// Whether to print crop marks.
    pub crop_marks: bool,
    /// The printer's calibration.
    pub calibration: Calibration,
    /// Left part of each page's footer, e.g. "Lô DT-2026-HT2 · Gạo thơm Dân Tiến".
    pub footer: String,
    /// Per page: the range of stamp numbers on it, shown in the footer.
    pub title: String,
}

impl Sheet {
    /// The footer of page `page` of `pages`: batch, page n/m and the range of
    /// stamp numbers on it, so print shops and auditors can tell pages apart.
    pub fn footer_line(&self, page: u32, pages: u32, numbers: Option<(u32, u32)>) -> String {
        let range = numbers
            .map(|(a, b)| format!("{} {a}–{b}", self.title))
            .unwrap_or_default();
        format!("{} · {page}/{pages} · {range}", self.footer)
    }

    /// Where the footer's baseline goes: the bottom margin, or the top one
    /// when the bottom is too narrow (mm from the page top).
    pub fn footer_baseline(&self) -> f32 {
        let l = &self.layout;
        let bottom = l.page_height - (l.top + f64::from(l.rows - 1) * l.pitch_y + l.label_height);
        if bottom >= 4.0 {
            (l.page_height - bottom / 2.0 + 0.7) as f32
        } else {
            (l.top / 2.0 + 0.7).max(2.5) as f32
        }
    }

    /// Pages needed for `stamps` stamps.
    pub fn pages_for(&self, stamps: u64) -> u32 {
        let per = u64::from(self.layout.per_sheet());
        (u64::from(self.first_slot) + stamps).div_ceil(per).max(1) as u32
    }
}

/// What a finished PDF holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Pages written.
    pub pages: u32,
    /// Stamps placed.
    pub stamps: u64,
    /// Bytes written.
    pub bytes: u64,
}

struct Counter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A font as used in this document: which glyphs, under which new ids.
pub(crate) struct FontUse {
    weight: Weight,
    remapper: GlyphRemapper,
    /// New glyph id → the character it shows (for the ToUnicode map).
    chars: BTreeMap<u16, char>,
    type0: Ref,
}

impl FontUse {
    pub(crate) fn new(weight: Weight, type0: Ref) -> FontUse {
        FontUse {
            weight,
            remapper: GlyphRemapper::new(),
            chars: BTreeMap::new(),
            type0,
        }
    }

    /// The glyph ids for `text` as big-endian bytes for `Tj`, remapping (and
    /// so adding to the subset) any glyph not seen before.
    pub(crate) fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for g in font(self.weight).glyphs(text) {
            let new = self.remapper.remap(g.id);
            self.chars.entry(new).or_insert(g.ch);
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }

    /// Like `encode` for text whose glyphs were all registered before, so
    /// pages can be built on several threads at once.
    fn encode_known(&self, text: &str) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for g in font(self.weight).glyphs(text) {
            let new = self.remapper.get(g.id).ok_or_else(|| {
                io::Error::other(format!("glyph for {:?} was not registered", g.ch))
            })?;
            out.extend_from_slice(&new.to_be_bytes());
        }
        Ok(out)
    }
}

/// A finished page content stream (compressed), ready to be written.
pub struct PageContent {
    compressed: Vec<u8>,
}

/// Streams a PDF sheet document to `out`: `new`, then `add` each stamp in
/// order, then `finish`.
pub struct PdfSheetWriter<W: Write> {
    out: Counter<W>,
    offsets: Vec<(i32, u64)>,
    next_id: i32,
    page_refs: Vec<Ref>,
    fonts: [FontUse; 2],
    sheet: Sheet,
    total_pages: u32,
    stamps: u64,
}

const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const LABEL_FORM: Ref = Ref::new(5);
const FIRST_FREE_ID: i32 = 6;
/// Deflate level for content streams: 4 compresses QR runs nearly as well
/// as 6 at about half the time.
const COMPRESSION: u8 = 4;

impl<W: Write> PdfSheetWriter<W> {
    /// Starts a document of `total_stamps` stamps (known up front for "page n/m").
    pub fn new(out: W, sheet: Sheet, total_stamps: u64) -> io::Result<Self> {
        let per = u64::from(sheet.layout.per_sheet());
        let total_pages = (u64::from(sheet.first_slot) + total_stamps)
            .div_ceil(per)
            .max(1) as u32;
        let mut w = PdfSheetWriter {
            out: Counter {
                inner: out,
                written: 0,
            },
            offsets: Vec::new(),
            next_id: FIRST_FREE_ID,
            page_refs: Vec::new(),
            fonts: [
                FontUse {
                    weight: Weight::Regular,
                    remapper: GlyphRemapper::new(),
                    chars: BTreeMap::new(),
                    type0: Ref::new(3),
                },
                FontUse {
                    weight: Weight::Bold,
                    remapper: GlyphRemapper::new(),
                    chars: BTreeMap::new(),
                    type0: Ref::new(4),
                },
            ],
            sheet,
            total_pages,
            stamps: 0,
        };
        // Register every glyph pages will need, so that building pages needs
        // only read access to the fonts: the short-code alphabet (bold) and
        // the footer's words and digits (regular).
        w.fonts[1].encode("0123456789ABCDEFGHJKMNPQRSTVWXYZ- ");
        w.fonts[1].encode(super::claim_panel::MASK);
        let sample = w.sheet.footer_line(1, 1, Some((1, 1)));
        w.fonts[0].encode(&format!("{sample} 0123456789"));
        if let Some(panel) = w.sheet.claim {
            w.fonts[0].encode(&panel.marker().text);
        }
        w.out.write_all(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        w.write_label_form()?;
        Ok(w)
    }

    fn alloc(&mut self) -> Ref {
        let r = Ref::new(self.next_id);
        self.next_id += 1;
        r
    }

    /// Writes a chunk holding exactly one object, remembering where it starts.
    fn write_object(&mut self, id: Ref, chunk: &Chunk) -> io::Result<()> {
        self.offsets.push((id.get(), self.out.written));
        self.out.write_all(chunk.as_bytes())
    }

    fn font_mut(&mut self, weight: Weight) -> &mut FontUse {
        match weight {
            Weight::Regular => &mut self.fonts[0],
            Weight::Bold => &mut self.fonts[1],
        }
    }

    /// The names, stars and caption: the same on every label of the sheet.
    fn write_label_form(&mut self) -> io::Result<()> {
        let design = self.sheet.design.clone();
        let mut c = Content::new();
        c.set_fill_gray(0.0);
        for line in &design.lines {
            let text = self.font_mut(line.weight).encode(&line.text);
            show_text(
                &mut c,
                font_name(line.weight),
                line.size * PT,
                line.x,
                line.baseline,
                &text,
            );
        }
        for star in &design.stars {
            star_path(&mut c, star);
        }
        let content = compress(&c.finish());
        let mut chunk = Chunk::new();
        let (w, h) = (
            self.sheet.layout.label_width as f32,
            self.sheet.layout.label_height as f32,
        );
        let mut form = chunk.form_xobject(LABEL_FORM, &content);
        form.filter(Filter::FlateDecode);
        form.bbox(Rect::new(0.0, 0.0, w, h));
        let mut resources = form.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), self.fonts[0].type0);
        fonts.pair(Name(b"F2"), self.fonts[1].type0);
        fonts.finish();
        resources.finish();
        form.finish();
        self.write_object(LABEL_FORM, &chunk)
    }

    /// Builds page `index` (0-based): `stamps` (with their numbers in the
    /// batch) fill label slots from `first_slot` on. Takes `&self`, so pages
    /// can be built and compressed on several threads.
    pub fn page_content(
        &self,
        index: u32,
        first_slot: u32,
        stamps: &[(Placed, u32)],
    ) -> io::Result<PageContent> {
        let sheet = &self.sheet;
        let design = &sheet.design;
        let mut c = Content::new();
        c.save_state();
        c.transform(
            sheet
                .calibration
                .page_matrix(sheet.layout.page_height as f32),
        );
        c.set_fill_gray(0.0);
        if sheet.crop_marks {
            crop_marks(&mut c, &sheet.layout);
        }
        let m = design.module;
        let quiet = m * design.quiet_zone as f32;
        let code = design.code;
        let bold = font(Weight::Bold);
        for (i, (stamp, _)) in stamps.iter().enumerate() {
            let slot = first_slot + i as u32;
            if slot >= sheet.layout.per_sheet() {
                return Err(io::Error::other("more stamps than labels on the page"));
            }
            let (lx, ly) = sheet.layout.label_origin(slot);
            let (lx, ly) = (lx as f32, ly as f32);
            c.save_state();
            c.transform([1.0, 0.0, 0.0, 1.0, lx, ly]);
            c.x_object(Name(b"L"));
            c.restore_state();
            // QR: one rectangle per run of dark modules, in module units.
            c.save_state();
            c.transform([
                m,
                0.0,
                0.0,
                m,
                super::symbol::snap_to_dot(lx + design.qr_x + quiet),
                super::symbol::snap_to_dot(ly + design.qr_y + quiet),
            ]);
            for (y, x, len) in stamp.matrix.dark_runs() {
                c.rect(x as f32, y as f32, len as f32, 1.0);
            }
            c.fill_nonzero();
            c.restore_state();
            let x = if code.centred {
                lx + code.x - bold.width(&stamp.short_code, code.size * PT) / 2.0
            } else {
                lx + code.x
            };
            let glyphs = self.fonts[1].encode_known(&stamp.short_code)?;
            show_text(
                &mut c,
                Name(b"F2"),
                code.size * PT,
                x,
                ly + code.baseline,
                &glyphs,
            );
            if let (Some(panel), Some(claim)) = (sheet.claim, &stamp.claim_code) {
                self.claim_panel(&mut c, &panel, claim, (lx, ly))?;
            }
        }
        let numbers = stamps.first().map(|s| s.1).zip(stamps.last().map(|s| s.1));
        let footer = sheet.footer_line(index + 1, self.total_pages, numbers);
        let glyphs = self.fonts[0].encode_known(&footer)?;
        let x = (sheet.layout.left as f32).max(5.0);
        show_text(
            &mut c,
            Name(b"F1"),
            6.0 * PT,
            x,
            sheet.footer_baseline(),
            &glyphs,
        );
        c.restore_state();
        Ok(PageContent {
            compressed: compress(&c.finish()),
        })
    }

    /// One stamp's scratch panel: frame, marker and code, at the label's origin.
    fn claim_panel(
        &self,
        c: &mut Content,
        panel: &super::claim_panel::ClaimPanel,
        claim: &str,
        (lx, ly): (f32, f32),
    ) -> io::Result<()> {
        for (x, y, w, h) in panel.frame() {
            c.rect(lx + x, ly + y, w, h);
        }
        c.fill_nonzero();
        let marker = panel.marker();
        let glyphs = self.fonts[0].encode_known(&marker.text)?;
        let (x, y) = (lx + marker.x, ly + marker.baseline);
        show_text(c, Name(b"F1"), marker.size * PT, x, y, &glyphs);
        for line in panel.code_lines(claim) {
            let glyphs = self.fonts[1].encode_known(&line.text)?;
            let (x, y) = (lx + line.x, ly + line.baseline);
            show_text(c, Name(b"F2"), line.size * PT, x, y, &glyphs);
        }
        Ok(())
    }

    /// Writes a built page; pages must come in order.
    pub fn push_page(&mut self, page: PageContent, stamps: u64) -> io::Result<()> {
        let layout = self.sheet.layout.clone();
        let page_ref = self.alloc();
        let content_ref = self.alloc();
        let mut chunk = Chunk::new();
        chunk
            .stream(content_ref, &page.compressed)
            .filter(Filter::FlateDecode);
        self.write_object(content_ref, &chunk)?;
        let mut chunk = Chunk::new();
        let mut p = chunk.page(page_ref);
        p.parent(PAGES);
        p.media_box(Rect::new(
            0.0,
            0.0,
            layout.page_width as f32 * MM,
            layout.page_height as f32 * MM,
        ));
        p.contents(content_ref);
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), self.fonts[0].type0);
        fonts.pair(Name(b"F2"), self.fonts[1].type0);
        fonts.finish();
        resources.x_objects().pair(Name(b"L"), LABEL_FORM);
        resources.finish();
        p.finish();
        self.write_object(page_ref, &chunk)?;
        self.page_refs.push(page_ref);
        self.stamps += stamps;
        Ok(())
    }

    /// How many pages the sheet will have.
    pub fn total_pages(&self) -> u32 {
        self.total_pages
    }

    /// Finishes the last page, writes fonts, page tree, catalog and the
    /// cross-reference table. Returns the totals and the inner writer.
    pub fn finish(mut self) -> io::Result<(Written, W)> {
        if self.page_refs.is_empty() {
            let empty = self.page_content(0, 0, &[])?;
            self.push_page(empty, 0)?;
        }
        for i in 0..2 {
            self.write_font(i)?;
        }
        let mut chunk = Chunk::new();
        chunk
            .pages(PAGES)
            .kids(self.page_refs.iter().copied())
            .count(self.page_refs.len() as i32);
        self.write_object(PAGES, &chunk)?;
        let mut chunk = Chunk::new();
        let mut catalog = chunk.indirect(CATALOG).dict();
        catalog.pair(Name(b"Type"), Name(b"Catalog"));
        catalog.pair(Name(b"Pages"), PAGES);
        catalog.finish();
        self.write_object(CATALOG, &chunk)?;
        let info = self.alloc();
        let mut chunk = Chunk::new();
        let mut doc = chunk.indirect(info).dict();
        doc.pair(Name(b"Producer"), pdf_writer::TextStr("tem"));
        doc.pair(Name(b"Title"), pdf_writer::TextStr(&self.sheet.footer));
        doc.finish();
        self.write_object(info, &chunk)?;

        // Cross-reference table.
        let xref_at = self.out.written;
        self.offsets.sort_unstable();
        let size = self.next_id;
        let mut xref = format!("xref\n0 {size}\n0000000000 65535 f \n");
        let mut known = self.offsets.iter().peekable();
        for id in 1..size {
            match known.peek() {
                Some((i, offset)) if *i == id => {
                    xref.push_str(&format!("{offset:010} 00000 n \n"));
                    known.next();
                }
                _ => xref.push_str("0000000000 65535 f \n"),
            }
        }
        xref.push_str(&format!(
            "trailer\n<< /Size {size} /Root {} 0 R /Info {} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            CATALOG.get(),
            info.get()
        ));
        self.out.write_all(xref.as_bytes())?;
        self.out.flush()?;
        let written = Written {
            pages: self.page_refs.len() as u32,
            stamps: self.stamps,
            bytes: self.out.written,
        };
        Ok((written, self.out.inner))
    }

    /// Writes one font (see `font_objects`).
    fn write_font(&mut self, index: usize) -> io::Result<()> {
        let refs = [self.alloc(), self.alloc(), self.alloc(), self.alloc()];
        for (id, chunk) in font_objects(&self.fonts[index], refs)? {
            self.write_object(id, &chunk)?;
        }
        Ok(())
    }
}

/// One font as a subset CIDFontType2 with Identity-H encoding and a
/// ToUnicode map, so text can be searched and copied: the Type0 font object
/// (at `used.type0`) and four more at `refs` (CID font, descriptor, font
/// file, ToUnicode map).
pub(crate) fn font_objects(used: &FontUse, refs: [Ref; 4]) -> io::Result<Vec<(Ref, Chunk)>> {
    let [cid, descriptor, file, cmap] = refs;
    let mut objects = Vec::with_capacity(5);
    let weight = used.weight;
    let f = font(weight);
    let subset = subsetter::subset(f.data, 0, &used.remapper)
        .map_err(|e| io::Error::other(format!("font subset: {e:?}")))?;
    let tag = subset_tag(&used.remapper);
    let widths: Vec<f32> = used
        .remapper
        .remapped_gids()
        .map(|old| f.advance(old) * 1000.0)
        .collect();
    let type0 = used.type0;
    let chars: Vec<(u16, char)> = used.chars.iter().map(|(g, c)| (*g, *c)).collect();
    let base = format!("{tag}+{}", f.postscript_name);
    let scale = 1000.0 / f.units_per_em();
    let (x0, y0, x1, y1) = f.bbox();

    let mut chunk = Chunk::new();
    chunk
        .type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    objects.push((type0, chunk));

    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut chunk = Chunk::new();
    let mut c = chunk.cid_font(cid);
    c.subtype(CidFontType::Type2);
    c.base_font(Name(base.as_bytes()));
    c.system_info(system_info);
    c.font_descriptor(descriptor);
    c.default_width(0.0);
    c.cid_to_gid_map_predefined(Name(b"Identity"));
    c.widths().consecutive(0, widths);
    c.finish();
    objects.push((cid, chunk));

    let mut chunk = Chunk::new();
    chunk
        .font_descriptor(descriptor)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(x0 * scale, y0 * scale, x1 * scale, y1 * scale))
        .italic_angle(0.0)
        .ascent(f.ascent() * 1000.0)
        .descent(f.descent() * 1000.0)
        .cap_height(f.cap_height() * 1000.0)
        .stem_v(if weight == Weight::Bold { 140.0 } else { 80.0 })
        .font_file2(file);
    objects.push((descriptor, chunk));

    let compressed = compress(&subset);
    let mut chunk = Chunk::new();
    chunk
        .stream(file, &compressed)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), subset.len() as i32);
    objects.push((file, chunk));

    let mut unicode = pdf_writer::types::UnicodeCmap::new(
        Name(b"Custom"),
        SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"UCS"),
            supplement: 0,
        },
    );
    for (g, ch) in chars {
        unicode.pair(g, ch);
    }
    let data = compress(&unicode.finish());
    let mut chunk = Chunk::new();
    chunk.stream(cmap, &data).filter(Filter::FlateDecode);
    objects.push((cmap, chunk));
    Ok(objects)
}

/// A subset font's name starts with six capitals that identify the subset.
fn subset_tag(remapper: &GlyphRemapper) -> String {
    let mut h: u32 = 2_166_136_261;
    for g in remapper.remapped_gids() {
        h = (h ^ u32::from(g)).wrapping_mul(16_777_619);
    }
    (0..6)
        .map(|i| char::from(b'A' + ((h >> (i * 5)) % 26) as u8))
        .collect()
}

fn font_name(weight: Weight) -> Name<'static> {
    match weight {
        Weight::Regular => Name(b"F1"),
        Weight::Bold => Name(b"F2"),
    }
}

/// Shows glyph ids at (x, baseline) in the mm, y-down page space; the text
/// matrix flips y back so glyphs stand upright.
fn show_text(c: &mut Content, font: Name<'_>, size_mm: f32, x: f32, baseline: f32, glyphs: &[u8]) {
    c.begin_text();
    c.set_font(font, 1.0);
    c.set_text_matrix([size_mm, 0.0, 0.0, -size_mm, x, baseline]);
    c.show(Str(glyphs));
    c.end_text();
}

/// A filled five-pointed star.
fn star_path(c: &mut Content, s: &Star) {
    let inner = s.radius * 0.382;
    for i in 0..10 {
        let r = if i % 2 == 0 { s.radius } else { inner };
        let angle = std::f32::consts::PI * (i as f32) / 5.0 - std::f32::consts::FRAC_PI_2;
        let (x, y) = (s.cx + r * angle.cos(), s.cy + r * angle.sin());
        if i == 0 {
            c.move_to(x, y);
        } else {
            c.line_to(x, y);
        }
    }
    c.close_path();
    c.fill_nonzero();
}

/// Cut marks in the page margins, in line with every label edge.
fn crop_marks(c: &mut Content, l: &Layout) {
    let (left, top) = (l.left as f32, l.top as f32);
    let right = (l.left + f64::from(l.columns - 1) * l.pitch_x + l.label_width) as f32;
    let bottom = (l.top + f64::from(l.rows - 1) * l.pitch_y + l.label_height) as f32;
    let (pw, ph) = (l.page_width as f32, l.page_height as f32);
    c.set_line_width(0.1);
    c.set_stroke_gray(0.0);
    let gap = 1.0;
    let mut xs: Vec<f32> = Vec::new();
    for col in 0..l.columns {
        let x = (l.left + f64::from(col) * l.pitch_x) as f32;
        xs.extend([x, x + l.label_width as f32]);
    }
    let mut ys: Vec<f32> = Vec::new();
    for row in 0..l.rows {
        let y = (l.top + f64::from(row) * l.pitch_y) as f32;
        ys.extend([y, y + l.label_height as f32]);
    }
    for x in xs {
        if top > gap + 1.0 {
            c.move_to(x, (top - gap - 4.0).max(0.5));
            c.line_to(x, top - gap);
        }
        if ph - bottom > gap + 1.0 {
            c.move_to(x, bottom + gap);
            c.line_to(x, (bottom + gap + 4.0).min(ph - 0.5));
        }
    }
    for y in ys {
        if left > gap + 1.0 {
            c.move_to((left - gap - 4.0).max(0.5), y);
            c.line_to(left - gap, y);
        }
        if pw - right > gap + 1.0 {
            c.move_to(right + gap, y);
            c.line_to((right + gap + 4.0).min(pw - 0.5), y);
        }
    }
    c.stroke();
}

pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, COMPRESSION)
}
