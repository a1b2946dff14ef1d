//! Inspections: an inspector checks the stamps found in a shop or market
//! (codes typed, pasted or scanned, or photos holding several stamps) and
//! gets a verdict per stamp, duplicates flagged and a summary, stored as a
//! record with its audit entry and printable as a biên bản kiểm tra.
//!
//! An inspection does not count as a consumer scan: it reads the registry
//! and does not feed the repeat-scan rules.

use std::collections::HashMap;

use super::ServiceResult;
use crate::codes::{CodeVerdict, Verifier, photo};
use crate::domain::inspection::{Inspection, Item, OfflineCheck, summarise};
use crate::domain::scan::{Registered, Verdict, judge};
use crate::domain::text::{self, Lines};
use crate::domain::{BatchId, DomainError, Grant, Role, Serial};
use crate::store::{InspectionScan, NewInspection, Store};

/// At most this many stamps in one inspection.
pub const MAX_ITEMS: usize = 5_000;
/// At most this many photos in one inspection.
pub const MAX_PHOTOS: usize = 20;
/// What is kept of each input text.
const INPUT_MAX: usize = 400;

/// A stamp as the inspector found it.
#[derive(Debug, Clone)]
pub enum Found {
    /// A code typed, pasted or scanned (URL or bare code).
    Code(String),
    /// A photo, decoded to every QR code in it.
    Photo {
        /// The file's name, for the record.
        name: String,
        /// The picture.
        bytes: Vec<u8>,
    },
}

/// An inspection as submitted.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The shop or market.
    pub place: String,
    /// Its province.
    pub province: Option<String>,
    /// Where the inspector stood (latitude, longitude), if shared.
    pub location: Option<(f64, f64)>,
    /// When it took place; now when absent.
    pub at: Option<jiff::Timestamp>,
    /// The inspector's note.
    pub note: Option<String>,
    /// The stamps found.
    pub found: Vec<Found>,
    /// Checks made offline with a bundle (their codes are judged again now).
    pub offline: Option<(jiff::Timestamp, Vec<OfflineCheck>)>,
}

/// Judges every stamp, flags duplicates and stores the inspection with its
/// audit entry. A province-limited inspector inspects only in its provinces.
#[tracing::instrument(skip_all)]
pub fn create(
    store: &dyn Store,
    verifier: &Verifier,
    grant: &Grant,
    actor: &str,
    s: Submission,
) -> ServiceResult<Inspection> {
    let place = text::required("place", &s.place, 200, Lines::One)?;
    let province = text::optional("province", s.province.as_deref(), 100, Lines::One)?;
    let note = text::optional("note", s.note.as_deref(), 2000, Lines::Many)?;
    check_where(grant, province.as_deref(), s.location)?;
    let (inputs, bundle_at) = inputs(&s)?;
    let (items, scans) = judge_all(store, verifier, inputs)?;
    let summary = summarise(&items);
    let new = NewInspection {
        at: s.at.unwrap_or_else(jiff::Timestamp::now).to_string(),
        place,
        province,
        location: s.location,
        note,
        inspector: actor.to_string(),
        source: if s.offline.is_some() {
            "offline"
        } else {
            "online"
        }
        .to_string(),
        bundle_at,
        items,
        summary,
        scans,
    };
    Ok(store.create_inspection(&new)?)
}

/// The province is one the inspector may inspect in, and the location a
/// place on Earth.
fn check_where(
    grant: &Grant,
    province: Option<&str>,
    location: Option<(f64, f64)>,
) -> ServiceResult<()> {
    if grant.role == Role::Inspector && !grant.provinces.is_empty() {
        let allowed = province.is_some_and(|p| {
            grant
                .provinces
                .iter()
                .any(|g| g.to_lowercase() == p.to_lowercase())
        });
        if !allowed {
            return Err(DomainError::new(
                "province",
                format!(
                    "this token inspects only in {}; give one of them",
                    grant.provinces.join(", ")
                ),
            )
            .into());
        }
    }
    if let Some((lat, lon)) = location
        && !(lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon))
    {
        return Err(DomainError::new("location", "latitude −90…90, longitude −180…180").into());
    }
    Ok(())
}

/// A stamp to judge: where it came from ("code", "photo 2", "offline"),
/// its text, and the offline check it repeats.
type Input<'a> = (String, String, Option<&'a OfflineCheck>);

/// Every stamp of the submission in the order given (photos decoded to the
/// codes in them), within the limits, and when the offline bundle was made.
fn inputs(s: &Submission) -> ServiceResult<(Vec<Input<'_>>, Option<String>)> {
    let photos = s
        .found
        .iter()
        .filter(|f| matches!(f, Found::Photo { .. }))
        .count();
    if photos > MAX_PHOTOS {
        return Err(DomainError::new("photos", format!("at most {MAX_PHOTOS} photos")).into());
    }
    let mut inputs: Vec<Input> = Vec::new();
    let mut photo_n = 0;
    for f in &s.found {
        match f {
            Found::Code(t) => {
                for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    inputs.push(("code".into(), line.to_string(), None));
                }
            }
            Found::Photo { name, bytes } => {
                photo_n += 1;
                let texts = photo::decode_bytes(name, bytes)
                    .map_err(|e| DomainError::new("photos", format!("photo {photo_n}: {e}")))?;
                if texts.is_empty() {
                    inputs.push((format!("photo {photo_n}"), String::new(), None));
                }
                for t in texts {
                    inputs.push((format!("photo {photo_n}"), t, None));
                }
            }
        }
    }
    let bundle_at = match &s.offline {
        Some((created, checks)) => {
            for c in checks {
                c.at.parse::<jiff::Timestamp>().map_err(|_| {
                    DomainError::new("offline", format!("{:?} is not an RFC 3339 time", c.at))
                })?;
                inputs.push(("offline".into(), c.code.trim().to_string(), Some(c)));
            }
            Some(created.to_string())
        }
        None => None,
    };
    if inputs.is_empty() {
        return Err(DomainError::new("codes", "give at least one code or photo").into());
    }
    if inputs.len() > MAX_ITEMS {
        return Err(DomainError::new(
            "codes",
            format!("at most {MAX_ITEMS} stamps in one inspection"),
        )
        .into());
    }
    Ok((inputs, bundle_at))
}

/// A verdict per stamp, duplicates flagged; the offline checks of
/// registered stamps become scans at the time they were made.
fn judge_all(
    store: &dyn Store,
    verifier: &Verifier,
    inputs: Vec<Input>,
) -> ServiceResult<(Vec<Item>, Vec<InspectionScan>)> {
    let today = jiff::Zoned::now().date();
    let mut judge = Judge::new(store, verifier);
    let mut first_by_serial: HashMap<String, u32> = HashMap::new();
    let mut items = Vec::with_capacity(inputs.len());
    let mut scans = Vec::new();
    for (i, (source, input, offline)) in inputs.into_iter().enumerate() {
        let n = i as u32 + 1;
        let (serial_key, batch_id, verdict, reason) = if input.is_empty() {
            (
                None,
                None,
                Verdict::Malformed,
                Some("no QR code found in the photo".to_string()),
            )
        } else {
            judge.one(&input, today)?
        };
        // A stamp checked offline was scanned in the field: recorded as a
        // scan of a registered stamp, at the time of the check.
        if let (Some(o), Some(serial), Some(batch)) = (offline, serial_key, batch_id)
            && !matches!(
                verdict,
                Verdict::Forged | Verdict::UnknownKey | Verdict::UnknownSerial | Verdict::Malformed
            )
        {
            scans.push(InspectionScan {
                serial,
                batch: BatchId(batch),
                at: o.at.clone(),
                verdict,
            });
        }
        let serial = serial_key.map(|s| s.to_string());
        let duplicate_of = serial.as_ref().and_then(|s| {
            let first = *first_by_serial.entry(s.clone()).or_insert(n);
            (first != n).then_some(first)
        });
        items.push(Item {
            n,
            source,
            input: truncate(&input, INPUT_MAX),
            serial,
            batch_id,
            verdict,
            reason,
            duplicate_of,
            offline_verdict: offline.map(|o| truncate(&o.verdict, 40)),
            checked_at: offline.map(|o| o.at.clone()),
        });
    }
    Ok((items, scans))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Judges codes against the key set and the registry, reading each batch's
/// expiry and recalls once.
struct Judge<'a> {
    store: &'a dyn Store,
    verifier: &'a Verifier,
    batches: HashMap<u32, (Option<jiff::civil::Date>, Vec<crate::store::RecallRecord>)>,
}

type Judged = (Option<Serial>, Option<u32>, Verdict, Option<String>);

impl<'a> Judge<'a> {
    fn new(store: &'a dyn Store, verifier: &'a Verifier) -> Judge<'a> {
        Judge {
            store,
            verifier,
            batches: HashMap::new(),
        }
    }

    fn one(&mut self, text: &str, today: jiff::civil::Date) -> ServiceResult<Judged> {
        let check = self.verifier.check(text);
        let Some(code) = check.code else {
            let reason = check.problem.map(|p| p.to_string());
            return Ok((None, None, Verdict::Malformed, reason));
        };
        let serial = Some(code.serial);
        let signature_ok = matches!(
            check.verdict,
            CodeVerdict::Genuine | CodeVerdict::RevokedKey
        );
        let mut registered = None;
        // The registry vouches only for exactly the code it issued.
        if signature_ok
            && let Some(stamp) = self.store.stamp(code.serial)?
            && stamp.is_text(text, &code, check.kid)
        {
            let (expiry, recalls) = match self.batches.get(&stamp.batch.0) {
                Some(b) => b.clone(),
                None => {
                    let expiry = self.store.batch(stamp.batch)?.and_then(|b| b.expiry_date);
                    let recalls = self.store.recalls(stamp.batch)?;
                    self.batches
                        .insert(stamp.batch.0, (expiry, recalls.clone()));
                    (expiry, recalls)
                }
            };
            let recalled = recalls.iter().any(|r| {
                r.lifted_at.is_none()
                    && match (r.first_seq, r.last_seq) {
                        (Some(f), Some(l)) => (f..=l).contains(&stamp.seq),
                        _ => true,
                    }
            });
            registered = Some(Registered {
                state: stamp.state,
                recalled,
                expiry,
                issued_at: stamp.issued_at,
                claimed: self.store.claimed_at(stamp.serial)?.is_some(),
                sold: self.store.sale(stamp.serial)?.is_some(),
            });
        }
        let verdict = judge(check.signature(), registered.as_ref(), today);
        let reason = match verdict {
            Verdict::Forged => Some("the signature does not match".to_string()),
            Verdict::UnknownKey => Some("signed by a key tem does not know".to_string()),
            Verdict::UnknownSerial => Some("tem never issued this serial".to_string()),
            _ => None,
        };
        Ok((serial, Some(code.batch.0), verdict, reason))
    }
}

/// Which inspections a grant may read: admins all, inspectors those in
/// their provinces (all for a country-wide inspector).
pub fn visible(grant: &Grant, inspection: &Inspection) -> bool {
    match grant.role {
        Role::Admin => true,
        Role::Producer | Role::Seller => false,
        Role::Inspector => {
            grant.provinces.is_empty()
                || inspection.province.as_ref().is_some_and(|p| {
                    grant
                        .provinces
                        .iter()
                        .any(|g| g.to_lowercase() == p.to_lowercase())
                })
        }
    }
}

/// An inspection the grant may see.
pub fn get(store: &dyn Store, grant: &Grant, id: i64) -> ServiceResult<Inspection> {
    match store.inspection(id)? {
        Some(i) if visible(grant, &i) => Ok(i),
        _ => Err(super::not_found("inspection", id)),
    }
}

/// The newest inspections a grant may read, without their items.
pub fn list(store: &dyn Store, grant: &Grant, limit: u32) -> ServiceResult<Vec<Inspection>> {
    let provinces = match grant.role {
        Role::Admin => None,
        Role::Producer | Role::Seller => return Ok(Vec::new()),
        Role::Inspector if grant.provinces.is_empty() => None,
        Role::Inspector => Some(grant.provinces.clone()),
    };
    // Inspections are few (one per shop visit): filter them here.
    Ok(store
        .inspections()?
        .into_iter()
        .filter(|i| {
            provinces.as_ref().is_none_or(|ps| {
                i.province
                    .as_ref()
                    .is_some_and(|p| ps.iter().any(|g| g.to_lowercase() == p.to_lowercase()))
            })
        })
        .take(limit as usize)
        .collect())
}
