//! What goes where on one label: the QR symbol with its quiet zone, and the
//! text (product, producer, OCOP stars, short code, "Quét mã để xác thực"),
//! fitted so that it shrinks or wraps and never leaves the label.
//!
//! A design is computed once per sheet: everything but the QR symbol and the
//! short code is the same on every label of a batch.

use super::font::{Weight, font};
use super::layout::{Layout, Shape};
use super::symbol;

/// Millimetres per typographic point.
pub const PT: f32 = 25.4 / 72.0;
/// The smallest module a cheap office laser printer and a phone camera
/// handle reliably (GS1 allows 0.396 mm for retail; below 0.33 mm scans fail).
pub const MIN_MODULE_MM: f32 = 0.33;
/// The quiet zone the QR standard asks for, in modules: the default.
pub const QUIET_ZONE: u32 = 4;
/// The quiet zones a sheet may be printed with (modules on the label).
pub const QUIET_ZONES: std::ops::RangeInclusive<u32> = 2..=4;

/// The language of a label's caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Vietnamese.
    Vi,
    /// English.
    En,
}

impl Lang {
    /// A language by its code ("vi", "en").
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The caption under the symbol ("Quét để kiểm tra").
    pub fn caption(self) -> &'static str {
        match self {
            Lang::Vi => "Quét mã để xác thực",
            Lang::En => "Scan to verify",
        }
    }
}

/// The words on a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// The product's name.
    pub product: String,
    /// The producer's name.
    pub producer: String,
    /// OCOP stars, if rated.
    pub stars: Option<u8>,
    /// The caption's language.
    pub lang: Lang,
    /// The widest short code that will be printed (sizes the code line); `None`: the widest possible.
    pub widest_code: Option<String>,
    /// White modules around the symbol, on the label (`QUIET_ZONES`).
    pub quiet_zone: u32,
    /// Height kept free at the bottom of a rectangular label's text column
    /// (mm): where a claim stamp's scratch panel goes; 0 for other labels.
    pub reserve_bottom: f32,
}

/// One line of text on a label.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    /// Its weight.
    pub weight: Weight,
    /// Its size, in points.
    pub size: f32,
    /// Left end of the baseline, in mm from the label's top-left corner.
    pub x: f32,
    /// Its baseline, in millimetres from the label's top.
    pub baseline: f32,
    /// The text.
    pub text: String,
}

/// A five-pointed star (the OCOP rating), centre and outer radius in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Star {
    /// Its centre, across (mm).
    pub cx: f32,
    /// Its centre, down (mm).
    pub cy: f32,
    /// Its outer radius (mm).
    pub radius: f32,
}

/// Where the varying short code goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeSlot {
    /// Where the short code starts (mm).
    pub x: f32,
    /// Its baseline (mm).
    pub baseline: f32,
    /// Its size, in points.
    pub size: f32,
    /// Centre the code on `x` instead of starting there.
    pub centred: bool,
}

/// Where everything goes on one label of a layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Top-left of the symbol including its quiet zone, mm from the label's top-left.
    pub qr_x: f32,
    /// The QR symbol's top (mm).
    pub qr_y: f32,
    /// Side of one module in mm.
    pub module: f32,
    /// Modules per side of the symbol, without the quiet zone.
    pub qr_modules: u32,
    /// White modules around the symbol.
    pub quiet_zone: u32,
    /// The lines of text.
    pub lines: Vec<TextLine>,
    /// The OCOP stars.
    pub stars: Vec<Star>,
    /// Where the short code goes.
    pub code: CodeSlot,
}

impl Design {
    /// Side of the symbol with its quiet zone, in mm.
    pub fn qr_side(&self) -> f32 {
        self.module * (self.qr_modules + 2 * self.quiet_zone) as f32
    }
}

/// Why a label cannot be designed for a layout.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    /// The QR modules would be too small to scan.
    #[error(
        "on layout {layout} the QR modules would be {module:.2} mm, below the {MIN_MODULE_MM} mm that printers and phones read reliably; {advice}"
    )]
    ModulesTooSmall {
        /// The layout's name.
        layout: String,
        /// The module size it would give (mm).
        module: f32,
        /// Layouts that would work.
        advice: String,
    },
    /// Claim stamps need a scratch panel the layout has no room for.
    #[error(
        "layout {layout} has no room for the scratch panel of claim stamps (claim code digits of at least {min_pt} pt beside QR modules of at least {MIN_MODULE_MM} mm); {advice}"
    )]
    NoRoomForClaimPanel {
        /// The layout's name.
        layout: String,
        /// The smallest size of the code's digits (pt).
        min_pt: f32,
        /// Layouts that would work.
        advice: String,
    },
}

/// Width of the short code line at `size` (mm at 1 mm type): the job's widest
/// code, or the widest any code could be (14 of the widest symbol, 2 dashes).
fn short_code_width(content: &Content, size: f32) -> f32 {
    let bold = font(Weight::Bold);
    match &content.widest_code {
        Some(code) => bold.width(code, size),
        None => {
            let widest = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
                .chars()
                .map(|c| bold.width(&c.to_string(), 1.0))
                .fold(0.0, f32::max);
            (widest * 14.0 + 2.0 * bold.width("-", 1.0)) * size
        }
    }
}

/// Lays out one label of `layout` for a QR symbol of `modules` modules.
pub fn design(layout: &Layout, content: &Content, modules: u32) -> Result<Design, DesignError> {
    let d = match layout.shape {
        Shape::Rectangle => rectangle(layout, content, modules),
        Shape::Round => round(layout, content, modules),
    };
    if d.module + 1e-4 < MIN_MODULE_MM {
        return Err(DesignError::ModulesTooSmall {
            layout: layout.name.clone(),
            module: d.module,
            advice: advice(modules, |_| true),
        });
    }
    Ok(d)
}

/// Which built-in layouts (of those `usable` allows) would work for this
/// symbol size.
pub fn advice(modules: u32, usable: impl Fn(&Layout) -> bool) -> String {
    let ok: Vec<String> = super::layout::builtins()
        .iter()
        .filter(|l| usable(l))
        .filter_map(|l| {
            let m = module_for(l, modules, QUIET_ZONE);
            (m >= MIN_MODULE_MM).then(|| format!("{} gives {m:.2} mm", l.name))
        })
        .collect();
    if ok.is_empty() {
        "use a larger custom label or a lower error-correction level".into()
    } else {
        format!(
            "use a larger label: {} (or a lower error-correction level)",
            ok.join(", ")
        )
    }
}

/// The module size a layout gives a symbol of `modules` modules (whole
/// 300-dpi dots: the same in every format).
pub fn module_for(layout: &Layout, modules: u32, quiet_zone: u32) -> f32 {
    symbol::place(layout, modules, quiet_zone).module
}

/// The text column of a rectangular label beside a symbol of `modules`
/// modules: left edge, top, width and height (mm).
pub fn text_column(layout: &Layout, modules: u32, quiet_zone: u32) -> (f32, f32, f32, f32) {
    let (w, h) = (layout.label_width as f32, layout.label_height as f32);
    let p = symbol::pad(layout);
    // The quiet zone already keeps the text clear of the code.
    let s = symbol::place(layout, modules, quiet_zone);
    let x = s.x + s.side;
    (x, p, (w - x - p).max(1.0), h - 2.0 * p)
}

/// A rectangular label: the symbol on the left, the text column on its
/// right, above what `content.reserve_bottom` keeps free.
fn rectangle(layout: &Layout, content: &Content, modules: u32) -> Design {
    let s = symbol::place(layout, modules, content.quiet_zone);
    let (text_x, top, text_w, text_h) = text_column(layout, modules, content.quiet_zone);
    let text_h = (text_h - content.reserve_bottom).max(1.0);
    let (lines, stars, code) = fit_text(content, text_x, top, text_w, text_h);
    Design {
        qr_x: s.x,
        qr_y: s.y,
        module: s.module,
        qr_modules: modules,
        quiet_zone: content.quiet_zone,
        lines,
        stars,
        code,
    }
}

/// A round label: the symbol centred in the circle, the stars and the
/// product name in the segment above it, the short code (and the caption
/// when it fits whole) in the segment below.
fn round(layout: &Layout, content: &Content, modules: u32) -> Design {
    let d = layout.label_width as f32;
    let s = symbol::place(layout, modules, content.quiet_zone);
    let (side, module, qr_x, qr_y) = (s.side, s.module, s.x, s.y);
    let r = d / 2.0;
    let p = symbol::pad(layout);
    // Usable width of the circle at `y` mm from its top, `p` in from the edge.
    let chord = |y: f32| {
        let dy = (y - r).abs();
        ((r * r - dy * dy).max(0.0).sqrt() * 2.0 - 2.0 * p).max(0.0)
    };
    let centred = |weight: Weight, text: String, size: f32, baseline: f32| {
        let w = font(weight).width(&text, size * PT);
        TextLine {
            weight,
            size,
            x: r - w / 2.0,
            baseline,
            text,
        }
    };
    let mut lines = Vec::new();
    let mut stars = Vec::new();
    // Above the symbol, bottom up: the product name, then the stars.
    let gap = 0.15 * d / 30.0;
    let top_room = qr_y - p;
    let name_size = |size: f32| {
        let base = qr_y - gap - 0.22 * size * PT;
        (base, chord(base - 0.75 * size * PT))
    };
    let (_, width) = name_size(5.0);
    let product_size = fit_one_line(Weight::Bold, &content.product, width, 5.0, 3.5);
    let (product_base, width) = name_size(product_size);
    let product = ellipsize(Weight::Bold, &content.product, product_size, width);
    let name_top = product_base - 0.75 * product_size * PT;
    lines.push(centred(Weight::Bold, product, product_size, product_base));
    if let Some(n) = content.stars {
        // Stars as tall as the room left above the name allows (≤ 0.65 mm radius).
        let radius = ((name_top - gap - p) / 2.0).min(0.65 * d / 30.0);
        let step = radius * 2.3;
        let row = step * (f32::from(n) - 1.0) + 2.0 * radius;
        let cy = name_top - gap - radius;
        if radius >= 0.3 && top_room > 0.0 && row <= chord(cy - radius) {
            let first = r - step * (f32::from(n) - 1.0) / 2.0;
            stars.extend((0..n).map(|i| Star {
                cx: first + f32::from(i) * step,
                cy,
                radius,
            }));
        }
    }
    // Below the symbol, top down: the short code, then the caption.
    let below = qr_y + side + gap;
    let code_at = |size: f32| below + 0.75 * size * PT;
    let code_size = fit_code_size(content, chord(code_at(5.5)), 5.5, 3.0);
    let code_base = code_at(code_size);
    let caption_size = 3.5;
    let caption_base = code_base + gap * 2.0 + 0.75 * caption_size * PT;
    let caption_width = chord(caption_base + 0.25 * caption_size * PT);
    let caption = content.lang.caption();
    if caption_base + 0.25 * caption_size * PT <= d - p
        && font(Weight::Regular).width(caption, caption_size * PT) <= caption_width
    {
        lines.push(centred(
            Weight::Regular,
            caption.to_string(),
            caption_size,
            caption_base,
        ));
    }
    Design {
        qr_x,
        qr_y,
        module,
        qr_modules: modules,
        quiet_zone: content.quiet_zone,
        lines,
        stars,
        code: CodeSlot {
            x: r,
            baseline: code_base,
            size: code_size,
            centred: true,
        },
    }
}

/// Fits the text column of a rectangular label. Sizes shrink from at most
/// 14 pt (big labels) to 4 pt until everything fits; long names wrap to two lines and, at the
/// smallest size, end in "…". Never taller or wider than the box.
fn fit_text(
    content: &Content,
    x: f32,
    y: f32,
    w: f32,
    h: f32,
) -> (Vec<TextLine>, Vec<Star>, CodeSlot) {
    // Start large enough to fill a big label (about six lines in the box).
    let mut size = (h / 6.0 / (PT * 1.18)).clamp(7.5, 14.0);
    loop {
        let lead = 1.18;
        let line_h = size * PT * lead;
        let small = size * 0.85;
        let small_h = small * PT * lead;
        let product = wrap(Weight::Bold, &content.product, size, w, 2);
        let producer = wrap_abbreviating(Weight::Regular, &content.producer, small, w, 2);
        let code_size = fit_code_size(content, w, small, 3.0);
        let code_h = code_size * PT * lead;
        let star_h = if content.stars.is_some() {
            small_h
        } else {
            0.0
        };
        let caption_size = fit_one_line(Weight::Regular, content.lang.caption(), w, small, 3.5);
        let caption = ellipsize(Weight::Regular, content.lang.caption(), caption_size, w);
        let total = product.len() as f32 * line_h
            + producer.len() as f32 * small_h
            + star_h
            + code_h
            + small_h;
        let cut = product.iter().chain(&producer).any(|l| l.ends_with('…'));
        // Shrink to avoid cutting names, but not below 5.5 pt for that alone.
        if (total <= h && (!cut || size <= 5.5)) || size <= 4.0 {
            // Drop the producer when even 4 pt does not fit.
            let producer = if total > h { Vec::new() } else { producer };
            let mut lines = Vec::new();
            let mut cursor = y;
            for t in product {
                cursor += line_h;
                lines.push(TextLine {
                    weight: Weight::Bold,
                    size,
                    x,
                    baseline: cursor - size * PT * 0.22,
                    text: t,
                });
            }
            for t in producer {
                cursor += small_h;
                lines.push(TextLine {
                    weight: Weight::Regular,
                    size: small,
                    x,
                    baseline: cursor - small * PT * 0.22,
                    text: t,
                });
            }
            let mut stars = Vec::new();
            if let Some(n) = content.stars {
                cursor += small_h;
                let label = "OCOP";
                let baseline = cursor - small * PT * 0.22;
                lines.push(TextLine {
                    weight: Weight::Bold,
                    size: small,
                    x,
                    baseline,
                    text: label.into(),
                });
                let after = x + font(Weight::Bold).width(label, small * PT);
                stars = star_row(n, after, x + w, baseline, small);
            }
            // Short code and caption at the bottom of the column.
            let bottom = y + h;
            let caption_base = bottom - small * PT * 0.25;
            let code_base = caption_base - small_h;
            lines.push(TextLine {
                weight: Weight::Regular,
                size: caption_size,
                x,
                baseline: caption_base,
                text: caption,
            });
            let code = CodeSlot {
                x,
                baseline: code_base.max(cursor + code_size * PT * 0.8),
                size: code_size,
                centred: false,
            };
            return (lines, stars, code);
        }
        size -= 0.25;
    }
}

/// `n` OCOP stars after the label that ends at `after`, on a line of
/// `size` pt with this baseline; the stars past `right` are left out.
fn star_row(n: u8, after: f32, right: f32, baseline: f32, size: f32) -> Vec<Star> {
    let radius = size * PT * 0.42;
    let start = after + radius * 1.4;
    (0..n)
        .map(|i| start + f32::from(i) * radius * 2.25)
        .filter(|cx| cx + radius <= right)
        .map(|cx| Star {
            cx,
            cy: baseline - size * PT * 0.36,
            radius,
        })
        .collect()
}

/// The largest size (≤ `max`, ≥ `min`) at which the widest short code fits `width`.
fn fit_code_size(content: &Content, width: f32, max: f32, min: f32) -> f32 {
    let at_one_pt = short_code_width(content, PT);
    // 1 % below the exact fit, so rounding never pushes the text over the edge.
    (width * 0.99 / at_one_pt).clamp(min.min(max), max)
}

fn fit_one_line(weight: Weight, text: &str, width: f32, max: f32, min: f32) -> f32 {
    let at_one_pt = font(weight).width(text, PT).max(1e-3);
    (width * 0.99 / at_one_pt).clamp(min.min(max), max)
}

/// Common abbreviations of producer kinds, used when the full name does not fit.
const ABBREVIATIONS: [(&str, &str); 5] = [
    ("Hợp tác xã", "HTX"),
    ("Tổ hợp tác", "THT"),
    ("Hộ kinh doanh", "HKD"),
    ("Công ty trách nhiệm hữu hạn", "Công ty TNHH"),
    ("Công ty cổ phần", "Công ty CP"),
];

/// Like `wrap`, but first tries the usual abbreviations ("Hợp tác xã" → "HTX")
/// when the full text would be cut.
fn wrap_abbreviating(
    weight: Weight,
    text: &str,
    size: f32,
    width: f32,
    max_lines: usize,
) -> Vec<String> {
    let lines = wrap(weight, text, size, width, max_lines);
    if !lines.last().is_some_and(|l| l.ends_with('…')) {
        return lines;
    }
    let mut short = text.to_string();
    for (long, abbr) in ABBREVIATIONS {
        short = short
            .replace(long, abbr)
            .replace(&long.to_lowercase(), abbr);
    }
    if short == text {
        lines
    } else {
        wrap(weight, &short, size, width, max_lines)
    }
}

/// Greedy word wrap into at most `max_lines` lines of `width` mm; the last
/// line ends in "…" when text is left over.
pub fn wrap(weight: Weight, text: &str, size: f32, width: f32, max_lines: usize) -> Vec<String> {
    let f = font(weight);
    let fits = |s: &str| f.width(s, size * PT) <= width;
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let candidate = if current.is_empty() {
            words[i].to_string()
        } else {
            format!("{current} {}", words[i])
        };
        if fits(&candidate) {
            current = candidate;
            i += 1;
        } else if current.is_empty() {
            // A single word wider than the line: cut it.
            lines.push(ellipsize(weight, words[i], size, width));
            i += 1;
        } else {
            lines.push(std::mem::take(&mut current));
        }
        if lines.len() == max_lines {
            break;
        }
    }
    if !current.is_empty() && lines.len() < max_lines {
        lines.push(current);
        current = String::new();
    }
    let rest_left = i < words.len() || !current.is_empty();
    if rest_left && let Some(last) = lines.last_mut() {
        *last = ellipsize(weight, &format!("{last} …"), size, width);
        if !last.ends_with('…') {
            last.push('…');
            *last = ellipsize(weight, last, size, width);
        }
    }
    lines
}

/// `text` cut to fit `width` mm, ending in "…" when cut.
pub fn ellipsize(weight: Weight, text: &str, size: f32, width: f32) -> String {
    let f = font(weight);
    if f.width(text, size * PT) <= width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>().trim_end().to_string() + "…";
        if f.width(&candidate, size * PT) <= width {
            return candidate;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::layout::builtins;

    fn content(product: &str) -> Content {
        Content {
            product: product.into(),
            producer: "Hợp tác xã nông nghiệp – thủy sản Trường Long Hòa".into(),
            stars: Some(4),
            lang: Lang::Vi,
            widest_code: None,
            quiet_zone: QUIET_ZONE,
            reserve_bottom: 0.0,
        }
    }

    #[test]
    fn version_6_fits_every_builtin_layout_at_0_33_mm_or_more() {
        for l in builtins() {
            let d = design(&l, &content("Gạo thơm Dân Tiến"), 41).unwrap();
            assert!(d.module >= MIN_MODULE_MM, "{}: {}", l.name, d.module);
        }
        let l = crate::render::layout::Layout::builtin("a4-65").unwrap();
        assert!(design(&l, &content("x"), 41).unwrap().module >= 0.39);
    }

    #[test]
    fn too_small_modules_are_refused_with_advice() {
        let l = crate::render::layout::Layout::builtin("a4-65").unwrap();
        // Version 10 (57 modules) at level H: 19.6 / 65 = 0.30 mm.
        let err = design(&l, &content("x"), 57).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("a4-65") && text.contains("0.33"), "{text}");
        assert!(text.contains("a4-40"), "{text}");
    }

    #[test]
    fn text_never_leaves_the_label() {
        let long = "Gạo thơm hữu cơ đặc sản vùng giồng cát ven biển Duyên Hải Trà Vinh loại một túi năm ký";
        for l in builtins() {
            let d = design(&l, &content(long), 41).unwrap();
            let (w, h) = (l.label_width as f32, l.label_height as f32);
            for line in &d.lines {
                let width = font(line.weight).width(&line.text, line.size * PT);
                assert!(
                    line.x >= 0.0 && line.x + width <= w + 1e-3,
                    "{}: {:?} is {width} wide",
                    l.name,
                    line.text
                );
                assert!(
                    line.baseline <= h && line.baseline - line.size * PT * 0.75 >= 0.0,
                    "{}: {:?}",
                    l.name,
                    line
                );
                // Text must not enter the QR symbol with its quiet zone.
                let right_of_qr = line.x >= d.qr_x + d.qr_side() - 1e-3;
                let below_or_above = line.baseline - line.size * PT * 0.75 >= d.qr_y + d.qr_side()
                    || line.baseline + line.size * PT * 0.25 <= d.qr_y;
                assert!(
                    right_of_qr || below_or_above,
                    "{}: {:?} overlaps the code",
                    l.name,
                    line.text
                );
            }
            // The name is either shown whole or visibly cut, never silently.
            let shown: Vec<&str> = d
                .lines
                .iter()
                .filter(|t| t.weight == Weight::Bold && t.text != "OCOP")
                .map(|t| t.text.as_str())
                .collect();
            let joined = shown.join(" ");
            assert!(
                joined == long || joined.ends_with('…'),
                "{}: {joined:?}",
                l.name
            );
        }
    }

    #[test]
    fn round_labels_keep_text_inside_the_circle_and_off_the_code() {
        let l = crate::render::layout::Layout::builtin("a4-round30").unwrap();
        let r = l.label_width as f32 / 2.0;
        for qz in QUIET_ZONES {
            let mut c = content("Mật ong hoa cà phê Krông Năng loại đặc biệt");
            c.quiet_zone = qz;
            c.widest_code = Some(
                crate::domain::Serial(9_876_543_210)
                    .short_code()
                    .to_string(),
            );
            let d = design(&l, &c, 41).unwrap();
            // 5 dots (0.42 mm), not the 4 (0.34 mm) of a symbol squeezed
            // between lines of text.
            assert!(
                (d.module - 5.0 * symbol::DOT_MM).abs() < 1e-4,
                "{qz}: {}",
                d.module
            );
            let inside = |x: f32, y: f32| (x - r).hypot(y - r) <= r - 0.5;
            let off_code = |top: f32, bottom: f32| bottom <= d.qr_y || top >= d.qr_y + d.qr_side();
            let code_w = short_code_width(&c, d.code.size * PT);
            let mut boxes: Vec<(f32, f32, f32, f32)> = d
                .lines
                .iter()
                .map(|t| {
                    let w = font(t.weight).width(&t.text, t.size * PT);
                    let top = t.baseline - 0.75 * t.size * PT;
                    (t.x, top, t.x + w, t.baseline + 0.25 * t.size * PT)
                })
                .collect();
            boxes.push((
                d.code.x - code_w / 2.0,
                d.code.baseline - 0.75 * d.code.size * PT,
                d.code.x + code_w / 2.0,
                d.code.baseline,
            ));
            boxes.extend(d.stars.iter().map(|s| {
                (
                    s.cx - s.radius,
                    s.cy - s.radius,
                    s.cx + s.radius,
                    s.cy + s.radius,
                )
            }));
            assert_eq!(d.stars.len(), 4, "{qz}: the stars are shown");
            assert!(d.code.size >= 4.0, "{qz}: short code at {} pt", d.code.size);
            for (x0, y0, x1, y1) in boxes {
                assert!(
                    inside(x0, y0) && inside(x1, y0) && inside(x0, y1) && inside(x1, y1),
                    "{qz}: ({x0}, {y0})–({x1}, {y1}) leaves the circle"
                );
                assert!(
                    off_code(y0, y1),
                    "{qz}: ({x0}, {y0})–({x1}, {y1}) enters the code"
                );
            }
        }
    }

    #[test]
    fn wrapping_and_ellipsis() {
        let lines = wrap(Weight::Regular, "Bưởi da xanh Hùng Hòa", 7.0, 15.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(
            lines
                .iter()
                .all(|l| font(Weight::Regular).width(l, 7.0 * PT) <= 15.0)
        );
        let one = ellipsize(Weight::Bold, "Dưa lưới Trường Long Hòa", 8.0, 10.0);
        assert!(one.ends_with('…'));
    }
}
