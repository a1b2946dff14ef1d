//! A stamp's life after issuance: print jobs, activation, voiding, recalls and
//! the events they leave.

use super::backend::Backend;
use super::conn::{Conn, args};
use super::journal::{EventRow, record_event};
use super::lookups::{batch_exists, count_out, move_counts};
use super::rows::{bad_value, not_found, timestamp, ts};
use super::{StoreError, StoreResult};
use crate::domain::{BatchId, EventAction, StampState};

// The SQL of this file, named, so that rustfmt formats the code around it.
const STAMP_STATE: &str = "SELECT state FROM stamps WHERE batch_id = ?1 AND seq = ?2";
const MARK_PRINTED: &str =
    "UPDATE stamps SET state = 1 WHERE batch_id = ?1 AND seq = ?2 AND state = 0";
const INSERT_PRINT_JOB: &str = "INSERT INTO print_jobs (uuid, batch_id, actor, layout, format, first_seq, last_seq, seqs, stamps, reprinted, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
const PRINT_JOBS: &str =
    "SELECT uuid, actor, layout, format, first_seq, last_seq, stamps, reprinted, created_at
     FROM print_jobs WHERE batch_id = ?1 ORDER BY id";
const INSERT_RECALL: &str = "INSERT INTO recalls (batch_id, first_seq, last_seq, reason, notice, actor, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const STAMPS_IN_RANGE: &str =
    "SELECT COUNT(*) FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3";
const STAMPS_IN_BATCH: &str = "SELECT COUNT(*) FROM stamps WHERE batch_id = ?1";
const LIFT_RECALLS: &str =
    "UPDATE recalls SET lifted_at = ?2, lift_reason = ?3 WHERE batch_id = ?1 AND lifted_at IS NULL";
const VOID_RANGE: &str = "UPDATE stamps SET state = 3, void_reason = ?4 WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 AND state != 3";
const ACTIVATE_RANGE: &str =
    "UPDATE stamps SET state = 2 WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 AND state = 1";
const RECALLS: &str =
    "SELECT id, first_seq, last_seq, reason, notice, actor, created_at, lifted_at, lift_reason
     FROM recalls WHERE batch_id = ?1 ORDER BY id";
const RECALLS_IN_FORCE: &str =
    "SELECT id, first_seq, last_seq, reason, notice, actor, created_at, lifted_at, lift_reason, batch_id
     FROM recalls WHERE lifted_at IS NULL ORDER BY id";
const EVENTS: &str =
    "SELECT id, at, action, first_seq, last_seq, count, actor, place, reason, detail
     FROM events WHERE batch_id = ?1 ORDER BY id";
const RANGE_STATES: &str = "SELECT state, COUNT(*) FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 GROUP BY state";

/// Which stamps a print job covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintedStamps {
    /// Numbers first..=last of the batch, all of them.
    Range {
        /// The first number.
        first: u32,
        /// The last number.
        last: u32,
    },
    /// These numbers (sorted, unique).
    List(Vec<u32>),
}

/// A print job to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrintJob {
    /// The batch.
    pub batch: BatchId,
    /// Who asked: "cli:USER" or the API principal.
    pub actor: String,
    /// The sheet layout's name.
    pub layout: String,
    /// The file format.
    pub format: String,
    /// The stamps printed.
    pub stamps: PrintedStamps,
    /// How many claim codes the file holds (it then holds secrets).
    pub claim_codes: u32,
    /// Claim stamps printed before were printed again, as asked for.
    pub claim_reprint: bool,
}

/// A recorded print job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PrintJob {
    /// Its id.
    pub id: uuid::Uuid,
    /// The batch.
    pub batch_id: BatchId,
    /// Who printed.
    pub actor: String,
    /// The sheet layout's name.
    pub layout: String,
    /// The file format.
    pub format: String,
    /// The first stamp number printed.
    pub first_seq: u32,
    /// The last stamp number printed.
    pub last_seq: u32,
    /// Stamps printed.
    pub stamps: u32,
    /// How many of these stamps had already been printed (a reprint).
    pub reprinted: u32,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

/// A recall to record.
#[derive(Debug, Clone)]
pub struct NewRecall {
    /// The batch.
    pub batch: BatchId,
    /// Stamp numbers, or the whole batch.
    pub range: Option<(u32, u32)>,
    /// Why, for the record.
    pub reason: String,
    /// What consumers see on their next scan.
    pub notice: String,
    /// Who recalled.
    pub actor: String,
}

/// A recall notice that consumers see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RecallNotice {
    /// Why.
    pub reason: String,
    /// What consumers see.
    pub notice: String,
    /// Since when.
    #[schema(value_type = String, format = DateTime)]
    pub since: jiff::Timestamp,
}

/// A recall as recorded, lifted or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RecallRecord {
    /// Its id.
    pub id: i64,
    /// The first stamp recalled, when not the whole batch.
    pub first_seq: Option<u32>,
    /// The last stamp recalled.
    pub last_seq: Option<u32>,
    /// Why.
    pub reason: String,
    /// What consumers see.
    pub notice: String,
    /// Who recalled.
    pub actor: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// When it was lifted, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub lifted_at: Option<jiff::Timestamp>,
    /// Why it was lifted.
    pub lift_reason: Option<String>,
}

/// One lifecycle event (see the `events` table).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Its id.
    pub id: i64,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// What happened (commissioning, printing, activation, void, recall…).
    pub action: EventAction,
    /// The batch.
    pub batch_id: BatchId,
    /// The stamps concerned (both absent: the whole batch).
    pub first_seq: Option<u32>,
    /// The last stamp number it covers.
    pub last_seq: Option<u32>,
    /// Stamps it covers.
    pub count: u64,
    /// Who did it.
    pub actor: String,
    /// Where, if known.
    pub place: Option<String>,
    /// Why, if said.
    pub reason: Option<String>,
    /// Anything else (the print job's id, the recall's notice…).
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

/// What happens to stamps after issuance, each change with its event and audit entry.
pub trait LifecycleStore {
    /// Records a print job and moves its `issued` stamps to `printed`, in one
    /// transaction. Voided stamps are refused (`Conflict`); printed and
    /// activated ones count as reprints.
    fn record_print_job(&self, job: &NewPrintJob) -> StoreResult<PrintJob>;
    /// A batch's print jobs, oldest first.
    fn print_jobs(&self, batch: BatchId) -> StoreResult<Vec<PrintJob>>;
    /// Recalls a batch or a range of its stamps.
    fn recall(&self, recall: &NewRecall) -> StoreResult<RecallNotice>;
    /// Lifts every active recall of a batch; returns how many.
    fn lift_recalls(&self, batch: BatchId, reason: &str, actor: &str) -> StoreResult<u32>;
    /// Voids stamps first..=last of a batch; returns how many changed.
    fn void_stamps(
        &self,
        batch: BatchId,
        first: u32,
        last: u32,
        reason: &str,
        actor: &str,
    ) -> StoreResult<u32>;
    /// Moves printed stamps `first..=last` to activated (already activated
    /// ones count as done). All or nothing: any stamp in the range that was
    /// never printed, or was voided, or does not exist refuses the whole
    /// range (`Conflict`). Returns how many changed.
    fn activate_stamps(
        &self,
        batch: BatchId,
        first: u32,
        last: u32,
        actor: &str,
    ) -> StoreResult<u32>;
    /// Every recall of a batch, oldest first.
    fn recalls(&self, batch: BatchId) -> StoreResult<Vec<RecallRecord>>;
    /// Every recall in force, of every batch, oldest first.
    fn recalls_in_force(&self) -> StoreResult<Vec<(BatchId, RecallRecord)>>;
    /// A batch's lifecycle events, oldest first.
    fn events(&self, batch: BatchId) -> StoreResult<Vec<Event>>;
}

impl<B: Backend> LifecycleStore for B {
    fn record_print_job(&self, job: &NewPrintJob) -> StoreResult<PrintJob> {
        self.write(|tx| {
            if !batch_exists(tx, job.batch)? {
                return Err(not_found("batch", job.batch));
            }
            let seqs: Vec<u32> = match &job.stamps {
                PrintedStamps::Range { first, last } => (*first..=*last).collect(),
                PrintedStamps::List(list) => list.clone(),
            };
            let (Some(&first), Some(&last)) = (seqs.iter().min(), seqs.iter().max()) else {
                return Err(StoreError::Conflict(
                    "a print job needs at least one stamp".into(),
                ));
            };
            let newly = mark_printed(tx, job.batch, &seqs)?;
            move_counts(
                tx,
                job.batch,
                Some(StampState::Issued),
                StampState::Printed,
                newly as u64,
            )?;
            let contiguous = last - first + 1 == seqs.len() as u32;
            let list = (!contiguous)
                .then(|| serde_json::to_string(&seqs))
                .transpose()
                .map_err(|e| StoreError::database(e.to_string()))?;
            let id = uuid::Uuid::now_v7();
            let created = jiff::Timestamp::now();
            let count = seqs.len() as u32;
            tx.execute(
                INSERT_PRINT_JOB,
                args![
                    id.to_string(),
                    job.batch.0,
                    job.actor,
                    job.layout,
                    job.format,
                    first,
                    last,
                    list,
                    count,
                    count - newly,
                    created.to_string()
                ],
            )?;
            record_event(
                tx,
                EventAction::Print,
                job.batch,
                EventRow {
                    first_seq: Some(first),
                    last_seq: Some(last),
                    count: u64::from(count),
                    actor: &job.actor,
                    reason: None,
                    detail: Some(print_detail(
                        job,
                        id,
                        count - newly,
                        (!contiguous).then_some(&seqs),
                    )),
                },
            )?;
            Ok(PrintJob {
                id,
                batch_id: job.batch,
                actor: job.actor.clone(),
                layout: job.layout.clone(),
                format: job.format.clone(),
                first_seq: first,
                last_seq: last,
                stamps: count,
                reprinted: count - newly,
                created_at: created,
            })
        })
    }

    fn print_jobs(&self, batch: BatchId) -> StoreResult<Vec<PrintJob>> {
        self.read(|c| {
            c.query_map(PRINT_JOBS, args![batch.0], |r| {
                let uuid = r.str(0)?;
                Ok(PrintJob {
                    id: uuid.parse().map_err(|_| bad_value("uuid", uuid))?,
                    batch_id: batch,
                    actor: r.get(1)?,
                    layout: r.get(2)?,
                    format: r.get(3)?,
                    first_seq: r.get(4)?,
                    last_seq: r.get(5)?,
                    stamps: r.get(6)?,
                    reprinted: r.get(7)?,
                    created_at: ts(r, 8)?,
                })
            })
        })
    }

    fn recall(&self, r: &NewRecall) -> StoreResult<RecallNotice> {
        self.write(|tx| {
            if !batch_exists(tx, r.batch)? {
                return Err(not_found("batch", r.batch));
            }
            let now = jiff::Timestamp::now();
            tx.execute(
                INSERT_RECALL,
                args![
                    r.batch.0,
                    r.range.map(|x| x.0),
                    r.range.map(|x| x.1),
                    r.reason,
                    r.notice,
                    r.actor,
                    now.to_string()
                ],
            )?;
            let count: i64 = match r.range {
                Some((first, last)) => {
                    tx.query_row(STAMPS_IN_RANGE, args![r.batch.0, first, last], |row| {
                        row.get(0)
                    })?
                }
                None => tx.query_row(STAMPS_IN_BATCH, args![r.batch.0], |row| row.get(0))?,
            };
            record_event(
                tx,
                EventAction::Recall,
                r.batch,
                EventRow {
                    first_seq: r.range.map(|x| x.0),
                    last_seq: r.range.map(|x| x.1),
                    count: count as u64,
                    actor: &r.actor,
                    reason: Some(&r.reason),
                    detail: Some(serde_json::json!({ "notice": r.notice })),
                },
            )?;
            Ok(RecallNotice {
                reason: r.reason.clone(),
                notice: r.notice.clone(),
                since: now,
            })
        })
    }

    fn lift_recalls(&self, batch: BatchId, reason: &str, actor: &str) -> StoreResult<u32> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let lifted = tx.execute(
                LIFT_RECALLS,
                args![batch.0, jiff::Timestamp::now().to_string(), reason],
            )? as u32;
            if lifted > 0 {
                let stamps: i64 = tx.query_row(STAMPS_IN_BATCH, args![batch.0], |r| r.get(0))?;
                record_event(
                    tx,
                    EventAction::Lift,
                    batch,
                    EventRow {
                        first_seq: None,
                        last_seq: None,
                        count: stamps as u64,
                        actor,
                        reason: Some(reason),
                        detail: Some(serde_json::json!({ "recalls_lifted": lifted })),
                    },
                )?;
            }
            Ok(lifted)
        })
    }

    fn void_stamps(
        &self,
        batch: BatchId,
        first: u32,
        last: u32,
        reason: &str,
        actor: &str,
    ) -> StoreResult<u32> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let by_state = range_states(tx, batch, first, last)?;
            let changed = tx.execute(VOID_RANGE, args![batch.0, first, last, reason])? as u32;
            let live = [
                StampState::Issued,
                StampState::Printed,
                StampState::Activated,
            ];
            for (state, n) in live.into_iter().zip(by_state) {
                count_out(tx, batch, state, n)?;
            }
            move_counts(tx, batch, None, StampState::Voided, u64::from(changed))?;
            if changed > 0 {
                record_event(
                    tx,
                    EventAction::Void,
                    batch,
                    EventRow {
                        first_seq: Some(first),
                        last_seq: Some(last),
                        count: u64::from(changed),
                        actor,
                        reason: Some(reason),
                        detail: None,
                    },
                )?;
            }
            Ok(changed)
        })
    }

    fn activate_stamps(
        &self,
        batch: BatchId,
        first: u32,
        last: u32,
        actor: &str,
    ) -> StoreResult<u32> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let [issued, printed, activated, voided] = range_states(tx, batch, first, last)?;
            let wanted = u64::from(last - first) + 1;
            if issued + printed + activated + voided < wanted {
                return Err(StoreError::Conflict(format!(
                    "batch {batch} has no stamps numbered {first}..{last} (only {} of them exist); nothing was activated",
                    issued + printed + activated + voided
                )));
            }
            if issued > 0 {
                return Err(StoreError::Conflict(format!(
                    "{issued} of stamps {first}..{last} were never printed: print them before activating; nothing was activated"
                )));
            }
            if voided > 0 {
                return Err(StoreError::Conflict(format!(
                    "{voided} of stamps {first}..{last} are voided; nothing was activated"
                )));
            }
            let changed = tx.execute(
                ACTIVATE_RANGE,
                args![batch.0, first, last],
            )? as u32;
            move_counts(tx, batch, Some(StampState::Printed), StampState::Activated, u64::from(changed))?;
            if changed > 0 {
                record_event(
                    tx,
                    EventAction::Activate,
                    batch,
                    EventRow { first_seq: Some(first), last_seq: Some(last), count: u64::from(changed), actor, reason: None, detail: None },
                )?;
            }
            Ok(changed)
        })
    }

    fn recalls(&self, batch: BatchId) -> StoreResult<Vec<RecallRecord>> {
        self.read(|c| c.query_map(RECALLS, args![batch.0], recall_record))
    }

    fn recalls_in_force(&self) -> StoreResult<Vec<(BatchId, RecallRecord)>> {
        self.read(|c| {
            c.query_map(RECALLS_IN_FORCE, args![], |r| {
                Ok((BatchId(r.get(9)?), recall_record(r)?))
            })
        })
    }

    fn events(&self, batch: BatchId) -> StoreResult<Vec<crate::store::Event>> {
        self.read(|c| {
            if !batch_exists(c, batch)? {
                return Err(not_found("batch", batch));
            }
            c.query_map(EVENTS, args![batch.0], |r| event_row(r, batch))
        })
    }
}

/// How many of stamps `first..=last` of a batch are in each state
/// (indexed by `StampState::code`).
pub(super) fn range_states(
    tx: &dyn Conn,
    batch: BatchId,
    first: u32,
    last: u32,
) -> StoreResult<[u64; 4]> {
    let mut by_state = [0u64; 4];
    tx.each(RANGE_STATES, args![batch.0, first, last], &mut |row| {
        let state: i64 = row.get(0)?;
        by_state[state.clamp(0, 3) as usize] = row.get::<i64>(1)? as u64;
        Ok(())
    })?;
    Ok(by_state)
}

/// The print event's detail; a file with claim codes says how many (it
/// holds secrets) and whether they were reprinted on request.
fn print_detail(
    job: &NewPrintJob,
    id: uuid::Uuid,
    reprinted: u32,
    seqs: Option<&Vec<u32>>,
) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "print_job": id.to_string(), "layout": job.layout, "format": job.format,
        "reprinted": reprinted, "seqs": seqs,
    });
    if job.claim_codes > 0 {
        detail["claim_codes"] = job.claim_codes.into();
        detail["claim_reprint"] = job.claim_reprint.into();
    }
    detail
}

/// Moves the issued stamps among `seqs` to printed; returns how many. A
/// missing stamp, or any voided one, refuses the whole job.
fn mark_printed(tx: &dyn Conn, batch: BatchId, seqs: &[u32]) -> StoreResult<u32> {
    let mut newly = 0u32;
    let mut voided = Vec::new();
    for &seq in seqs {
        let state: Option<i64> = tx.query_opt(STAMP_STATE, args![batch.0, seq], |r| r.get(0))?;
        match state.and_then(StampState::from_code) {
            None => {
                return Err(not_found("stamp", format!("number {seq} of batch {batch}")));
            }
            Some(StampState::Voided) => voided.push(seq),
            Some(StampState::Issued) => {
                newly += tx.execute(MARK_PRINTED, args![batch.0, seq])? as u32;
            }
            Some(_) => {}
        }
    }
    if !voided.is_empty() {
        let shown: Vec<String> = voided.iter().take(10).map(u32::to_string).collect();
        return Err(StoreError::Conflict(format!(
            "{} stamp(s) of batch {batch} are voided and cannot be printed: number {}{}",
            voided.len(),
            shown.join(", "),
            if voided.len() > 10 { ", …" } else { "" }
        )));
    }
    Ok(newly)
}

fn recall_record(r: &super::conn::Row) -> StoreResult<RecallRecord> {
    Ok(RecallRecord {
        id: r.get(0)?,
        first_seq: r.get(1)?,
        last_seq: r.get(2)?,
        reason: r.get(3)?,
        notice: r.get(4)?,
        actor: r.get(5)?,
        created_at: ts(r, 6)?,
        lifted_at: r
            .get::<Option<String>>(7)?
            .map(|l| timestamp(&l))
            .transpose()?,
        lift_reason: r.get(8)?,
    })
}

/// An `events` row (columns id, at, action, first_seq, last_seq, count,
/// actor, place, reason, detail) of `batch`.
pub(super) fn event_row(r: &super::conn::Row, batch: BatchId) -> StoreResult<Event> {
    let action: String = r.get(2)?;
    Ok(Event {
        id: r.get(0)?,
        at: ts(r, 1)?,
        action: EventAction::parse(&action).ok_or_else(|| bad_value("event action", &action))?,
        batch_id: batch,
        first_seq: r.get(3)?,
        last_seq: r.get(4)?,
        count: r.get::<i64>(5)? as u64,
        actor: r.get(6)?,
        place: r.get(7)?,
        reason: r.get(8)?,
        detail: r
            .get::<Option<String>>(9)?
            .map(|d| serde_json::from_str(&d).map_err(|_| bad_value("event detail", &d)))
            .transpose()?,
    })
}
