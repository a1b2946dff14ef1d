//! Products (sản phẩm): OCOP group and star rating, GTIN, certifications.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::{self, DomainError, Lines};
use super::{ProducerId, ProductId};

/// The six OCOP product groups of Decision 148/QĐ-TTg (2023).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OcopGroup {
    /// thực phẩm
    Food,
    /// đồ uống
    Beverages,
    /// thảo dược
    Herbal,
    /// vải và may mặc
    Textiles,
    /// lưu niệm – nội thất – trang trí
    Souvenirs,
    /// dịch vụ du lịch cộng đồng, du lịch nông thôn
    Tourism,
}

impl OcopGroup {
    /// Every group, in the order forms list them.
    pub const ALL: [OcopGroup; 6] = [
        Self::Food,
        Self::Beverages,
        Self::Herbal,
        Self::Textiles,
        Self::Souvenirs,
        Self::Tourism,
    ];

    /// The group's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Food => "food",
            Self::Beverages => "beverages",
            Self::Herbal => "herbal",
            Self::Textiles => "textiles",
            Self::Souvenirs => "souvenirs",
            Self::Tourism => "tourism",
        }
    }

    /// The group's Vietnamese name.
    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Food => "Thực phẩm",
            Self::Beverages => "Đồ uống",
            Self::Herbal => "Thảo dược",
            Self::Textiles => "Vải và may mặc",
            Self::Souvenirs => "Lưu niệm – nội thất – trang trí",
            Self::Tourism => "Dịch vụ du lịch cộng đồng, du lịch nông thôn",
        }
    }

    /// A group by its name; the error names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|g| g.as_str() == value.trim()).ok_or_else(|| {
            DomainError::new(
                field,
                format!(
                    "must be one of food, beverages, herbal, textiles, souvenirs, tourism (got {value:?})"
                ),
            )
        })
    }
}

/// An OCOP star rating and the decision that granted it. A rating is valid
/// for 36 months from the decision date (Decision 148/QĐ-TTg).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OcopRating {
    /// 3, 4 or 5.
    pub stars: u8,
    /// The decision that granted it (số quyết định).
    pub decision_no: String,
    /// The decision's date (ratings last 36 months from it).
    #[schema(value_type = String, format = Date)]
    pub decision_date: Date,
    /// The last day the rating is valid: decision date + 36 months − 1 day.
    #[schema(value_type = String, format = Date)]
    pub valid_until: Date,
}

/// Months an OCOP certificate stays valid.
pub const OCOP_VALIDITY_MONTHS: i8 = 36;

impl OcopRating {
    /// A rating of 3 to 5 stars by a dated decision.
    pub fn new(stars: u8, decision_no: String, decision_date: Date) -> Result<Self, DomainError> {
        if !(3..=5).contains(&stars) {
            return Err(DomainError::new(
                "ocop.stars",
                format!("must be 3, 4 or 5 (got {stars})"),
            ));
        }
        let valid_until = decision_date
            .checked_add(jiff::Span::new().months(OCOP_VALIDITY_MONTHS))
            .and_then(|d| d.checked_sub(jiff::Span::new().days(1)))
            .map_err(|_| DomainError::new("ocop.decision_date", "is out of range"))?;
        Ok(Self {
            stars,
            decision_no,
            decision_date,
            valid_until,
        })
    }

    /// Whether the rating is in force on `day`.
    pub fn is_valid_on(&self, day: Date) -> bool {
        day >= self.decision_date && day <= self.valid_until
    }
}

/// An OCOP rating as callers send it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OcopRatingInput {
    /// Stars, 3 to 5.
    pub stars: u8,
    /// Number of the provincial/national decision, e.g. "1234/QĐ-UBND".
    pub decision_no: String,
    /// YYYY-MM-DD
    pub decision_date: String,
}

impl TryFrom<OcopRatingInput> for OcopRating {
    type Error = DomainError;
    fn try_from(i: OcopRatingInput) -> Result<Self, DomainError> {
        let no = text::required("ocop.decision_no", &i.decision_no, 60, Lines::One)?;
        let date = text::date("ocop.decision_date", &i.decision_date)?;
        OcopRating::new(i.stars, no, date)
    }
}

/// A GS1 GTIN-8, -12, -13 or -14 with a correct check digit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Gtin(String);

impl Gtin {
    /// Parses a GTIN-8, 12, 13 or 14 and checks its check digit; the error names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        let v = value.trim();
        if !matches!(v.len(), 8 | 12 | 13 | 14) || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::new(
                field,
                "must be a GTIN of 8, 12, 13 or 14 digits",
            ));
        }
        let digits: Vec<u32> = v.bytes().map(|b| u32::from(b - b'0')).collect();
        let (body, check) = digits.split_at(digits.len() - 1);
        // GS1 general specifications §7.9.1: weights 3,1,3,1… from the right of the body.
        let sum: u32 = body
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
            .sum();
        let expected = (10 - sum % 10) % 10;
        if expected != check[0] {
            return Err(DomainError::new(
                field,
                format!(
                    "has a wrong check digit (expected {expected}, got {})",
                    check[0]
                ),
            ));
        }
        Ok(Gtin(v.to_string()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A standard or certification applied to the product (VietGAP, organic,
/// HACCP, ISO 22000, TCVN…), shown to consumers with its validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Certification {
    /// What it is: "VietGAP", "Hữu cơ TCVN 11041", "HACCP", "ISO 22000:2018"…
    pub name: String,
    /// Who issued it.
    pub issuer: Option<String>,
    /// Its number.
    pub number: Option<String>,
    /// Until when it holds, if it ends.
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
}

/// A certification as callers send it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificationInput {
    /// Its name (VietGAP, organic…).
    pub name: String,
    /// Who issued it.
    pub issuer: Option<String>,
    /// Its number.
    pub number: Option<String>,
    /// YYYY-MM-DD
    pub valid_until: Option<String>,
}

impl CertificationInput {
    fn validate(self) -> Result<Certification, DomainError> {
        Ok(Certification {
            name: text::required("name", &self.name, 100, Lines::One)?,
            issuer: text::optional("issuer", self.issuer.as_deref(), 200, Lines::One)?,
            number: text::optional("number", self.number.as_deref(), 100, Lines::One)?,
            valid_until: text::optional_date("valid_until", self.valid_until.as_deref())?,
        })
    }
}

/// A product as callers send it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// The producer that makes it.
    pub producer_id: i64,
    /// Its name.
    pub name: String,
    /// food | beverages | herbal | textiles | souvenirs | tourism
    pub ocop_group: Option<String>,
    /// Its OCOP rating, if it has one.
    pub ocop: Option<OcopRatingInput>,
    /// Its GTIN, if it has one.
    pub gtin: Option<String>,
    /// What buyers should know about it.
    pub description: Option<String>,
    /// Image addresses: `https://…` or a path under the service's assets.
    #[serde(default)]
    pub images: Vec<String>,
    /// Certifications (VietGAP, organic…).
    #[serde(default)]
    pub certifications: Vec<CertificationInput>,
}

/// A product that passed validation, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// The producer that makes it.
    pub producer_id: ProducerId,
    /// Its name.
    pub name: String,
    /// Its OCOP product group.
    pub ocop_group: Option<OcopGroup>,
    /// Its OCOP rating.
    pub ocop: Option<OcopRating>,
    /// Its GTIN.
    pub gtin: Option<Gtin>,
    /// What buyers should know.
    pub description: Option<String>,
    /// Its pictures, by stored name.
    pub images: Vec<String>,
    /// Its certifications.
    pub certifications: Vec<Certification>,
    /// Photos uploaded with this change, stored in the same transaction as
    /// the product (so a change that fails leaves no photo behind).
    pub media: Vec<Media>,
}

/// A picture tem stores and serves itself (`/media/NAME`), named by the
/// hash of its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    /// Its stored name (`/media/NAME`).
    pub name: String,
    /// "image/jpeg".
    pub content_type: String,
    /// The picture.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Media {
    /// A JPEG named by the SHA-256 of its bytes (so cacheable for ever).
    pub fn jpeg(bytes: Vec<u8>) -> Media {
        use sha2::Digest;
        let name = format!(
            "{}.jpg",
            &data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&bytes))[..32]
        );
        Media {
            name,
            content_type: "image/jpeg".into(),
            bytes,
        }
    }
}

/// A stored product (sản phẩm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Product {
    /// Its id.
    pub id: ProductId,
    /// The producer that makes it.
    pub producer_id: ProducerId,
    /// Its name.
    pub name: String,
    /// Its OCOP product group.
    pub ocop_group: Option<OcopGroup>,
    /// Its OCOP rating, if it has one.
    pub ocop: Option<OcopRating>,
    /// Its GTIN, if it has one.
    pub gtin: Option<Gtin>,
    /// What buyers should know.
    pub description: Option<String>,
    /// Its pictures, by stored name.
    pub images: Vec<String>,
    /// Its certifications.
    pub certifications: Vec<Certification>,
    /// When it was registered.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

const MAX_IMAGES: usize = 10;
const MAX_CERTIFICATIONS: usize = 20;

impl TryFrom<ProductInput> for NewProduct {
    type Error = DomainError;

    fn try_from(i: ProductInput) -> Result<Self, DomainError> {
        if i.images.len() > MAX_IMAGES {
            return Err(DomainError::new(
                "images",
                format!("at most {MAX_IMAGES} images"),
            ));
        }
        if i.certifications.len() > MAX_CERTIFICATIONS {
            return Err(DomainError::new(
                "certifications",
                format!("at most {MAX_CERTIFICATIONS} certifications"),
            ));
        }
        let images = i
            .images
            .iter()
            .enumerate()
            .map(|(n, img)| image_ref(&format!("images[{n}]"), img))
            .collect::<Result<_, _>>()?;
        let certifications = i
            .certifications
            .into_iter()
            .enumerate()
            .map(|(n, c)| {
                c.validate()
                    .map_err(|e| e.within(&format!("certifications[{n}]")))
            })
            .collect::<Result<_, _>>()?;
        let ocop_group = match i.ocop_group.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(g) => Some(OcopGroup::parse("ocop_group", g)?),
        };
        let ocop = i.ocop.map(OcopRating::try_from).transpose()?;
        if ocop.is_some() && ocop_group.is_none() {
            return Err(DomainError::new(
                "ocop_group",
                "is required for an OCOP-rated product",
            ));
        }
        Ok(NewProduct {
            producer_id: ProducerId(i.producer_id),
            name: text::required("name", &i.name, 200, Lines::One)?,
            ocop_group,
            ocop,
            gtin: match i.gtin.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(g) => Some(Gtin::parse("gtin", g)?),
            },
            description: text::optional(
                "description",
                i.description.as_deref(),
                4000,
                Lines::Many,
            )?,
            images,
            certifications,
            media: Vec::new(),
        })
    }
}

/// An image reference: an https URL or a relative path without `..`.
fn image_ref(field: &str, value: &str) -> Result<String, DomainError> {
    let v = text::required(field, value, 500, Lines::One)?;
    let is_url = v.starts_with("https://") && !v.contains(char::is_whitespace);
    let is_path = !v.contains("..")
        && !v.starts_with('/')
        && !v.contains("://")
        && v.chars().all(|c| c.is_alphanumeric() || "._-/".contains(c));
    if !(is_url || is_path) {
        return Err(DomainError::new(
            field,
            "must be an https:// address or a relative file path",
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digits() {
        // Real GTIN-13 (Vietnam prefix 893) and GS1's own GTIN-12/8 examples.
        for ok in [
            "8934588012112",
            "036000291452",
            "96385074",
            "10614141000415",
        ] {
            assert!(Gtin::parse("gtin", ok).is_ok(), "{ok}");
        }
        let err = Gtin::parse("gtin", "8934588012113").unwrap_err();
        assert!(err.rule.contains("check digit"));
        assert!(Gtin::parse("gtin", "89345880121").is_err());
        assert!(Gtin::parse("gtin", "893458801211x").is_err());
    }

    #[test]
    fn ocop_rating_lasts_36_months() {
        let r = OcopRating::new(4, "1/QĐ".into(), jiff::civil::date(2022, 3, 15)).unwrap();
        assert_eq!(r.valid_until, jiff::civil::date(2025, 3, 14));
        assert!(r.is_valid_on(jiff::civil::date(2025, 3, 14)));
        assert!(!r.is_valid_on(jiff::civil::date(2025, 3, 15)));
        assert!(OcopRating::new(2, "x".into(), jiff::civil::date(2022, 1, 1)).is_err());
        assert!(OcopRating::new(6, "x".into(), jiff::civil::date(2022, 1, 1)).is_err());
    }

    #[test]
    fn nested_errors_name_their_path() {
        let input = ProductInput {
            producer_id: 1,
            name: "Gạo".into(),
            certifications: vec![CertificationInput {
                name: "".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = NewProduct::try_from(input).unwrap_err();
        assert_eq!(err.field, "certifications[0].name");
    }

    #[test]
    fn image_paths_cannot_escape() {
        assert!(image_ref("i", "products/gao.jpg").is_ok());
        assert!(image_ref("i", "https://example.vn/a.jpg").is_ok());
        assert!(image_ref("i", "../secret").is_err());
        assert!(image_ref("i", "/etc/passwd").is_err());
        assert!(image_ref("i", "javascript:alert(1)").is_err());
    }
}
