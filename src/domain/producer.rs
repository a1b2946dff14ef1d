//! Producers (chủ thể): who owns products, batches and stamps.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ProducerId;
use super::text::{self, DomainError, Lines};

/// The four kinds of OCOP producer named by the programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProducerKind {
    /// hộ kinh doanh
    Household,
    /// hợp tác xã (HTX)
    Cooperative,
    /// tổ hợp tác
    CooperativeGroup,
    /// doanh nghiệp
    Enterprise,
}

impl ProducerKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [ProducerKind; 4] = [
        Self::Household,
        Self::Cooperative,
        Self::CooperativeGroup,
        Self::Enterprise,
    ];

    /// The kind's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Household => "household",
            Self::Cooperative => "cooperative",
            Self::CooperativeGroup => "cooperative-group",
            Self::Enterprise => "enterprise",
        }
    }

    /// A kind by its name; the error names `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|k| k.as_str() == value.trim()).ok_or_else(|| {
            DomainError::new(
                field,
                format!(
                    "must be one of household, cooperative, cooperative-group, enterprise (got {value:?})"
                ),
            )
        })
    }

    /// The Vietnamese name shown to people.
    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Household => "Hộ kinh doanh",
            Self::Cooperative => "Hợp tác xã",
            Self::CooperativeGroup => "Tổ hợp tác",
            Self::Enterprise => "Doanh nghiệp",
        }
    }
}

/// A producer as callers send it (JSON body, demo file): every field raw.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProducerInput {
    /// household | cooperative | cooperative-group | enterprise
    pub kind: String,
    /// Its registered name.
    pub name: String,
    /// Business registration or tax number (mã số doanh nghiệp / mã số thuế).
    pub registration_no: Option<String>,
    /// House number and street or hamlet (ấp, thôn).
    pub street: Option<String>,
    /// Commune or ward (xã, phường).
    pub commune: String,
    /// District, where the address still has one.
    pub district: Option<String>,
    /// Province or city.
    pub province: String,
    /// A phone number for buyers.
    pub phone: Option<String>,
    /// An email address.
    pub email: Option<String>,
}

/// A producer that passed validation, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProducer {
    /// Household, cooperative, cooperative group or enterprise.
    pub kind: ProducerKind,
    /// Its registered name.
    pub name: String,
    /// Business registration or tax number.
    pub registration_no: Option<String>,
    /// House number and street or hamlet.
    pub street: Option<String>,
    /// Commune or ward.
    pub commune: String,
    /// District.
    pub district: Option<String>,
    /// Province or city.
    pub province: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// A stored producer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Producer {
    /// Its id.
    pub id: ProducerId,
    /// Household, cooperative, cooperative group or enterprise.
    pub kind: ProducerKind,
    /// Its registered name.
    pub name: String,
    /// Business registration or tax number.
    pub registration_no: Option<String>,
    /// House number and street or hamlet.
    pub street: Option<String>,
    /// Commune or ward.
    pub commune: String,
    /// District.
    pub district: Option<String>,
    /// Province or city.
    pub province: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// When it was registered.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl Producer {
    /// The address as one line: street, commune, district, province.
    pub fn address(&self) -> String {
        [
            self.street.as_deref(),
            Some(self.commune.as_str()),
            self.district.as_deref(),
            Some(self.province.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

// Limits: names of Vietnamese cooperatives run to ~80 characters ("Hợp tác xã
// nông nghiệp – thủy sản Trường Long Hòa"); 200 leaves room without letting a
// field become a document. Administrative unit names are at most ~40.
const NAME_MAX: usize = 200;
const PLACE_MAX: usize = 100;
const STREET_MAX: usize = 200;

impl TryFrom<ProducerInput> for NewProducer {
    type Error = DomainError;

    fn try_from(input: ProducerInput) -> Result<Self, DomainError> {
        Ok(NewProducer {
            kind: ProducerKind::parse("kind", &input.kind)?,
            name: text::required("name", &input.name, NAME_MAX, Lines::One)?,
            registration_no: registration_no(input.registration_no.as_deref())?,
            street: text::optional("street", input.street.as_deref(), STREET_MAX, Lines::One)?,
            commune: text::required("commune", &input.commune, PLACE_MAX, Lines::One)?,
            district: text::optional("district", input.district.as_deref(), PLACE_MAX, Lines::One)?,
            province: text::required("province", &input.province, PLACE_MAX, Lines::One)?,
            phone: phone(input.phone.as_deref())?,
            email: email(input.email.as_deref())?,
        })
    }
}

/// Vietnamese enterprise/tax codes are 10 digits, branches add "-NNN";
/// household business registrations use mixed letters and digits. Accept
/// letters, digits and dashes, 1 to 20 characters.
fn registration_no(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(v) = text::optional("registration_no", value, 20, Lines::One)? else {
        return Ok(None);
    };
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '/')
    {
        return Err(DomainError::new(
            "registration_no",
            "may contain only letters, digits, '-', '.' and '/'",
        ));
    }
    Ok(Some(v))
}

/// A phone number: digits with optional '+', spaces, dots or dashes, 8 to 15 digits.
fn phone(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(v) = text::optional("phone", value, 24, Lines::One)? else {
        return Ok(None);
    };
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let shape_ok = v
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-') || (c == '+' && i == 0));
    if !shape_ok || !(8..=15).contains(&digits) {
        return Err(DomainError::new(
            "phone",
            "must be a phone number of 8 to 15 digits, e.g. 0294 3855 123",
        ));
    }
    Ok(Some(v))
}

fn email(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(v) = text::optional("email", value, 254, Lines::One)? else {
        return Ok(None);
    };
    let valid = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
                && !domain.contains('@')
        }
        None => false,
    };
    if !valid {
        return Err(DomainError::new(
            "email",
            "must be an e-mail address like name@example.vn",
        ));
    }
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProducerInput {
        ProducerInput {
            kind: "cooperative".into(),
            name: "Hợp tác xã nông nghiệp Dân Tiến".into(),
            commune: "Dân Thành".into(),
            province: "Trà Vinh".into(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_producer_passes() {
        let p = NewProducer::try_from(input()).unwrap();
        assert_eq!(p.kind, ProducerKind::Cooperative);
        assert_eq!(p.district, None);
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut ProducerInput)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("kind", Box::new(|i| i.kind = "farm".into())),
            ("name", Box::new(|i| i.name = " ".into())),
            ("phone", Box::new(|i| i.phone = Some("12ab".into()))),
            ("email", Box::new(|i| i.email = Some("not-an-email".into()))),
            (
                "registration_no",
                Box::new(|i| i.registration_no = Some("12 34".into())),
            ),
            ("province", Box::new(|i| i.province = "x".repeat(101))),
        ];
        for (field, mutate) in cases {
            let mut i = input();
            mutate(&mut i);
            let err = NewProducer::try_from(i).unwrap_err();
            assert_eq!(err.field, field);
        }
    }

    #[test]
    fn phone_accepts_vietnamese_forms() {
        for ok in ["0294 3855 123", "+84 294 3855 123", "0912.345.678"] {
            assert!(phone(Some(ok)).unwrap().is_some(), "{ok}");
        }
    }
}
