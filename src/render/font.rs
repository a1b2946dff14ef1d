//! The fonts printed on stamps: Noto Sans Regular and Bold (SIL OFL 1.1,
//! `assets/fonts/`), built into the binary. Noto covers every precomposed
//! Vietnamese letter, and text reaches here in NFC, so one character maps to
//! one glyph and no shaping engine is needed.

use std::sync::OnceLock;

use ttf_parser::{Face, GlyphId};

static REGULAR_DATA: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
static BOLD_DATA: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");

/// The two weights tem prints with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    /// Regular.
    Regular,
    /// Bold.
    Bold,
}

/// An embedded font and its metrics.
pub struct Font {
    /// Its weight.
    pub weight: Weight,
    /// The PostScript name, used as the PDF base font name.
    pub postscript_name: &'static str,
    /// The font file (TrueType).
    pub data: &'static [u8],
    face: Face<'static>,
    units_per_em: f32,
    fallback: GlyphId,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("name", &self.postscript_name)
            .finish()
    }
}

/// One positioned glyph: its id, the character it shows, its advance in em.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    /// Its glyph id.
    pub id: u16,
    /// The character it draws.
    pub ch: char,
    /// How far it advances, in font units.
    pub advance: f32,
}

/// The embedded Noto Sans of `weight`.
pub fn font(weight: Weight) -> &'static Font {
    static REGULAR: OnceLock<Font> = OnceLock::new();
    static BOLD: OnceLock<Font> = OnceLock::new();
    match weight {
        Weight::Regular => {
            REGULAR.get_or_init(|| Font::load(Weight::Regular, "NotoSans-Regular", REGULAR_DATA))
        }
        Weight::Bold => BOLD.get_or_init(|| Font::load(Weight::Bold, "NotoSans-Bold", BOLD_DATA)),
    }
}

impl Font {
    fn load(weight: Weight, postscript_name: &'static str, data: &'static [u8]) -> Font {
        // The fonts are compiled in and checked by tests; failing here is a build defect.
        #[expect(
            clippy::expect_used,
            reason = "the embedded font is a build-time constant"
        )]
        let face = Face::parse(data, 0).expect("embedded Noto Sans parses");
        let fallback = face.glyph_index('?').unwrap_or(GlyphId(0));
        Font {
            weight,
            postscript_name,
            data,
            units_per_em: f32::from(face.units_per_em()),
            face,
            fallback,
        }
    }

    /// The glyphs for a text, one per character; characters the font lacks
    /// show as '?', never as an invisible box.
    pub fn glyphs(&self, text: &str) -> Vec<Glyph> {
        text.chars()
            .filter(|c| !c.is_control())
            .map(|ch| {
                let id = self.face.glyph_index(ch).unwrap_or(self.fallback);
                let advance =
                    f32::from(self.face.glyph_hor_advance(id).unwrap_or(0)) / self.units_per_em;
                Glyph {
                    id: id.0,
                    ch,
                    advance,
                }
            })
            .collect()
    }

    /// Whether every character of `text` has a glyph.
    pub fn covers(&self, text: &str) -> bool {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| self.face.glyph_index(c).is_some())
    }

    /// Width of `text` at `size` (any unit: the result is in the same unit).
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.glyphs(text).iter().map(|g| g.advance).sum::<f32>() * size
    }

    /// How far glyph `id` advances, in font units.
    pub fn advance(&self, id: u16) -> f32 {
        f32::from(self.face.glyph_hor_advance(GlyphId(id)).unwrap_or(0)) / self.units_per_em
    }

    /// Ascender and descender (negative) in em.
    pub fn ascent(&self) -> f32 {
        f32::from(self.face.ascender()) / self.units_per_em
    }

    /// How far below the baseline the font reaches, in font units.
    pub fn descent(&self) -> f32 {
        f32::from(self.face.descender()) / self.units_per_em
    }

    /// The height of capital letters, in font units.
    pub fn cap_height(&self) -> f32 {
        f32::from(self.face.capital_height().unwrap_or(714)) / self.units_per_em
    }

    /// Font units per em.
    pub fn units_per_em(&self) -> f32 {
        self.units_per_em
    }

    /// The font's bounding box in font units: (x_min, y_min, x_max, y_max).
    pub fn bbox(&self) -> (f32, f32, f32, f32) {
        let b = self.face.global_bounding_box();
        (
            f32::from(b.x_min),
            f32::from(b.y_min),
            f32::from(b.x_max),
            f32::from(b.y_max),
        )
    }

    /// Feeds a glyph's outline (font units, y up) to `builder`.
    pub fn outline(&self, id: u16, builder: &mut dyn ttf_parser::OutlineBuilder) {
        let _ = self.face.outline_glyph(GlyphId(id), builder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noto_covers_every_vietnamese_letter() {
        let letters = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ";
        for f in [font(Weight::Regular), font(Weight::Bold)] {
            assert!(f.covers(letters), "{f:?}");
            assert!(f.covers(&letters.to_uppercase()), "{f:?}");
            assert!(f.covers("Quét mã để xác thực – 0123456789"));
        }
    }

    #[test]
    fn missing_glyphs_fall_back_to_a_question_mark() {
        let f = font(Weight::Regular);
        let g = f.glyphs("a★");
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].id, f.glyphs("?")[0].id);
        assert!(!f.covers("★"));
    }
}
