//! Batches (lô sản xuất) and their production stages. Stamps are issued per batch.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::{self, DomainError, Lines};
use super::{BatchId, ProductId, StampCounts};

/// When a stage happened: a day, or a day and a local (Vietnam) time.
/// Farmers often know only the day; a factory knows the minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct StageTime(String);

impl StageTime {
    /// Parses a stage's time: a date (YYYY-MM-DD) or a date and time.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        let v = value.trim();
        if v.parse::<Date>().is_ok() && v.len() == 10 {
            return Ok(Self(v.to_string()));
        }
        if let Ok(dt) = v.parse::<jiff::civil::DateTime>() {
            // Keep minutes; seconds add nothing for a consumer.
            return Ok(Self(dt.strftime("%Y-%m-%dT%H:%M").to_string()));
        }
        Err(DomainError::new(
            field,
            format!("must be YYYY-MM-DD or YYYY-MM-DDTHH:MM (got {value:?})"),
        ))
    }

    /// As typed (and stored).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads back a value this type wrote.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

/// A stage as callers send it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    /// What happened: "Thu hoạch", "Xay xát", "Đóng gói"…
    pub name: String,
    /// Where (farm, workshop, commune).
    pub place: Option<String>,
    /// YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time)
    pub time: String,
    /// Anything else worth telling the buyer.
    pub note: Option<String>,
}

/// A stage that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStage {
    /// What was done (harvest, drying, packing…).
    pub name: String,
    /// Where.
    pub place: Option<String>,
    /// When.
    pub time: StageTime,
    /// A note.
    pub note: Option<String>,
}

impl TryFrom<StageInput> for NewStage {
    type Error = DomainError;
    fn try_from(i: StageInput) -> Result<Self, DomainError> {
        Ok(NewStage {
            name: text::required("name", &i.name, 100, Lines::One)?,
            place: text::optional("place", i.place.as_deref(), 200, Lines::One)?,
            time: StageTime::parse("time", &i.time)?,
            note: text::optional("note", i.note.as_deref(), 1000, Lines::Many)?,
        })
    }
}

/// A recorded stage of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Stage {
    /// Position in the batch's chain, from 1.
    pub position: u32,
    /// What was done.
    pub name: String,
    /// Where.
    pub place: Option<String>,
    /// When.
    #[schema(value_type = String)]
    pub time: StageTime,
    /// A note.
    pub note: Option<String>,
}

/// A batch as callers send it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    /// Unique per product: letters, digits and . _ - /
    pub lot_code: String,
    /// YYYY-MM-DD
    pub production_date: String,
    /// YYYY-MM-DD; or give `shelf_life_days` and it is computed.
    pub expiry_date: Option<String>,
    /// Days the product keeps; the expiry date follows from the production date.
    pub shelf_life_days: Option<u32>,
    /// How many packages the lot holds.
    pub quantity: u32,
    /// "bao 5 kg", "quả", "hộp"…
    pub unit: Option<String>,
    /// Where the raw material comes from (vùng nguyên liệu).
    pub raw_material_area: Option<String>,
    /// What was done to the lot, in order.
    #[serde(default)]
    pub stages: Vec<StageInput>,
}

/// A batch that passed validation, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBatch {
    /// The product it is a lot of.
    pub product_id: ProductId,
    /// The lot code printed on labels.
    pub lot_code: String,
    /// When it was made.
    pub production_date: Date,
    /// Best before, if the product has one.
    pub expiry_date: Option<Date>,
    /// Days it keeps.
    pub shelf_life_days: Option<u32>,
    /// How many packages.
    pub quantity: u32,
    /// What a package is ("hộp 500 g").
    pub unit: Option<String>,
    /// Where the raw material comes from.
    pub raw_material_area: Option<String>,
    /// Its stages.
    pub stages: Vec<NewStage>,
}

/// A stored batch (lô).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Batch {
    /// Also carried inside every stamp code of the batch.
    pub id: BatchId,
    /// The product it is a lot of.
    pub product_id: ProductId,
    /// The lot code printed on labels.
    pub lot_code: String,
    /// When it was made.
    #[schema(value_type = String, format = Date)]
    pub production_date: Date,
    /// Best before, if any.
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry_date: Option<Date>,
    /// Days it keeps.
    pub shelf_life_days: Option<u32>,
    /// How many packages.
    pub quantity: u32,
    /// What a package is.
    pub unit: Option<String>,
    /// Where the raw material comes from.
    pub raw_material_area: Option<String>,
    /// Its stages, in order.
    pub stages: Vec<Stage>,
    /// Its stamps by state.
    pub stamps: StampCounts,
    /// When it was registered.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl Batch {
    /// The lot code as it goes into file names (see [`file_label`]).
    pub fn file_label(&self) -> String {
        file_label(&self.lot_code)
    }
}

/// A lot code as it goes into file names: letters, digits and `-`, anything
/// else `_` (a lot code may hold `/` and `.`).
pub fn file_label(lot_code: &str) -> String {
    lot_code.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
}

/// Up to 10 million packages in one lot: more than any OCOP producer makes,
/// and it keeps arithmetic on counts far from overflow.
pub const MAX_QUANTITY: u32 = 10_000_000;
const MAX_STAGES: usize = 50;
/// Ten years: longer shelf lives (e.g. for handicrafts) are better left empty.
const MAX_SHELF_LIFE_DAYS: u32 = 3_660;

impl NewBatch {
    /// Checks a batch as sent: lot code, dates, quantity, stages.
    pub fn from_input(product_id: ProductId, i: BatchInput) -> Result<Self, DomainError> {
        let lot_code = text::required("lot_code", &i.lot_code, 40, Lines::One)?;
        if !lot_code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        {
            return Err(DomainError::new(
                "lot_code",
                "may contain only ASCII letters, digits and . _ - / (it is printed on labels)",
            ));
        }
        let production_date = text::date("production_date", &i.production_date)?;
        if let Some(days) = i.shelf_life_days
            && (days == 0 || days > MAX_SHELF_LIFE_DAYS)
        {
            return Err(DomainError::new(
                "shelf_life_days",
                format!("must be between 1 and {MAX_SHELF_LIFE_DAYS}"),
            ));
        }
        let mut expiry_date = text::optional_date("expiry_date", i.expiry_date.as_deref())?;
        if expiry_date.is_none()
            && let Some(days) = i.shelf_life_days
        {
            let span = jiff::Span::new().days(i64::from(days));
            expiry_date =
                Some(production_date.checked_add(span).map_err(|_| {
                    DomainError::new("shelf_life_days", "gives a date out of range")
                })?);
        }
        if let Some(expiry) = expiry_date
            && expiry < production_date
        {
            return Err(DomainError::new(
                "expiry_date",
                "must not be before production_date",
            ));
        }
        if i.quantity == 0 || i.quantity > MAX_QUANTITY {
            return Err(DomainError::new(
                "quantity",
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        if i.stages.len() > MAX_STAGES {
            return Err(DomainError::new(
                "stages",
                format!("at most {MAX_STAGES} stages"),
            ));
        }
        let stages = i
            .stages
            .into_iter()
            .enumerate()
            .map(|(n, s)| NewStage::try_from(s).map_err(|e| e.within(&format!("stages[{n}]"))))
            .collect::<Result<_, _>>()?;
        Ok(NewBatch {
            product_id,
            lot_code,
            production_date,
            expiry_date,
            shelf_life_days: i.shelf_life_days,
            quantity: i.quantity,
            unit: text::optional("unit", i.unit.as_deref(), 40, Lines::One)?,
            raw_material_area: text::optional(
                "raw_material_area",
                i.raw_material_area.as_deref(),
                300,
                Lines::One,
            )?,
            stages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> BatchInput {
        BatchInput {
            lot_code: "DT-2024-01".into(),
            production_date: "2024-05-02".into(),
            quantity: 5000,
            ..Default::default()
        }
    }

    #[test]
    fn shelf_life_gives_expiry() {
        let mut i = input();
        i.shelf_life_days = Some(365);
        let b = NewBatch::from_input(ProductId(1), i).unwrap();
        assert_eq!(b.expiry_date, Some(jiff::civil::date(2025, 5, 2)));
    }

    #[test]
    fn refuses_bad_batches() {
        type Mutation = Box<dyn Fn(&mut BatchInput)>;
        let bad: Vec<(&str, Mutation)> = vec![
            ("lot_code", Box::new(|i| i.lot_code = "lô 1".into())),
            (
                "production_date",
                Box::new(|i| i.production_date = "02/05/2024".into()),
            ),
            (
                "expiry_date",
                Box::new(|i| i.expiry_date = Some("2024-01-01".into())),
            ),
            ("quantity", Box::new(|i| i.quantity = 0)),
            ("shelf_life_days", Box::new(|i| i.shelf_life_days = Some(0))),
            (
                "stages[0].time",
                Box::new(|i| {
                    i.stages = vec![StageInput {
                        name: "Gặt".into(),
                        time: "hôm qua".into(),
                        ..Default::default()
                    }]
                }),
            ),
        ];
        for (field, mutate) in bad {
            let mut i = input();
            mutate(&mut i);
            assert_eq!(
                NewBatch::from_input(ProductId(1), i).unwrap_err().field,
                field
            );
        }
    }

    #[test]
    fn stage_times() {
        assert_eq!(
            StageTime::parse("t", "2024-05-02").unwrap().as_str(),
            "2024-05-02"
        );
        assert_eq!(
            StageTime::parse("t", "2024-05-02T07:30:15")
                .unwrap()
                .as_str(),
            "2024-05-02T07:30"
        );
        assert!(StageTime::parse("t", "2024-13-02").is_err());
    }
}
