//! Cleaning of user-supplied text: NFC normalisation, trimming, control
//! characters and length limits, with errors that name the field and the rule.

use unicode_normalization::UnicodeNormalization;

/// Why a value was refused. `field` is the name the user typed it under
/// (the JSON field or CLI option), so the message can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct DomainError {
    /// The field that is wrong, as callers named it.
    pub field: String,
    /// The rule it breaks, for people.
    pub rule: String,
}

impl DomainError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// Prefixes the field with its parent, e.g. `stages[2].name`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// Whether a text may span several lines (descriptions, notes) or not (names).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: no line breaks.
    One,
    /// Several lines allowed.
    Many,
}

/// Cleans a required text field: NFC, trimmed, no control characters,
/// between 1 and `max` characters (Unicode scalar values, after NFC).
pub fn required(field: &str, value: &str, max: usize, lines: Lines) -> Result<String, DomainError> {
    let cleaned = clean(field, value, max, lines)?;
    if cleaned.is_empty() {
        return Err(DomainError::new(field, "must not be empty"));
    }
    Ok(cleaned)
}

/// Cleans an optional text field; an empty or blank value becomes `None`.
pub fn optional(
    field: &str,
    value: Option<&str>,
    max: usize,
    lines: Lines,
) -> Result<Option<String>, DomainError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let cleaned = clean(field, v, max, lines)?;
            Ok((!cleaned.is_empty()).then_some(cleaned))
        }
    }
}

fn clean(field: &str, value: &str, max: usize, lines: Lines) -> Result<String, DomainError> {
    let normalised: String = value.nfc().collect();
    let trimmed = normalised.trim();
    for c in trimmed.chars() {
        let allowed_break = lines == Lines::Many && (c == '\n' || c == '\t');
        if c.is_control() && !allowed_break && c != '\r' {
            let rule = if c == '\n' {
                "must be a single line".to_string()
            } else {
                format!("must not contain control character U+{:04X}", c as u32)
            };
            return Err(DomainError::new(field, rule));
        }
    }
    let out: String = if lines == Lines::Many {
        trimmed.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        trimmed.replace('\r', "")
    };
    let count = out.chars().count();
    if count > max {
        return Err(DomainError::new(
            field,
            format!("must be at most {max} characters (got {count})"),
        ));
    }
    Ok(out)
}

/// Parses an ISO 8601 calendar date (`YYYY-MM-DD`).
pub fn date(field: &str, value: &str) -> Result<jiff::civil::Date, DomainError> {
    value.trim().parse::<jiff::civil::Date>().map_err(|_| {
        DomainError::new(
            field,
            format!("must be a date as YYYY-MM-DD (got {value:?})"),
        )
    })
}

/// A date (YYYY-MM-DD) or nothing; the error names `field`.
pub fn optional_date(
    field: &str,
    value: Option<&str>,
) -> Result<Option<jiff::civil::Date>, DomainError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => date(field, v).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_vietnamese_becomes_nfc() {
        // "Dân Tiến" typed with combining marks (NFD).
        let nfd = "D\u{0061}\u{0302}n Tie\u{0302}\u{0301}n";
        let cleaned = required("name", nfd, 50, Lines::One).unwrap();
        assert_eq!(cleaned, "Dân Tiến");
        assert_eq!(cleaned.chars().count(), 8);
    }

    #[test]
    fn length_is_counted_after_normalisation() {
        let nfd = "e\u{0302}\u{0301}".repeat(10); // 30 code points, 10 after NFC
        assert!(required("name", &nfd, 10, Lines::One).is_ok());
        let err = required("name", &"a".repeat(11), 10, Lines::One).unwrap_err();
        assert_eq!(err.field, "name");
        assert!(err.rule.contains("at most 10"));
    }

    #[test]
    fn newlines_only_where_allowed() {
        assert!(required("name", "a\nb", 10, Lines::One).is_err());
        assert_eq!(required("note", "a\r\nb", 10, Lines::Many).unwrap(), "a\nb");
        assert!(required("name", "a\u{0007}b", 10, Lines::Many).is_err());
    }

    #[test]
    fn blank_optional_is_none_and_blank_required_is_refused() {
        assert_eq!(optional("x", Some("   "), 5, Lines::One).unwrap(), None);
        assert!(required("x", "  ", 5, Lines::One).is_err());
    }
}
