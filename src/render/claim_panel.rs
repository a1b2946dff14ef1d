//! The scratch-off panel of a claim stamp: a framed box, marked "Mã cào"
//! ("Scratch code"), that the print shop covers with scratch-off foil. The
//! stamp's claim code is printed inside in two lines of bold digits large
//! enough to type from a phone.
//!
//! The panel is drawn per stamp (only stamps with a claim code get one), at
//! the bottom of a rectangular label's text column; the rest of the text is
//! fitted above it. Round labels have no room for it.

use super::font::{Weight, font};
use super::label::{self, Content, Design, DesignError, Lang, PT, TextLine};
use super::layout::{Layout, Shape};
use super::outline::PathSink;

/// The smallest size of the code's digits (pt): at 5.5 pt a digit is about
/// 1.4 mm tall, as on phone top-up cards.
pub const MIN_CODE_PT: f32 = 5.5;
/// The largest size of the code's digits (pt).
const MAX_CODE_PT: f32 = 8.0;
/// Line spacing of the two code lines.
const LEAD: f32 = 1.2;
/// Between the frame and the digits (mm).
const INNER: f32 = 0.6;
/// The frame's line width (mm).
const FRAME: f32 = 0.2;
/// Size of the marker above the panel (pt, at most).
const MARKER_PT: f32 = 5.0;
/// The panel may take at most this share of the text column's height.
const MAX_SHARE: f32 = 0.45;
/// The widest line of a grouped code (two groups of four digits).
const WIDEST_LINE: &str = "0000 0000";
/// What a preview shows instead of a code: the panel, with no secret in it.
pub const MASK: &str = "•••• •••• •••• ••";
/// The least height (mm) the text above the panel needs: a line of the
/// product's name, the short code and the caption at their smallest sizes.
const MIN_TEXT_ABOVE: f32 = 6.0;

/// The label design of claim stamps on `layout`: the usual one, its text
/// column shortened to make room for the panel at its bottom. Refused, naming
/// the built-in layouts that fit, when the layout is round or too small for
/// readable digits beside QR modules of at least 0.33 mm.
pub fn design(
    layout: &Layout,
    content: &Content,
    modules: u32,
) -> Result<(Design, ClaimPanel), DesignError> {
    let Some(panel) = place(layout, modules, content) else {
        return Err(DesignError::NoRoomForClaimPanel {
            layout: layout.name.clone(),
            min_pt: MIN_CODE_PT,
            advice: label::advice(modules, |l| place(l, modules, content).is_some()),
        });
    };
    let content = Content {
        reserve_bottom: panel.reserved(),
        ..content.clone()
    };
    match label::design(layout, &content, modules) {
        Ok(design) => Ok((design, panel)),
        Err(DesignError::ModulesTooSmall { layout, module, .. }) => {
            Err(DesignError::ModulesTooSmall {
                layout,
                module,
                advice: label::advice(modules, |l| place(l, modules, &content).is_some()),
            })
        }
        Err(e) => Err(e),
    }
}

/// The panel of a rectangular layout with room for it and the text above.
fn place(layout: &Layout, modules: u32, content: &Content) -> Option<ClaimPanel> {
    if layout.shape != Shape::Rectangle {
        return None;
    }
    let (x, top, w, h) = label::text_column(layout, modules, content.quiet_zone);
    let panel = ClaimPanel::fit(x, top, w, h, content.lang)?;
    (h - panel.reserved() >= MIN_TEXT_ABOVE).then_some(panel)
}

/// Where the panel goes on a label (mm from its top-left corner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClaimPanel {
    /// Left edge of the frame.
    pub x: f32,
    /// Top edge of the frame.
    pub y: f32,
    /// Width of the frame.
    pub w: f32,
    /// Height of the frame.
    pub h: f32,
    /// Size of the code's digits (pt).
    pub size: f32,
    /// Size of the marker line above the frame (pt).
    pub marker_size: f32,
    /// The marker's language.
    pub lang: Lang,
}

impl ClaimPanel {
    /// The panel for a text column at `x` that is `w` mm wide and `h` mm tall
    /// and starts at `top`, sitting at the column's bottom; `None` when the
    /// digits would be smaller than [`MIN_CODE_PT`].
    pub fn fit(x: f32, top: f32, w: f32, h: f32, lang: Lang) -> Option<ClaimPanel> {
        let bold = font(Weight::Bold);
        let by_width = (w - 2.0 * INNER) * 0.99 / bold.width(WIDEST_LINE, PT);
        let by_height = (h * MAX_SHARE - 2.0 * INNER) / (2.0 * PT * LEAD);
        let size = by_width.min(by_height).min(MAX_CODE_PT);
        if size < MIN_CODE_PT {
            return None;
        }
        let panel_h = 2.0 * size * PT * LEAD + 2.0 * INNER;
        let marker = marker_text(lang);
        let marker_size = (w * 0.99 / font(Weight::Regular).width(marker, PT)).min(MARKER_PT);
        Some(ClaimPanel {
            x,
            y: top + h - panel_h,
            w,
            h: panel_h,
            size,
            marker_size,
            lang,
        })
    }

    /// Height the panel takes from the column, its marker line included (mm).
    pub fn reserved(&self) -> f32 {
        self.h + self.marker_size * PT * 1.25
    }

    /// The frame, as four filled rectangles (x, y, w, h): every output
    /// format fills rectangles the same way.
    pub fn frame(&self) -> [(f32, f32, f32, f32); 4] {
        let (x, y, w, h, t) = (self.x, self.y, self.w, self.h, FRAME);
        [
            (x, y, w, t),
            (x, y + h - t, w, t),
            (x, y, t, h),
            (x + w - t, y, t, h),
        ]
    }

    /// The marker line just above the frame.
    pub fn marker(&self) -> TextLine {
        TextLine {
            weight: Weight::Regular,
            size: self.marker_size,
            x: self.x,
            baseline: self.y - self.marker_size * PT * 0.3,
            text: marker_text(self.lang).into(),
        }
    }

    /// The code's two lines (the first two groups, then the rest), centred
    /// in the frame.
    pub fn code_lines(&self, grouped: &str) -> Vec<TextLine> {
        let groups: Vec<&str> = grouped.split(' ').collect();
        let split = groups.len().min(2);
        let lines = [groups[..split].join(" "), groups[split..].join(" ")];
        let bold = font(Weight::Bold);
        let line_h = self.size * PT * LEAD;
        lines
            .into_iter()
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, text)| TextLine {
                weight: Weight::Bold,
                size: self.size,
                x: self.x + (self.w - bold.width(&text, self.size * PT)) / 2.0,
                baseline: self.y + INNER + line_h * (i as f32 + 1.0) - self.size * PT * 0.3,
                text,
            })
            .collect()
    }

    /// The whole panel of one stamp as outlines (frame, marker, code), for
    /// the formats that draw text as paths (SVG, PNG).
    pub fn outline(&self, sink: &mut dyn PathSink, claim: &str) {
        self.frame_path(sink, 0.0, 0.0);
        let marker = self.marker();
        for l in std::iter::once(marker).chain(self.code_lines(claim)) {
            super::outline::text(sink, l.weight, &l.text, l.size, l.x, l.baseline);
        }
    }

    /// Emits the frame as closed rectangles, offset by (dx, dy) mm.
    pub fn frame_path(&self, sink: &mut dyn PathSink, dx: f32, dy: f32) {
        for (x, y, w, h) in self.frame() {
            sink.move_to(dx + x, dy + y);
            sink.line_to(dx + x + w, dy + y);
            sink.line_to(dx + x + w, dy + y + h);
            sink.line_to(dx + x, dy + y + h);
            sink.close();
        }
    }
}

/// The words above the panel.
fn marker_text(lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => "Mã cào",
        Lang::En => "Scratch code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::label::MIN_MODULE_MM;
    use crate::render::layout::builtins;

    #[test]
    fn claim_panels_fit_every_rectangular_layout_and_round_ones_are_refused() {
        let claim = Content {
            product: "Gạo thơm hữu cơ đặc sản vùng giồng cát ven biển".into(),
            producer: "Hợp tác xã nông nghiệp – thủy sản Trường Long Hòa".into(),
            stars: Some(4),
            lang: Lang::Vi,
            widest_code: None,
            quiet_zone: label::QUIET_ZONE,
            reserve_bottom: 0.0,
        };
        for l in builtins() {
            match (l.shape, design(&l, &claim, 41)) {
                (Shape::Rectangle, Ok((d, panel))) => {
                    assert!(d.module >= MIN_MODULE_MM, "{}", l.name);
                    assert!(panel.y + panel.h <= l.label_height as f32, "{}", l.name);
                    let top = panel.y - panel.reserved() + panel.h;
                    for line in &d.lines {
                        assert!(
                            line.baseline <= top + 1e-3,
                            "{}: {line:?} enters the panel",
                            l.name
                        );
                    }
                    assert!(
                        d.code.baseline <= top + 1e-3,
                        "{}: the short code enters the panel",
                        l.name
                    );
                }
                (Shape::Round, Err(e)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("a4-round30") && text.contains("scratch panel"),
                        "{text}"
                    );
                    assert!(text.contains("a4-65") && text.contains("a4-14"), "{text}");
                }
                (_, other) => panic!("{}: {other:?}", l.name),
            }
        }
    }

    #[test]
    fn the_code_stays_inside_the_frame_in_two_lines() {
        let p = ClaimPanel::fit(20.0, 1.0, 16.9, 19.6, Lang::Vi).unwrap();
        assert!(p.size >= MIN_CODE_PT && p.size <= MAX_CODE_PT, "{}", p.size);
        assert!(
            (p.y + p.h - 20.6).abs() < 1e-3,
            "sits at the column's bottom"
        );
        let lines = p.code_lines("1234 5678 9012 34");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "1234 5678");
        assert_eq!(lines[1].text, "9012 34");
        for l in &lines {
            let w = font(Weight::Bold).width(&l.text, l.size * PT);
            assert!(l.x >= p.x + INNER - 1e-3 && l.x + w <= p.x + p.w - INNER + 1e-3);
            assert!(l.baseline - l.size * PT * 0.75 >= p.y && l.baseline <= p.y + p.h);
        }
        let marker = p.marker();
        assert!(
            marker.baseline <= p.y
                && marker.baseline - marker.size * PT * 0.75 >= p.y - p.reserved() + p.h - 1e-3
        );
    }

    #[test]
    fn a_column_too_narrow_for_readable_digits_has_no_panel() {
        assert!(ClaimPanel::fit(0.0, 0.0, 8.0, 19.6, Lang::Vi).is_none());
        assert!(ClaimPanel::fit(0.0, 0.0, 16.9, 8.0, Lang::Vi).is_none());
    }
}
