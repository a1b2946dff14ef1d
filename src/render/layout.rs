//! Label-sheet geometry in millimetres: the A4 sheets people buy, and custom
//! ones from command-line options or a small TOML file.

use serde::{Deserialize, Serialize};

/// The shape of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Rectangular labels.
    Rectangle,
    /// A circle whose diameter is the label width (= height).
    Round,
}

/// A sheet of labels. Origins are measured from the page's top-left corner,
/// as label makers publish them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Its name ("a4-65").
    pub name: String,
    /// What it is, for people.
    pub description: String,
    /// Page width (mm).
    pub page_width: f64,
    /// Page height (mm).
    pub page_height: f64,
    /// Label width (mm).
    pub label_width: f64,
    /// Label height (mm).
    pub label_height: f64,
    /// Rectangular or round labels.
    pub shape: Shape,
    /// Labels across.
    pub columns: u32,
    /// Labels down.
    pub rows: u32,
    /// From the page's left edge to the first column's left edge.
    pub left: f64,
    /// From the page's top edge to the first row's top edge.
    pub top: f64,
    /// From one column's left edge to the next one's.
    pub pitch_x: f64,
    /// From one row's top edge to the next one's.
    pub pitch_y: f64,
}

/// A4 paper (mm).
pub const A4: (f64, f64) = (210.0, 297.0);

/// The built-in layouts. Geometry of the rectangular sheets follows the label
/// makers' templates as gLabels records them (Avery L7651/J8651 for `a4-65`,
/// L7654/L4770 for `a4-40`, L7160/J8160 for `a4-21`, L7163 for `a4-14`); the
/// 30 mm round sheet is the common 6 × 8 layout with a 33 mm pitch.
pub fn builtins() -> Vec<Layout> {
    let rect = |name: &str,
                description: &str,
                (w, h): (f64, f64),
                (c, r): (u32, u32),
                (left, top): (f64, f64),
                (px, py): (f64, f64)| Layout {
        name: name.into(),
        description: description.into(),
        page_width: A4.0,
        page_height: A4.1,
        label_width: w,
        label_height: h,
        shape: Shape::Rectangle,
        columns: c,
        rows: r,
        left,
        top,
        pitch_x: px,
        pitch_y: py,
    };
    vec![
        rect(
            "a4-65",
            "A4, 65 labels 38.1 × 21.2 mm, 5 × 13 (Avery L7651, J8651)",
            (38.1, 21.2),
            (5, 13),
            (4.7, 10.9),
            (40.6, 21.2),
        ),
        rect(
            "a4-40",
            "A4, 40 labels 45.7 × 25.4 mm, 4 × 10 (Avery L7654, L4770)",
            (45.7, 25.4),
            (4, 10),
            (10.0, 22.0),
            (48.5, 25.4),
        ),
        rect(
            "a4-21",
            "A4, 21 labels 63.5 × 38.1 mm, 3 × 7 (Avery L7160, J8160)",
            (63.5, 38.1),
            (3, 7),
            (7.25, 15.15),
            (66.04, 38.1),
        ),
        rect(
            "a4-14",
            "A4, 14 labels 99.1 × 38.1 mm, 2 × 7 (Avery L7163)",
            (99.1, 38.1),
            (2, 7),
            (4.65, 15.15),
            (101.6, 38.1),
        ),
        Layout {
            shape: Shape::Round,
            ..rect(
                "a4-round30",
                "A4, 48 round stickers Ø 30 mm, 6 × 8, pitch 33 mm",
                (30.0, 30.0),
                (6, 8),
                (7.5, 18.0),
                (33.0, 33.0),
            )
        },
    ]
}

/// Why a layout is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layout {layout}: {problem}")]
pub struct LayoutError {
    /// The layout's name.
    pub layout: String,
    /// What is wrong.
    pub problem: String,
}

impl Layout {
    /// A built-in layout by name.
    pub fn builtin(name: &str) -> Option<Layout> {
        builtins().into_iter().find(|l| l.name == name)
    }

    /// Parses a custom layout from TOML (the fields of `Layout`; `shape`
    /// defaults to rectangle, the page to A4).
    pub fn from_toml(text: &str) -> Result<Layout, LayoutError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Partial {
            name: Option<String>,
            description: Option<String>,
            page_width: Option<f64>,
            page_height: Option<f64>,
            label_width: f64,
            label_height: f64,
            shape: Option<Shape>,
            columns: u32,
            rows: u32,
            left: f64,
            top: f64,
            pitch_x: Option<f64>,
            pitch_y: Option<f64>,
        }
        let p: Partial = toml::from_str(text).map_err(|e| LayoutError {
            layout: "custom".into(),
            problem: e.to_string(),
        })?;
        let layout = Layout {
            name: p.name.unwrap_or_else(|| "custom".into()),
            description: p.description.unwrap_or_else(|| "custom layout".into()),
            page_width: p.page_width.unwrap_or(A4.0),
            page_height: p.page_height.unwrap_or(A4.1),
            label_width: p.label_width,
            label_height: p.label_height,
            shape: p.shape.unwrap_or(Shape::Rectangle),
            columns: p.columns,
            rows: p.rows,
            left: p.left,
            top: p.top,
            pitch_x: p.pitch_x.unwrap_or(p.label_width),
            pitch_y: p.pitch_y.unwrap_or(p.label_height),
        };
        layout.check()?;
        Ok(layout)
    }

    /// Labels on one sheet.
    pub fn per_sheet(&self) -> u32 {
        self.columns * self.rows
    }

    /// The top-left corner of label `index` (0-based, row by row), in mm
    /// from the page's top-left corner.
    pub fn label_origin(&self, index: u32) -> (f64, f64) {
        let slot = index % self.per_sheet();
        let (col, row) = (slot % self.columns, slot / self.columns);
        (
            self.left + f64::from(col) * self.pitch_x,
            self.top + f64::from(row) * self.pitch_y,
        )
    }

    /// Checks that the geometry is physically possible.
    pub fn check(&self) -> Result<(), LayoutError> {
        let fail = |problem: String| {
            Err(LayoutError {
                layout: self.name.clone(),
                problem,
            })
        };
        let all = [
            self.page_width,
            self.page_height,
            self.label_width,
            self.label_height,
            self.left,
            self.top,
            self.pitch_x,
            self.pitch_y,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return fail("every size must be a non-negative number of millimetres".into());
        }
        if !(5.0..=2000.0).contains(&self.label_width)
            || !(5.0..=2000.0).contains(&self.label_height)
        {
            return fail("labels must be between 5 and 2000 mm on each side".into());
        }
        if self.columns == 0 || self.rows == 0 || self.per_sheet() > 1000 {
            return fail("columns × rows must be between 1 and 1000".into());
        }
        if self.shape == Shape::Round && (self.label_width - self.label_height).abs() > 1e-9 {
            return fail("a round label's width and height must be equal (its diameter)".into());
        }
        if (self.columns > 1 && self.pitch_x + 1e-9 < self.label_width)
            || (self.rows > 1 && self.pitch_y + 1e-9 < self.label_height)
        {
            return fail("the pitch is smaller than the label: labels would overlap".into());
        }
        let right = self.left + f64::from(self.columns - 1) * self.pitch_x + self.label_width;
        let bottom = self.top + f64::from(self.rows - 1) * self.pitch_y + self.label_height;
        if right > self.page_width + 1e-6 || bottom > self.page_height + 1e-6 {
            return fail(format!(
                "the labels reach {right:.1} × {bottom:.1} mm, beyond the {} × {} mm page",
                self.page_width, self.page_height
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_fit_their_pages_and_have_the_named_counts() {
        let counts: Vec<(String, u32)> = builtins()
            .iter()
            .map(|l| (l.name.clone(), l.per_sheet()))
            .collect();
        assert_eq!(
            counts,
            [
                ("a4-65", 65),
                ("a4-40", 40),
                ("a4-21", 21),
                ("a4-14", 14),
                ("a4-round30", 48)
            ]
            .map(|(n, c)| (n.to_string(), c))
        );
        for l in builtins() {
            l.check().unwrap();
        }
    }

    #[test]
    fn origins_go_row_by_row() {
        let l = Layout::builtin("a4-65").unwrap();
        assert_eq!(l.label_origin(0), (4.7, 10.9));
        let (x, y) = l.label_origin(6);
        assert!((x - (4.7 + 40.6)).abs() < 1e-9 && (y - (10.9 + 21.2)).abs() < 1e-9);
        assert_eq!(l.label_origin(65), l.label_origin(0));
    }

    #[test]
    fn custom_layouts_are_checked() {
        let ok = "label_width = 50\nlabel_height = 30\ncolumns = 4\nrows = 9\nleft = 5\ntop = 13.5";
        assert_eq!(Layout::from_toml(ok).unwrap().per_sheet(), 36);
        let too_wide =
            "label_width = 60\nlabel_height = 30\ncolumns = 4\nrows = 9\nleft = 5\ntop = 10";
        assert!(
            Layout::from_toml(too_wide)
                .unwrap_err()
                .problem
                .contains("beyond")
        );
        let overlap = "label_width = 50\nlabel_height = 30\ncolumns = 2\nrows = 2\nleft = 5\ntop = 10\npitch_x = 40";
        assert!(
            Layout::from_toml(overlap)
                .unwrap_err()
                .problem
                .contains("overlap")
        );
        assert!(Layout::from_toml("label_width = 50").is_err());
    }
}
