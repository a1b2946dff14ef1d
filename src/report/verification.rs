//! A batch verification report as tem signs it (format
//! `tem-verification/1`): the batch, each check's figures, the findings and
//! the verdict. `service::verification` makes it; the CLI, the API and the
//! PDF read it.

use serde::{Deserialize, Serialize};

/// The `format` of a verification report.
pub const REPORT_FORMAT: &str = "tem-verification/1";
/// Domain of report signatures (never a stamp's, a head's or a bundle's).
pub const REPORT_DOMAIN: &[u8] = b"tem batch verification v1";
/// A batch verification: what was checked and what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always "tem-verification/1".
    pub format: String,
    /// Its id.
    pub id: String,
    /// The service that verified (its base URL).
    pub service: String,
    /// When (RFC 3339).
    pub verified_at: String,
    /// Who asked for it.
    pub verified_by: String,
    /// The batch.
    pub batch: BatchRef,
    /// The conclusion.
    pub verdict: Conclusion,
    /// The stamps' signatures.
    pub stamps: StampChecks,
    /// The stamps against the audit log.
    pub log: LogChecks,
    /// The data consumers see.
    pub data: DataChecks,
    /// The batch's scans.
    pub scans: ScanSummary,
    /// Everything found, most serious first.
    pub findings: Vec<Finding>,
}

/// The batch verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRef {
    /// Its id.
    pub id: u32,
    /// Its lot code.
    pub lot_code: String,
    /// The product's name.
    pub product: String,
    /// The producer's name.
    pub producer: String,
    /// The producer's province.
    pub province: String,
}

/// What the stamps' signatures showed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StampChecks {
    /// Stamps checked.
    pub total: u64,
    /// Signatures that verify.
    pub signatures_ok: u64,
    /// Signatures that do not.
    pub bad_signatures: u64,
    /// Stamps whose key is not in the key set.
    pub unknown_key: u64,
    /// Stamps whose key has since been revoked (their signatures hold).
    pub revoked_key: u64,
    /// Stamps signed after their key was revoked.
    pub revoked_key_serials: Vec<String>,
}

/// What comparing the stamps with the audit log showed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogChecks {
    /// Audit entries about this batch that were replayed.
    pub entries: u64,
    /// Whether the log verifies on its own.
    pub audit_log_intact: bool,
    /// Stamps the log does not account for.
    pub not_in_log: u64,
    /// Stamps the log issued that are not in the registry.
    pub missing_rows: u64,
    /// Stamps whose state differs from the log's.
    pub altered_states: u64,
    /// Sold or claimed stamps the log does not explain, or explains but the
    /// database lacks (absent from reports made before sales existed).
    #[serde(default)]
    pub altered_sales: u64,
}

/// What checking the data consumers see showed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataChecks {
    /// Circular 02 items a consumer is not shown.
    pub missing: Vec<String>,
    /// Ratings, certificates and dates that no longer hold.
    pub lapsed: Vec<String>,
}

/// What the batch's scans show.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSummary {
    /// Scans recorded.
    pub scans: u64,
    /// Stamps scanned at least once.
    pub stamps_scanned: u64,
    /// Stamps that look copied.
    pub suspicious: u64,
    /// Reports consumers made.
    pub consumer_reports: u64,
}

/// One thing the verification found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// What kind of finding.
    pub kind: FindingKind,
    /// What exactly, for people.
    pub detail: String,
}

/// Defines a closed set sent as kebab-case names: the enum, `as_str`,
/// `Display`, and serde both ways.
macro_rules! named {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant),+];
            /// The name in the report.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named! {
    /// What the verification concludes.
    Conclusion {
        /// Nothing found.
        Clean = "clean",
        /// Data missing or lapsed, or stamps under a revoked key; no tampering.
        Findings = "findings",
        /// Something shows tampering.
        Compromised = "compromised",
    }
}

named! {
    /// How serious a finding is; the most serious sorts first.
    Severity {
        /// It shows tampering: the batch's verdict is compromised.
        Compromised = "compromised",
        /// Worth fixing, not tampering.
        Finding = "finding",
    }
}

named! {
    /// What a finding is about.
    FindingKind {
        /// A stamp names a key that is not in the key set.
        UnknownKey = "unknown-key",
        /// A stamp's signature does not hold for its batch.
        BadSignature = "bad-signature",
        /// Stamps signed by a key revoked since.
        RevokedKey = "revoked-key",
        /// The audit log fails its own checks.
        AuditLog = "audit-log",
        /// A stamp row the audit log never commissioned.
        NotInLog = "not-in-log",
        /// A stamp whose state the log does not explain.
        AlteredState = "altered-state",
        /// A commissioned stamp without a row.
        MissingRow = "missing-row",
        /// A sale or claim the log does not explain, or one it records that
        /// the database lacks.
        AlteredSale = "altered-sale",
        /// An item Circular 02 requires is missing.
        MissingData = "missing-data",
        /// A rating, certificate or expiry date no longer holds.
        Lapsed = "lapsed",
    }
}

/// The report with the service's detached signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReport {
    /// The report.
    pub report: Report,
    /// The key that signed it.
    pub kid: String,
    /// Base64url Ed25519 signature of REPORT_DOMAIN ‖ 0 ‖ report JSON.
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_report_formats_and_compromised_sorts_first() {
        for c in Conclusion::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for k in FindingKind::ALL {
            let back: FindingKind = serde_json::from_value(serde_json::json!(k.as_str())).unwrap();
            assert_eq!(back, *k);
        }
        assert!(Severity::Compromised < Severity::Finding);
        assert!(serde_json::from_str::<Conclusion>("\"fine\"").is_err());
    }
}
