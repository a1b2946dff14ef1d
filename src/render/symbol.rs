//! Where the QR symbol goes on a label, and its module: a whole number of
//! 300-dpi dots (`DOT_MM`), the same in every output format. PDF and SVG
//! draw it exactly, a PNG at 300 dpi gives each module that many dots and one
//! at 600 dpi twice as many, so a stamp prints the same whatever the format.
//!
//! The module is the whole number of dots nearest to what the label's room
//! allows; it is rounded up when the larger symbol still fits — its white
//! quiet zone may reach into the label's margin, its ink may not, and the
//! text keeps most of its column — and down otherwise.

use super::layout::{Layout, Shape};

/// One dot at 300 dpi, in mm: modules are whole numbers of these.
pub const DOT_MM: f32 = 25.4 / 300.0;

/// `mm` (a position on the page) moved to the nearest 300-dpi dot: a symbol
/// whose modules are whole dots and whose corner sits on a dot edge
/// rasterises with every module edge on a dot edge, at 300 dpi and 600 alike,
/// with no grey half-dots (a PNG sheet gets this by construction).
pub fn snap_to_dot(mm: f32) -> f32 {
    (mm / DOT_MM).round() * DOT_MM
}

/// The symbol's box (its quiet zone included) on a label, in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Symbol {
    /// Left edge of the quiet zone, from the label's left edge.
    pub x: f32,
    /// Top edge of the quiet zone.
    pub y: f32,
    /// One module.
    pub module: f32,
    /// The box's side: (modules + 2 × quiet zone) × module.
    pub side: f32,
}

/// The blank margin kept between ink and the die-cut edge: 1 mm, 0.8 mm on
/// small labels.
pub fn pad(layout: &Layout) -> f32 {
    if layout.label_height < 25.0 { 0.8 } else { 1.0 }
}

/// The room for the symbol with its quiet zone: on a rectangle the square
/// left of the text (at most 60 % of the width), on a round label the square
/// inscribed in the circle (the text goes in the segments above and below).
fn room(layout: &Layout) -> f32 {
    let (w, h) = (layout.label_width as f32, layout.label_height as f32);
    match layout.shape {
        Shape::Rectangle => (h - 2.0 * pad(layout)).min(w * 0.6 - pad(layout)),
        Shape::Round => w / std::f32::consts::SQRT_2,
    }
}

/// On a round label, the height kept above and below the symbol for a line
/// of text each (the product name, the short code): 3.4 mm on a 30 mm circle.
pub fn round_text_band(layout: &Layout) -> f32 {
    3.4 * layout.label_width as f32 / 30.0
}

/// Where a symbol of `modules` modules and a quiet zone of `quiet_zone`
/// goes on a label of `layout`.
pub fn place(layout: &Layout, modules: u32, quiet_zone: u32) -> Symbol {
    let (w, h) = (layout.label_width as f32, layout.label_height as f32);
    let (p, room) = (pad(layout), room(layout));
    let total = (modules + 2 * quiet_zone) as f32;
    let ideal = room / total;
    let at = |module: f32| -> Option<Symbol> {
        let side = module * total;
        let white = module * quiet_zone as f32;
        let symbol = match layout.shape {
            Shape::Rectangle => Symbol {
                x: (p - (side - room).max(0.0)).max(0.0),
                y: (h - side) / 2.0,
                module,
                side,
            },
            Shape::Round => Symbol {
                x: (w - side) / 2.0,
                y: (w - side) / 2.0,
                module,
                side,
            },
        };
        let text_left = w - (symbol.x + side) - p;
        let fits = match layout.shape {
            Shape::Rectangle => {
                side <= h + 1e-4
                    && symbol.x + white >= p - 1e-4
                    && symbol.y + white >= p - 1e-4
                    && text_left >= 0.9 * (w - p - room - p)
            }
            // Centred on a round label: the white corners stay on the
            // sticker, the ink keeps the pad from the edge, and a band above
            // and below is left for the text.
            Shape::Round => {
                let r = w / 2.0;
                side / 2.0 * std::f32::consts::SQRT_2 <= r + 1e-4
                    && (side / 2.0 - white) * std::f32::consts::SQRT_2 <= r - p
                    && (w - side) / 2.0 >= round_text_band(layout) + p - 1e-4
            }
        };
        fits.then_some(symbol)
    };
    let dots = ideal / DOT_MM;
    let nearest = (
        dots.round().max(1.0) * DOT_MM,
        dots.floor().max(1.0) * DOT_MM,
    );
    at(nearest.0).or_else(|| at(nearest.1)).unwrap_or_else(|| {
        let side = nearest.1 * total;
        let x = match layout.shape {
            Shape::Rectangle => p,
            Shape::Round => (w - side) / 2.0,
        };
        Symbol {
            x,
            y: (h - side) / 2.0,
            module: nearest.1,
            side,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::layout::builtins;

    #[test]
    fn modules_are_whole_dots_and_the_ink_keeps_off_the_edge() {
        for l in builtins() {
            for qz in 2..=4 {
                let s = place(&l, 41, qz);
                let dots = s.module / DOT_MM;
                assert!(
                    (dots - dots.round()).abs() < 1e-3,
                    "{}: {dots} dots",
                    l.name
                );
                let ink = s.module * qz as f32;
                if l.shape == Shape::Rectangle {
                    assert!(
                        s.x + ink >= pad(&l) - 1e-3 && s.y + ink >= pad(&l) - 1e-3,
                        "{}",
                        l.name
                    );
                    assert!(s.y + s.side <= l.label_height as f32 + 1e-3, "{}", l.name);
                }
            }
        }
        // a4-65 at version 6: 0.40 mm of room rounds up to 5 dots (0.42 mm).
        let a465 = crate::render::layout::Layout::builtin("a4-65").unwrap();
        assert!((place(&a465, 41, 4).module - 5.0 * DOT_MM).abs() < 1e-4);
    }
}
