//! What inspectors look at: scan alerts and consumer reports, and how each was
//! resolved.

use super::backend::{Backend, now};
use super::conn::{Conn, args};
use super::journal::audit_append;
use super::rows::{bad_value, not_found, timestamp, ts};
use super::stamps::serial_key;
use super::{StoreError, StoreResult};
use crate::domain::{BatchId, Outcome, ReportKind, Serial, TriageKind};

// The SQL of this file, named, so that rustfmt formats the code around it.
const CONSUMER_REPORTS: &str = "SELECT id, serial, at, kind, message, place FROM consumer_reports WHERE batch_id = ?1 ORDER BY id DESC";
const INSERT_RESOLUTION: &str = "INSERT INTO triage_resolutions (kind, item_id, outcome, note, actor, resolved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_CONSUMER_REPORT: &str = "INSERT INTO consumer_reports (serial, batch_id, at, kind, message, place, network) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// A consumer report to record.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The stamp's serial, if the code could be read.
    pub serial: Option<Serial>,
    /// Its batch.
    pub batch: Option<BatchId>,
    /// What kind of problem.
    pub kind: ReportKind,
    /// What the consumer wrote.
    pub message: Option<String>,
    /// Where they bought it.
    pub place: Option<String>,
    /// A hash of their network (for rate limits, never shown).
    pub network: Option<String>,
}

/// Something for an inspector to look at: a scan alert (a stamp that
/// started to look copied) or a consumer report, and how it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TriageItem {
    /// Alert or report.
    pub kind: TriageKind,
    /// Its id.
    pub id: i64,
    /// The batch.
    pub batch_id: BatchId,
    /// The stamp's number, when known.
    pub seq: Option<u32>,
    /// The stamp's serial, when known.
    pub serial: Option<String>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// The rules broken (alerts) or the report's kind and message.
    pub summary: String,
    /// Where, if said.
    pub place: Option<String>,
    /// How an inspector resolved it, if one did.
    pub resolution: Option<Resolution>,
}

/// How a triage item was resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Resolution {
    /// The outcome.
    pub outcome: Outcome,
    /// The inspector's note.
    pub note: String,
    /// Who resolved it.
    pub actor: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub resolved_at: jiff::Timestamp,
}

/// What a consumer reported from the scan page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ConsumerReport {
    /// Its id.
    pub id: i64,
    /// The stamp's serial, if the code could be read.
    pub serial: Option<String>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// What kind of problem.
    pub kind: ReportKind,
    /// What the consumer wrote.
    pub message: Option<String>,
    /// Where they bought it.
    pub place: Option<String>,
}

/// Alerts and consumer reports waiting for an inspector, and their outcomes.
pub trait TriageStore {
    /// Consumer reports about a batch's stamps, newest first.
    fn consumer_reports(&self, batch: BatchId) -> StoreResult<Vec<ConsumerReport>>;
    /// Scan alerts and consumer reports, newest first: only unresolved ones
    /// when `open_only`, of one batch or all.
    fn triage(&self, open_only: bool, batch: Option<BatchId>) -> StoreResult<Vec<TriageItem>>;
    /// One triage item, resolved or not.
    fn triage_item(&self, kind: TriageKind, id: i64) -> StoreResult<Option<TriageItem>>;
    /// Records the outcome of a triage item; `Conflict` if it was resolved
    /// already, `NotFound` if there is no such item.
    fn resolve_triage(
        &self,
        kind: TriageKind,
        id: i64,
        outcome: Outcome,
        note: &str,
        actor: &str,
    ) -> StoreResult<TriageItem>;
    /// Records a consumer report.
    fn add_report(&self, report: &NewReport) -> StoreResult<i64>;
}

impl<B: Backend> TriageStore for B {
    fn consumer_reports(&self, batch: BatchId) -> StoreResult<Vec<ConsumerReport>> {
        self.read(|c| {
            c.query_map(CONSUMER_REPORTS, args![batch.0], |r| {
                Ok(ConsumerReport {
                    id: r.get(0)?,
                    serial: r
                        .get::<Option<i64>>(1)?
                        .map(|s| Serial(s as u64).to_string()),
                    at: ts(r, 2)?,
                    kind: {
                        let kind: String = r.get(3)?;
                        kind.parse().map_err(|_| bad_value("report kind", &kind))?
                    },
                    message: r.get(4)?,
                    place: r.get(5)?,
                })
            })
        })
    }

    fn triage(&self, open_only: bool, batch: Option<BatchId>) -> StoreResult<Vec<TriageItem>> {
        self.read(|c| load_triage(c, open_only, batch, None))
    }

    fn triage_item(&self, kind: TriageKind, id: i64) -> StoreResult<Option<TriageItem>> {
        self.read(|c| Ok(load_triage(c, false, None, Some((kind, id)))?.pop()))
    }

    fn resolve_triage(
        &self,
        kind: TriageKind,
        id: i64,
        outcome: Outcome,
        note: &str,
        actor: &str,
    ) -> StoreResult<TriageItem> {
        self.write(|tx| {
            let Some(item) = load_triage(tx, false, None, Some((kind, id)))?.pop() else {
                return Err(not_found(kind.as_str(), id));
            };
            if item.resolution.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{kind} {id} was resolved already"
                )));
            }
            tx.execute(
                INSERT_RESOLUTION,
                args![kind.as_str(), id, outcome.as_str(), note, actor, now()],
            )?;
            // In the same transaction: a resolution that closed an alert is
            // part of the record no one can quietly rewrite.
            audit_append(
                tx,
                actor,
                "triage.resolve",
                &format!("batch:{}", item.batch_id.0),
                None,
                Some(serde_json::json!({
                    "item": format!("{kind}:{id}"),
                    "serial": item.serial,
                    "summary": item.summary,
                    "outcome": outcome.as_str(),
                    "note": note,
                })),
            )?;
            load_triage(tx, false, None, Some((kind, id)))?
                .pop()
                .ok_or_else(|| not_found("triage item", id))
        })
    }

    fn add_report(&self, r: &NewReport) -> StoreResult<i64> {
        self.write(|tx| {
            tx.insert(
                INSERT_CONSUMER_REPORT,
                args![
                    r.serial.map(serial_key),
                    r.batch.map(|b| b.0),
                    jiff::Timestamp::now().to_string(),
                    r.kind.as_str(),
                    r.message,
                    r.place,
                    r.network
                ],
            )
        })
    }
}

/// Triage items: alerts from `events` and reports from `consumer_reports`,
/// with their resolutions; `only` picks one item.
pub(super) fn load_triage(
    c: &dyn Conn,
    open_only: bool,
    batch: Option<BatchId>,
    only: Option<(TriageKind, i64)>,
) -> StoreResult<Vec<TriageItem>> {
    let sql = format!(
        "SELECT * FROM (
            SELECT 'alert' AS kind, e.id, e.batch_id, e.first_seq AS seq, {} AS serial,
                   e.at, e.reason AS summary, e.place, r.outcome, r.note, r.actor, r.resolved_at
            FROM events e LEFT JOIN triage_resolutions r ON r.kind = 'alert' AND r.item_id = e.id
            WHERE e.action = 'alert'
            UNION ALL
            SELECT 'report', c.id, c.batch_id, s.seq, CAST(c.serial AS TEXT), c.at,
                   c.kind || COALESCE(': ' || c.message, ''), c.place, r.outcome, r.note, r.actor, r.resolved_at
            FROM consumer_reports c
            LEFT JOIN stamps s ON s.serial = c.serial
            LEFT JOIN triage_resolutions r ON r.kind = 'report' AND r.item_id = c.id
        ) AS items
        WHERE (?1 = 0 OR outcome IS NULL) AND (CAST(?2 AS BIGINT) IS NULL OR batch_id = ?2)
          AND (CAST(?3 AS TEXT) IS NULL OR (kind = ?3 AND id = ?4))
        ORDER BY at DESC, id DESC
        LIMIT 10000",
        c.dialect().json_text("e.detail", "serial")
    );
    c.query_map(
        &sql,
        args![
            open_only as i64,
            batch.map(|b| b.0),
            only.map(|o| o.0.as_str()),
            only.map(|o| o.1)
        ],
        |r| {
            let kind: String = r.get(0)?;
            let kind: TriageKind = kind.parse().map_err(|_| bad_value("triage kind", &kind))?;
            let id: i64 = r.get(1)?;
            let batch_id: Option<u32> = r.get(2)?;
            let at: String = r.get(5)?;
            // Report serials are stored as integers; alerts carry them as text.
            let serial = r.get::<Option<String>>(4)?.map(|s| match s.parse::<i64>() {
                Ok(n) if kind == TriageKind::Report => Serial(n as u64).to_string(),
                _ => s,
            });
            let resolution = match (
                r.get::<Option<String>>(8)?,
                r.get::<Option<String>>(9)?,
                r.get::<Option<String>>(10)?,
                r.get::<Option<String>>(11)?,
            ) {
                (Some(outcome), Some(note), Some(actor), Some(at)) => Some(Resolution {
                    outcome: outcome
                        .parse()
                        .map_err(|_| bad_value("outcome", &outcome))?,
                    note,
                    actor,
                    resolved_at: timestamp(&at)?,
                }),
                _ => None,
            };
            Ok(TriageItem {
                kind,
                id,
                batch_id: BatchId(batch_id.unwrap_or(0)),
                seq: r.get(3)?,
                serial,
                at: timestamp(&at)?,
                summary: r.get::<Option<String>>(6)?.unwrap_or_default(),
                place: r.get(7)?,
                resolution,
            })
        },
    )
}
