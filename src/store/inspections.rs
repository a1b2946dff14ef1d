//! Inspections: an inspector's visit with its checked items, stored with its
//! audit entry at once.

use super::StoreResult;
use super::backend::{Backend, now};
use super::conn::{Conn, args};
use super::journal::audit_append;
use super::rows::{bad_value, not_found, timestamp};
use super::stamps::serial_key;
use crate::domain::scan::Verdict;
use crate::domain::{BatchId, Serial};

// The SQL of this file, named, so that rustfmt formats the code around it.
const INSERT_INSPECTION: &str = "INSERT INTO inspections (at, place, province, lat, lon, note, inspector, source, bundle_at, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const INSERT_INSPECTION_ITEM: &str = "INSERT INTO inspection_items (inspection_id, n, source, input, serial, batch_id, verdict, reason, duplicate_of, offline_verdict, checked_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
const INSERT_OFFLINE_SCAN: &str = "INSERT INTO scans (serial, batch_id, at, verdict, network, device, agent)
     SELECT ?1, ?2, ?3, ?4, NULL, ?5, 'tem offline kit' FROM stamps WHERE serial = ?1 AND batch_id = ?2";
const COUNT_OFFLINE_SCAN: &str = "UPDATE stamps SET scan_count = scan_count + 1,
     first_scan_at = CASE WHEN first_scan_at IS NULL OR first_scan_at > ?3 THEN ?3 ELSE first_scan_at END
     WHERE serial = ?1 AND batch_id = ?2";
const INSPECTION_ITEMS: &str = "SELECT n, source, input, serial, batch_id, verdict, reason, duplicate_of, offline_verdict, checked_at
     FROM inspection_items WHERE inspection_id = ?1 ORDER BY n";
const ITEM_VERDICTS: &str =
    "SELECT inspection_id, verdict, duplicate_of IS NOT NULL FROM inspection_items
     WHERE CAST(?1 AS BIGINT) IS NULL OR inspection_id = ?1 ORDER BY inspection_id, n";
const SELECT_INSPECTIONS: &str = "SELECT i.id, i.at, i.place, i.province, i.lat, i.lon, i.note, i.inspector, i.source, i.bundle_at, i.created_at
     FROM inspections i WHERE CAST(?1 AS BIGINT) IS NULL OR i.id = ?1 ORDER BY i.at DESC, i.id DESC";

/// An inspection to store, judged already (`service::inspection`).
#[derive(Debug, Clone)]
pub struct NewInspection {
    /// When it took place (RFC 3339).
    pub at: String,
    /// The shop or market.
    pub place: String,
    /// Its province.
    pub province: Option<String>,
    /// Where (latitude, longitude).
    pub location: Option<(f64, f64)>,
    /// The inspector's note.
    pub note: Option<String>,
    /// Who inspected.
    pub inspector: String,
    /// "online", or "offline" for checks from a bundle.
    pub source: String,
    /// When the bundle used was made.
    pub bundle_at: Option<String>,
    /// The stamps checked.
    pub items: Vec<crate::domain::inspection::Item>,
    /// Counts over them.
    pub summary: crate::domain::inspection::Summary,
    /// Checks made offline, recorded as scans in the same transaction.
    pub scans: Vec<InspectionScan>,
}

/// A stamp checked offline by an inspector: a scan at `at` (RFC 3339). It
/// counts in the stamp's scans but not in the consumer repeat-scan rules.
#[derive(Debug, Clone)]
pub struct InspectionScan {
    /// The stamp.
    pub serial: Serial,
    /// Its batch.
    pub batch: BatchId,
    /// When it was checked (RFC 3339).
    pub at: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// Inspections and their items.
pub trait InspectionStore {
    /// Stores an inspection and its items, with its audit entry, at once.
    fn create_inspection(
        &self,
        new: &NewInspection,
    ) -> StoreResult<crate::domain::inspection::Inspection>;
    /// An inspection by id.
    fn inspection(&self, id: i64) -> StoreResult<Option<crate::domain::inspection::Inspection>>;
    /// Every inspection, newest first, without its items.
    fn inspections(&self) -> StoreResult<Vec<crate::domain::inspection::Inspection>>;
}

impl<B: Backend> InspectionStore for B {
    fn create_inspection(
        &self,
        new: &NewInspection,
    ) -> StoreResult<crate::domain::inspection::Inspection> {
        let id = self.write(|tx| {
            let id = tx.insert(
                INSERT_INSPECTION,
                args![
                    new.at,
                    new.place,
                    new.province,
                    new.location.map(|l| l.0),
                    new.location.map(|l| l.1),
                    new.note,
                    new.inspector,
                    new.source,
                    new.bundle_at,
                    now()
                ],
            )?;
            for i in &new.items {
                tx.execute(
                    INSERT_INSPECTION_ITEM,
                    args![
                        id, i.n, i.source, i.input, i.serial, i.batch_id, i.verdict.as_str(), i.reason, i.duplicate_of,
                        i.offline_verdict, i.checked_at
                    ],
                )?;
            }
            let device = format!("inspector {}", new.inspector);
            for s in &new.scans {
                let at = timestamp(&s.at)?.to_string();
                let recorded = tx.execute(
                    INSERT_OFFLINE_SCAN,
                    args![serial_key(s.serial), s.batch.0, at, s.verdict.as_str(), device],
                )?;
                if recorded == 1 {
                    tx.execute(
                        COUNT_OFFLINE_SCAN,
                        args![serial_key(s.serial), s.batch.0, at],
                    )?;
                }
            }
            audit_append(
                tx,
                &new.inspector,
                "inspection.create",
                &format!("inspection:{id}"),
                None,
                Some(serde_json::json!({
                    "at": new.at, "place": new.place, "province": new.province, "source": new.source,
                    "summary": new.summary,
                    "serials": new.items.iter().map(|i| (i.serial.clone(), i.verdict)).collect::<Vec<_>>(),
                })),
            )?;
            Ok(id)
        })?;
        self.inspection(id)?
            .ok_or_else(|| not_found("inspection", id))
    }

    fn inspection(&self, id: i64) -> StoreResult<Option<crate::domain::inspection::Inspection>> {
        self.read(|c| {
            let Some(mut inspection) = load_inspections(c, Some(id))?.pop() else {
                return Ok(None);
            };
            inspection.items = c.query_map(INSPECTION_ITEMS, args![id], |r| {
                Ok(crate::domain::inspection::Item {
                    n: r.get(0)?,
                    source: r.get(1)?,
                    input: r.get(2)?,
                    serial: r.get(3)?,
                    batch_id: r.get(4)?,
                    verdict: stored_verdict(r.get(5)?)?,
                    reason: r.get(6)?,
                    duplicate_of: r.get(7)?,
                    offline_verdict: r.get(8)?,
                    checked_at: r.get(9)?,
                })
            })?;
            inspection.summary = crate::domain::inspection::summarise(&inspection.items);
            Ok(Some(inspection))
        })
    }

    fn inspections(&self) -> StoreResult<Vec<crate::domain::inspection::Inspection>> {
        self.read(|c| load_inspections(c, None))
    }
}

/// Inspections (one, or all newest first) with their summaries from the
/// items' verdicts, and no items.
pub(super) fn load_inspections(
    c: &dyn Conn,
    id: Option<i64>,
) -> StoreResult<Vec<crate::domain::inspection::Inspection>> {
    // Each inspection's verdicts, for its summary.
    let mut verdicts: std::collections::HashMap<i64, Vec<crate::domain::inspection::Item>> =
        Default::default();
    c.each(ITEM_VERDICTS, args![id], &mut |r| {
        let items = verdicts.entry(r.get(0)?).or_default();
        items.push(crate::domain::inspection::Item {
            n: items.len() as u32 + 1,
            source: String::new(),
            input: String::new(),
            serial: None,
            batch_id: None,
            verdict: stored_verdict(r.get(1)?)?,
            reason: None,
            duplicate_of: r.get::<bool>(2)?.then_some(0),
            offline_verdict: None,
            checked_at: None,
        });
        Ok(())
    })?;
    c.query_map(SELECT_INSPECTIONS, args![id], |r| {
        let id: i64 = r.get(0)?;
        Ok(crate::domain::inspection::Inspection {
            id,
            at: r.get(1)?,
            place: r.get(2)?,
            province: r.get(3)?,
            lat: r.get(4)?,
            lon: r.get(5)?,
            note: r.get(6)?,
            inspector: r.get(7)?,
            source: r.get(8)?,
            bundle_at: r.get(9)?,
            created_at: r.get(10)?,
            summary: crate::domain::inspection::summarise(
                verdicts.get(&id).map(Vec::as_slice).unwrap_or_default(),
            ),
            items: Vec::new(),
        })
    })
}

/// A verdict as stored (its kebab-case name).
fn stored_verdict(name: String) -> StoreResult<Verdict> {
    Verdict::parse(&name).ok_or_else(|| bad_value("verdict", &name))
}
