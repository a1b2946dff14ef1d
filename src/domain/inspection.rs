//! An inspection's record: the stamps an inspector found in a shop or
//! market, a verdict for each, duplicates, and a summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::scan::Verdict;

/// What an offline kit decided for one stamp, uploaded later by
/// `tem bundle sync`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineCheck {
    /// The code as the kit read it.
    pub code: String,
    /// When the stamp was checked (RFC 3339).
    pub at: String,
    /// The offline verdict.
    pub verdict: String,
}

/// One stamp of an inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Item {
    /// 1-based position in the list.
    pub n: u32,
    /// "code", "photo 2", "offline".
    pub source: String,
    /// What was read (at most 400 bytes).
    pub input: String,
    /// The stamp's serial, when the code could be read.
    pub serial: Option<String>,
    /// Its batch.
    pub batch_id: Option<u32>,
    /// tem's verdict.
    pub verdict: Verdict,
    /// Why, when not genuine (no QR code in a photo, bad signature…).
    pub reason: Option<String>,
    /// The first item with the same serial: the same stamp twice in one
    /// shop is a copied stamp.
    pub duplicate_of: Option<u32>,
    /// What the offline kit said, if this came from one.
    pub offline_verdict: Option<String>,
    /// When the kit checked it.
    pub checked_at: Option<String>,
}

/// Counts over the items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Items checked.
    pub stamps: u32,
    /// Genuine and not duplicated.
    pub genuine: u32,
    /// Items that are not genuine, or are duplicates.
    pub problems: u32,
    /// Items whose serial came up earlier in the list.
    pub duplicates: u32,
    /// Items per verdict name.
    pub by_verdict: BTreeMap<String, u32>,
}

/// A stored inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Inspection {
    /// Its number.
    pub id: i64,
    /// When the inspection took place (RFC 3339).
    pub at: String,
    /// The shop or market.
    pub place: String,
    /// Its province.
    pub province: Option<String>,
    /// Latitude, if the inspector shared it.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// The inspector's note.
    pub note: Option<String>,
    /// Who inspected (as records name them).
    pub inspector: String,
    /// "online", or "offline" for checks uploaded from a bundle.
    pub source: String,
    /// When the offline bundle used was made.
    pub bundle_at: Option<String>,
    /// When tem recorded it.
    pub created_at: String,
    /// Counts over the items.
    pub summary: Summary,
    /// The stamps checked.
    pub items: Vec<Item>,
}

/// Counts genuine stamps, problems, duplicates and verdicts.
pub fn summarise(items: &[Item]) -> Summary {
    let mut by_verdict = BTreeMap::new();
    let mut genuine = 0;
    let mut problems = 0;
    let mut duplicates = 0;
    for i in items {
        *by_verdict
            .entry(i.verdict.as_str().to_string())
            .or_insert(0) += 1;
        let ok = i.verdict == Verdict::Genuine;
        if ok && i.duplicate_of.is_none() {
            genuine += 1;
        } else {
            problems += 1;
        }
        if i.duplicate_of.is_some() {
            duplicates += 1;
        }
    }
    Summary {
        stamps: items.len() as u32,
        genuine,
        problems,
        duplicates,
        by_verdict,
    }
}
