//! The closed sets of the triage queue: where an item comes from and how an
//! inspector may resolve it. Stored and sent as their kebab-case names.

use std::fmt;
use std::str::FromStr;

use super::DomainError;

/// Where a triage item comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TriageKind {
    /// A stamp whose scans first broke a repeat-scan rule (or a registry mismatch).
    Alert,
    /// A consumer's report from the scan page.
    Report,
}

impl TriageKind {
    /// Every kind, in the order forms list them.
    pub const ALL: [TriageKind; 2] = [TriageKind::Alert, TriageKind::Report];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            TriageKind::Alert => "alert",
            TriageKind::Report => "report",
        }
    }
}

impl FromStr for TriageKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| DomainError::new("kind", "must be alert or report"))
    }
}

impl fmt::Display for TriageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a consumer reports from the scan page.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// The product or stamp looks fake.
    Fake,
    /// The origin data shown is wrong.
    WrongInfo,
    /// The product is past its date.
    Expired,
    /// Anything else (the message says what).
    Other,
}

impl ReportKind {
    /// Every kind, in the order the scan page lists them.
    pub const ALL: [ReportKind; 4] = [
        ReportKind::Fake,
        ReportKind::WrongInfo,
        ReportKind::Expired,
        ReportKind::Other,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Fake => "fake",
            ReportKind::WrongInfo => "wrong-info",
            ReportKind::Expired => "expired",
            ReportKind::Other => "other",
        }
    }
}

impl FromStr for ReportKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                DomainError::new("kind", "must be one of fake, wrong-info, expired, other")
            })
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an inspector resolved a triage item.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Not a counterfeit: a mistake in printing, labelling or handling.
    ProcessError,
    /// A counterfeit, confirmed.
    ConfirmedCounterfeit,
    /// Looked at; nothing to do.
    NoAction,
    /// Anything else; the note says what.
    Other,
}

impl Outcome {
    /// Every outcome, in the order forms list them.
    pub const ALL: [Outcome; 4] = [
        Outcome::ProcessError,
        Outcome::ConfirmedCounterfeit,
        Outcome::NoAction,
        Outcome::Other,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ProcessError => "process-error",
            Outcome::ConfirmedCounterfeit => "confirmed-counterfeit",
            Outcome::NoAction => "no-action",
            Outcome::Other => "other",
        }
    }
}

impl FromStr for Outcome {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or_else(|| {
                let all: Vec<&str> = Self::ALL.iter().map(|o| o.as_str()).collect();
                DomainError::new("outcome", format!("must be one of {}", all.join(", ")))
            })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_both_ways_and_nothing_else_parses() {
        for k in TriageKind::ALL {
            assert_eq!(k.as_str().parse::<TriageKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert_eq!("alerts".parse::<TriageKind>().unwrap_err().field, "kind");
        assert_eq!(
            "counterfeit".parse::<Outcome>().unwrap_err().field,
            "outcome"
        );
    }
}
