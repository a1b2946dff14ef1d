//! The offline inspector kit: a bundle signed by the service with what an
//! inspector needs to check stamps in a market with no signal — the public
//! keys and their status, recalled and voided stamps, and who made each
//! batch — and the offline check itself.
//!
//! The signature covers the payload as tem serialises it (fields in a fixed
//! order, no unknown fields accepted), under a domain prefix of its own, so
//! a bundle edited by hand fails to verify.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{ServiceResult, internal};
use crate::codes::{CodeVerdict, KeySet, KeyStatus, Signer, Verifier};
use crate::domain::StampState;
use crate::domain::scan::Verdict;
use crate::store::Store;

/// The `format` of an offline bundle.
pub const BUNDLE_FORMAT: &str = "tem-bundle/1";
/// Domain of bundle signatures (never a stamp's or a tree head's).
pub const BUNDLE_DOMAIN: &[u8] = b"tem offline bundle v1";

/// A bundle file: the payload and the service's signature over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// What the service signed.
    pub payload: Payload,
    /// The key that signed (one of `payload.keys`).
    pub kid: String,
    /// Base64url Ed25519 signature of BUNDLE_DOMAIN ‖ 0 ‖ payload JSON.
    pub signature: String,
}

/// What an offline bundle carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Always "tem-bundle/1".
    pub format: String,
    /// RFC 3339.
    pub created_at: String,
    /// The service's base URL (stamp URLs start with it).
    pub service: String,
    /// The provinces the bundle covers; empty: the whole country.
    pub provinces: Vec<String>,
    /// The public keys its stamps verify with.
    pub keys: KeySet,
    /// The batches of its province(s).
    pub batches: Vec<BatchEntry>,
}

/// What the kit shows and checks for one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEntry {
    /// The batch's id.
    pub id: u32,
    /// Its lot code.
    pub lot_code: String,
    /// The product's name.
    pub product: String,
    /// The producer's name.
    pub producer: String,
    /// The producer's province.
    pub province: String,
    /// The producer's address.
    pub origin: String,
    /// Where the raw material comes from.
    pub raw_material_area: Option<String>,
    /// When it was made (YYYY-MM-DD).
    pub production_date: String,
    /// Best before, if any.
    pub expiry_date: Option<String>,
    /// OCOP stars, if rated.
    pub ocop_stars: Option<u8>,
    /// Until when the rating holds.
    pub ocop_valid_until: Option<String>,
    /// Recalls in force when the bundle was made.
    pub recalls: Vec<RecallEntry>,
    /// Serials of voided stamps.
    pub voided: Vec<String>,
    /// Stamps sold at a till when the bundle was made (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sold: Vec<SoldEntry>,
    /// Serials of stamps their buyers had claimed (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claimed: Vec<String>,
}

/// A sale a bundle carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoldEntry {
    /// The stamp's serial.
    pub serial: String,
    /// When (RFC 3339).
    pub sold_at: String,
    /// By which shop.
    pub shop: String,
}

/// A recall a bundle carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallEntry {
    /// The recalled stamps' serials; absent: the whole batch.
    pub serials: Option<Vec<String>>,
    /// What consumers are told.
    pub notice: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// Writes a bundle of every batch (of producers in `provinces`, if any),
/// signed with the active key.
#[tracing::instrument(skip_all)]
pub fn export(
    store: &dyn Store,
    signer: &Signer,
    keys: KeySet,
    service: &str,
    provinces: &[String],
) -> ServiceResult<Bundle> {
    let provinces: Vec<String> = provinces
        .iter()
        .map(|p| crate::domain::text::required("province", p, 100, crate::domain::text::Lines::One))
        .collect::<Result<_, _>>()?;
    let wanted = |province: &str| {
        provinces.is_empty()
            || provinces
                .iter()
                .any(|p| p.to_lowercase() == province.to_lowercase())
    };
    let producers: BTreeMap<_, _> = store
        .producers()?
        .into_iter()
        .filter(|p| wanted(&p.province))
        .map(|p| (p.id, p))
        .collect();
    let products: BTreeMap<_, _> = store
        .products(None)?
        .into_iter()
        .filter(|p| producers.contains_key(&p.producer_id))
        .map(|p| (p.id, p))
        .collect();
    let mut batches = Vec::new();
    for summary in store.batches(None)? {
        let Some(product) = products.get(&summary.product_id) else {
            continue;
        };
        let producer = &producers[&product.producer_id];
        let Some(batch) = store.batch(summary.id)? else {
            continue;
        };
        let recalls = recall_entries(store, batch.id)?;
        let (sales, claims) = store.sales_and_claims(batch.id)?;
        let origin = producer.address();
        batches.push(BatchEntry {
            id: batch.id.0,
            lot_code: batch.lot_code.clone(),
            product: product.name.clone(),
            producer: producer.name.clone(),
            province: producer.province.clone(),
            origin,
            raw_material_area: batch.raw_material_area.clone(),
            production_date: batch.production_date.to_string(),
            expiry_date: batch.expiry_date.map(|d| d.to_string()),
            ocop_stars: product.ocop.as_ref().map(|o| o.stars),
            ocop_valid_until: product.ocop.as_ref().map(|o| o.valid_until.to_string()),
            recalls,
            voided: store
                .stamps_in_state(batch.id, StampState::Voided)?
                .iter()
                .map(|s| s.serial.to_string())
                .collect(),
            sold: sales
                .into_iter()
                .map(|s| SoldEntry {
                    serial: s.serial.to_string(),
                    sold_at: s.sale.at.to_string(),
                    shop: s.sale.shop,
                })
                .collect(),
            claimed: claims.iter().map(|c| c.serial.to_string()).collect(),
        });
    }
    let payload = Payload {
        format: BUNDLE_FORMAT.to_string(),
        created_at: jiff::Timestamp::now().to_string(),
        service: service.to_string(),
        provinces,
        keys,
        batches,
    };
    let body = serde_json::to_vec(&payload).map_err(|e| internal(e.to_string()))?;
    let signature = signer.sign_document(BUNDLE_DOMAIN, &body);
    Ok(Bundle {
        payload,
        kid: signer.kid().to_string(),
        signature: data_encoding::BASE64URL_NOPAD.encode(&signature),
    })
}

/// The recalls in force over a batch, with the serials of partial ones.
fn recall_entries(
    store: &dyn Store,
    batch: crate::domain::BatchId,
) -> ServiceResult<Vec<RecallEntry>> {
    let mut recalls = Vec::new();
    for r in store.recalls(batch)? {
        if r.lifted_at.is_some() {
            continue;
        }
        let serials = match (r.first_seq, r.last_seq) {
            (Some(first), Some(last)) => Some(
                store
                    .stamps(batch, first, last - first + 1)?
                    .iter()
                    .map(|s| s.serial.to_string())
                    .collect(),
            ),
            _ => None,
        };
        recalls.push(RecallEntry {
            serials,
            notice: r.notice,
            since: r.created_at.to_string(),
        });
    }
    Ok(recalls)
}

/// Why a bundle is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BundleError {
    /// The file is not a bundle (why).
    #[error("not a tem bundle: {0}")]
    Unreadable(String),
    /// Its signature does not verify.
    #[error("the bundle's signature does not verify: it was changed after tem signed it")]
    BadSignature,
    /// It is signed by a key the kit does not trust (its id).
    #[error("the bundle is signed by key {0}, which is not in the key set you trust")]
    UntrustedKey(String),
    /// It is signed by a revoked key (its id).
    #[error("the bundle is signed by key {0}, which is revoked")]
    RevokedKey(String),
}

impl Bundle {
    /// Reads a bundle and checks its signature with a key of `trusted` (the
    /// key set the inspector pinned, never one taken from the bundle): the
    /// key the bundle names must be there with the same public key and not
    /// revoked, in the pinned set and in the bundle's own.
    pub fn open(text: &str, trusted: &KeySet) -> Result<Bundle, BundleError> {
        let bundle: Bundle =
            serde_json::from_str(text).map_err(|e| BundleError::Unreadable(e.to_string()))?;
        if bundle.payload.format != BUNDLE_FORMAT {
            return Err(BundleError::Unreadable(format!(
                "format {:?}, expected {BUNDLE_FORMAT}",
                bundle.payload.format
            )));
        }
        let body = serde_json::to_vec(&bundle.payload)
            .map_err(|e| BundleError::Unreadable(e.to_string()))?;
        let mut message = BUNDLE_DOMAIN.to_vec();
        message.push(0);
        message.extend_from_slice(&body);
        let signature = data_encoding::BASE64URL_NOPAD
            .decode(bundle.signature.as_bytes())
            .ok()
            .and_then(|s| ed25519_dalek::Signature::from_slice(&s).ok())
            .ok_or(BundleError::BadSignature)?;
        let (_, key, status) = trusted
            .decoded()
            .find(|(kid, _, _)| kid.to_string() == bundle.kid)
            .ok_or_else(|| BundleError::UntrustedKey(bundle.kid.clone()))?;
        key.verify_strict(&message, &signature)
            .map_err(|_| BundleError::BadSignature)?;
        let revoked_inside = bundle
            .payload
            .keys
            .decoded()
            .any(|(kid, _, s)| kid.to_string() == bundle.kid && s == KeyStatus::Revoked);
        if status == KeyStatus::Revoked || revoked_inside {
            return Err(BundleError::RevokedKey(bundle.kid.clone()));
        }
        Ok(bundle)
    }

    /// When the bundle was made.
    pub fn created_at(&self) -> Result<jiff::Timestamp, BundleError> {
        self.payload
            .created_at
            .parse()
            .map_err(|_| BundleError::Unreadable("bad created_at".into()))
    }
}

/// The answer of an offline check.
#[derive(Debug, Clone, Serialize)]
pub struct OfflineVerdict<'a> {
    /// One of the scan page's verdicts (genuine, recalled, voided, expired,
    /// forged, unknown-key, revoked-key, malformed).
    pub verdict: Verdict,
    /// The stamp's serial, if the code could be read.
    pub serial: Option<String>,
    /// Its batch, if the bundle has it.
    pub batch: Option<&'a BatchEntry>,
    /// A recall notice, if the batch is recalled; the shop, if the stamp
    /// was sold at a till.
    pub notice: Option<&'a str>,
    /// What the kit could not know offline.
    pub caveat: Option<&'static str>,
}

/// Checks stamps against a bundle, with no network.
pub struct OfflineChecker<'a> {
    verifier: Verifier,
    batches: BTreeMap<u32, &'a BatchEntry>,
    voided: BTreeSet<(u32, &'a str)>,
    today: jiff::civil::Date,
}

impl<'a> OfflineChecker<'a> {
    /// A checker for `bundle`, judging expiry on `today`.
    pub fn new(bundle: &'a Bundle, today: jiff::civil::Date) -> OfflineChecker<'a> {
        OfflineChecker {
            verifier: Verifier::new(&bundle.payload.keys),
            batches: bundle.payload.batches.iter().map(|b| (b.id, b)).collect(),
            voided: bundle
                .payload
                .batches
                .iter()
                .flat_map(|b| b.voided.iter().map(move |s| (b.id, s.as_str())))
                .collect(),
            today,
        }
    }

    /// Checks one scanned text: signature, then the bundle's recalls, voids and dates.
    pub fn check(&self, text: &str) -> OfflineVerdict<'a> {
        let check = self.verifier.check(text);
        let serial = check.code.map(|c| c.serial.to_string());
        let mut v = OfflineVerdict {
            verdict: check.verdict.as_verdict(),
            serial: serial.clone(),
            batch: None,
            notice: None,
            caveat: None,
        };
        let (Some(code), CodeVerdict::Genuine | CodeVerdict::RevokedKey) =
            (check.code, check.verdict)
        else {
            return v;
        };
        let serial = serial.unwrap_or_default();
        let Some(batch) = self.batches.get(&code.batch.0).copied() else {
            v.caveat = Some(
                "the batch is not in this bundle (another province, or newer than the bundle)",
            );
            return v;
        };
        v.batch = Some(batch);
        let recall = batch
            .recalls
            .iter()
            .find(|r| r.serials.as_ref().is_none_or(|s| s.contains(&serial)));
        if let Some(r) = recall {
            v.verdict = Verdict::Recalled;
            v.notice = Some(&r.notice);
        } else if self.voided.contains(&(batch.id, serial.as_str())) {
            v.verdict = Verdict::Voided;
        } else if batch
            .expiry_date
            .as_deref()
            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
            .is_some_and(|d| d < self.today)
        {
            v.verdict = Verdict::Expired;
        } else if batch.claimed.contains(&serial) {
            // As of the bundle's day: a buyer claimed this stamp.
            v.verdict = Verdict::Claimed;
        } else if let Some(sale) = batch.sold.iter().find(|s| s.serial == serial) {
            v.verdict = Verdict::Sold;
            v.notice = Some(&sale.shop);
        } else if check.verdict == CodeVerdict::Genuine {
            v.caveat = Some("whether this serial was issued and printed is checked online only");
        }
        v
    }
}

/// "2 days", "5 hours": a bundle's age for people.
pub fn age_text(age: jiff::SignedDuration) -> String {
    let hours = age.as_hours();
    if hours >= 48 {
        format!("{} days", hours / 24)
    } else if hours >= 1 {
        format!("{hours} hours")
    } else {
        format!("{} minutes", age.as_mins().max(0))
    }
}
