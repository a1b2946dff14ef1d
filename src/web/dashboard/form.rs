//! What a dashboard form held and what was wrong with it, to show it again
//! with the message next to its field; and reading numbers typed into one.

use std::collections::BTreeMap;

use super::strings::Strings;
use crate::domain::DomainError;
use crate::service::ServiceError;

/// What a form had in it, and what was wrong, to show it again.
#[derive(Debug, Default, Clone)]
pub(crate) struct FormState {
    pub values: BTreeMap<String, String>,
    pub errors: BTreeMap<String, String>,
    /// A message for the whole form.
    pub message: Option<String>,
}

impl FormState {
    /// A form shown again holding these values.
    pub fn with_values<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> FormState {
        FormState {
            values: pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ..Default::default()
        }
    }

    pub fn value(&self, field: &str) -> &str {
        self.values.get(field).map(String::as_str).unwrap_or("")
    }
    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    /// Puts a service error next to its field (or on the form).
    pub(super) fn failed(mut self, t: &'static Strings, e: ServiceError, fields: &[&str]) -> Self {
        match &e {
            ServiceError::Invalid(d) => {
                let field = fields
                    .iter()
                    .find(|f| d.field == **f || d.field.starts_with(&format!("{f}.")))
                    .copied();
                match field {
                    Some(f) => {
                        self.errors.insert(f.to_string(), d.rule.clone());
                        self.message = Some(t.check_form.to_string());
                    }
                    None => self.message = Some(e.to_string()),
                }
            }
            _ => self.message = Some(e.to_string()),
        }
        self
    }
}

pub(super) fn number_error(t: &'static Strings) -> String {
    if t.lang == "vi" {
        "phải là một số nguyên dương".into()
    } else {
        "must be a whole number".into()
    }
}

pub(super) fn parse_number(
    field: &'static str,
    value: &str,
    t: &'static Strings,
) -> Result<u32, ServiceError> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| DomainError::new(field, number_error(t)).into())
}
