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
    pub serial: Option<String>,
    pub batch_id: Option<u32>,
    pub verdict: Verdict,
    /// Why, when not genuine (no QR code in a photo, bad signature…).
    pub reason: Option<String>,
    /// The first item with the same serial: the same stamp twice in one
    /// shop is a copied stamp.
    pub duplicate_of: Option<u32>,
    pub offline_verdict: Option<String>,
    pub checked_at: Option<String>,
}

/// Counts over the items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub stamps: u32,
    pub genuine: u32,
    /// Items that are not genuine, or are duplicates.
    pub problems: u32,
    pub duplicates: u32,
    pub by_verdict: BTreeMap<String, u32>,
}

/// A stored inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Inspection {
    pub id: i64,
    pub at: String,
    pub place: String,
    pub province: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub note: Option<String>,
    pub inspector: String,
    /// "online", or "offline" for checks uploaded from a bundle.
    pub source: String,
    pub bundle_at: Option<String>,
    pub created_at: String,
    pub summary: Summary,
    pub items: Vec<Item>,
}

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
