//! Stamps: issuing them in one transaction, and reading them back by batch,
//! number, serial and state.

use super::backend::{Backend, now};
use super::conn::{Conn, Row, StampRow, args};
use super::journal::{EventRow, record_event};
use super::lookups::counts;
use super::lookups::{batch_exists, move_counts};
use super::rows::{bad_value, not_found, timestamp, ts};
use super::{StoreError, StoreResult};
use crate::codes::{Kid, StampCode, StampForm};
use crate::domain::{BatchId, EventAction, Serial, StampCounts, StampState};

// The SQL of this file, named, so that rustfmt formats the code around it.
const INSERT_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, public_key) VALUES (?1, ?2) ON CONFLICT (kid) DO NOTHING";
const SIGNING_KEY_ID: &str = "SELECT id FROM signing_keys WHERE kid = ?1";
const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM stamps WHERE batch_id = ?1";
const INSERT_ISSUANCE: &str =
    "INSERT INTO issuances (uuid, batch_id, key_id, first_seq, count, created_at, claim_codes, gs1_gtin)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const STAMP_SCANS: &str = "SELECT seq, scan_count, first_scan_at FROM stamps WHERE batch_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3";
const SEQS_IN_RANGE: &str = "SELECT seq FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3";

/// Where issuance gets its stamps from and reports progress to. The store
/// pulls chunks inside its transaction, so signing (on other threads) and
/// writing overlap, and memory stays bounded by the chunk queue.
pub trait StampFeed {
    /// The next chunk of signed stamps; `None` when all were handed out.
    fn next_chunk(&mut self) -> Option<Vec<StampCode>>;
    /// A new stamp to replace one whose serial already exists (a 2⁻⁶⁴ event
    /// per stamp, but "never reused" must hold without exceptions).
    fn replacement(&mut self) -> StampCode;
    /// Called after a chunk is written with its stamps and their sequence
    /// numbers. An error aborts the issuance and rolls everything back.
    fn written(&mut self, stamps: &[(u32, StampCode)]) -> Result<(), String>;
}

/// What an issuance wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueReceipt {
    /// The issuance's id.
    pub issuance: uuid::Uuid,
    /// The batch.
    pub batch: BatchId,
    /// Stamps issued.
    pub count: u32,
    /// Sequence numbers first..=last within the batch.
    pub first_seq: u32,
    /// The last stamp's number.
    pub last_seq: u32,
    /// Serials drawn again because they were taken (2⁻⁶⁴ odds each).
    pub replaced_duplicates: u32,
}

/// A stored stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStamp {
    /// Its serial.
    pub serial: Serial,
    /// Its batch.
    pub batch: BatchId,
    /// Its number in the batch.
    pub seq: u32,
    /// Its state.
    pub state: StampState,
    /// The key that signed it.
    pub kid: Kid,
    /// Its signature.
    pub signature: [u8; 64],
    /// When tem issued it (its issuance's time).
    pub issued_at: jiff::Timestamp,
    /// Whether its issuance gave it a claim code (printed under a scratch panel).
    pub claimable: bool,
    /// How its URL is printed (its issuance chose).
    pub form: StampForm,
}

impl StoredStamp {
    /// The code printed on the stamp.
    pub fn code(&self) -> StampCode {
        StampCode {
            kid_hint: self.kid.hint(),
            serial: self.serial,
            batch: self.batch,
            signature: self.signature,
        }
    }

    /// The URL printed on the stamp, in the form its issuance chose.
    pub fn url(&self, base_url: &str) -> String {
        self.code().url_in(base_url, &self.form)
    }

    /// Whether the scanned `text` (read as `code`) is exactly this stamp as
    /// issued: `is`, and for a URL in GS1 form the GTIN it was issued with
    /// (a label the signature does not cover).
    pub fn is_text(&self, text: &str, code: &StampCode, kid: Option<Kid>) -> bool {
        let label_ok = match crate::codes::format::gs1::parse(text) {
            Some(Ok((_, gtin))) => self.form == StampForm::Gs1 { gtin },
            _ => true,
        };
        label_ok && self.is(code, kid)
    }

    /// Whether `code` is exactly this stamp as issued (the signature
    /// compared in constant time): the only code the registry vouches for.
    pub fn is(&self, code: &StampCode, kid: Option<Kid>) -> bool {
        use subtle::ConstantTimeEq;
        kid == Some(self.kid)
            && code.kid_hint == self.kid.hint()
            && code.serial == self.serial
            && code.batch == self.batch
            && bool::from(code.signature.ct_eq(&self.signature))
    }
}

/// An issuance to store: how many stamps of which batch, under which key.
#[derive(Debug, Clone, Copy)]
pub struct NewIssuance<'a> {
    /// The batch.
    pub batch: BatchId,
    /// The key that signs them.
    pub kid: Kid,
    /// Its public key (recorded with the key's id).
    pub public_key: &'a [u8; 32],
    /// How many stamps.
    pub count: u32,
    /// Whether the stamps carry claim codes (`codes::claim`).
    pub claim_codes: bool,
    /// The GTIN (14 digits) for stamps printed in GS1 form; `None`: tem's form.
    pub gs1_gtin: Option<&'a str>,
}

/// Issued stamps: one transaction per issuance, then reads by batch, serial and state.
pub trait StampStore {
    /// Stores `count` stamps from `feed` for `batch`, signed by `kid`, in one
    /// transaction. Serials are unique across the registry.
    fn issue_stamps(
        &self,
        new: &NewIssuance<'_>,
        actor: &str,
        feed: &mut dyn StampFeed,
    ) -> StoreResult<IssueReceipt>;
    /// Stamps of a batch in sequence order, from `from_seq`, at most `limit`.
    fn stamps(&self, batch: BatchId, from_seq: u32, limit: u32) -> StoreResult<Vec<StoredStamp>>;
    /// The stamps of a batch in one state, in number order.
    fn stamps_in_state(&self, batch: BatchId, state: StampState) -> StoreResult<Vec<StoredStamp>>;
    /// Scan count and first scan of stamps `from_seq`.., at most `limit`, by number.
    fn stamp_scans(
        &self,
        batch: BatchId,
        from_seq: u32,
        limit: u32,
    ) -> StoreResult<Vec<(u32, u64, Option<jiff::Timestamp>)>>;
    /// A stamp by serial.
    fn stamp(&self, serial: Serial) -> StoreResult<Option<StoredStamp>>;
    /// A batch's stamps by state.
    fn stamp_counts(&self, batch: BatchId) -> StoreResult<StampCounts>;
    /// Stamps by state for several batches.
    fn stamp_counts_by_batch(
        &self,
        batches: &[BatchId],
    ) -> StoreResult<std::collections::HashMap<BatchId, StampCounts>> {
        batches
            .iter()
            .map(|b| Ok((*b, self.stamp_counts(*b)?)))
            .collect()
    }
}

impl<B: Backend> StampStore for B {
    fn issue_stamps(
        &self,
        new: &NewIssuance<'_>,
        actor: &str,
        feed: &mut dyn StampFeed,
    ) -> StoreResult<IssueReceipt> {
        let (batch, count) = (new.batch, new.count);
        self.issue_write(count, |tx| {
            let (issuance, issuance_id, first_seq) = open_issuance(tx, new)?;
            let mut writer = StampWriter::new(tx, batch, issuance_id);
            let mut seq = first_seq;
            let mut written = 0u32;
            let mut done: Vec<(u32, StampCode)> = Vec::new();
            while written < count {
                let Some(mut chunk) = feed.next_chunk() else {
                    return Err(StoreError::Aborted(format!(
                        "the signer stopped after {written} of {count} stamps"
                    )));
                };
                chunk.truncate((count - written) as usize);
                // In serial order, neighbouring inserts share index pages.
                chunk.sort_unstable_by_key(|c| c.serial);
                if let Some(wrong) = chunk.iter().find(|c| c.batch != batch) {
                    return Err(StoreError::Aborted(format!(
                        "a stamp signed for batch {} was offered to batch {batch}",
                        wrong.batch
                    )));
                }
                done.clear();
                writer.insert(seq, &chunk, feed, &mut done)?;
                seq += chunk.len() as u32;
                written += chunk.len() as u32;
                feed.written(&done).map_err(StoreError::Aborted)?;
            }
            let replaced = writer.replaced;
            move_counts(tx, batch, None, StampState::Issued, u64::from(count))?;
            record_event(
                tx,
                EventAction::Commission,
                batch,
                EventRow {
                    first_seq: Some(first_seq),
                    last_seq: Some(seq - 1),
                    count: u64::from(count),
                    actor,
                    reason: None,
                    detail: Some(
                        serde_json::json!({ "issuance": issuance.to_string(), "kid": new.kid.to_string() }),
                    ),
                },
            )?;
            Ok(IssueReceipt {
                issuance,
                batch,
                count,
                first_seq,
                last_seq: seq - 1,
                replaced_duplicates: replaced,
            })
        })
    }

    fn stamps(&self, batch: BatchId, from_seq: u32, limit: u32) -> StoreResult<Vec<StoredStamp>> {
        self.read(|c| {
            c.query_map(
                &format!("SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.batch_id = ?1 AND s.seq >= ?2 ORDER BY s.seq LIMIT ?3"),
                args![batch.0, from_seq, limit],
                stamp_row,
            )
        })
    }

    fn stamps_in_state(&self, batch: BatchId, state: StampState) -> StoreResult<Vec<StoredStamp>> {
        self.read(|c| {
            c.query_map(
                &format!("SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.batch_id = ?1 AND s.state = ?2 ORDER BY s.seq"),
                args![batch.0, state.code()],
                stamp_row,
            )
        })
    }

    fn stamp_scans(
        &self,
        batch: BatchId,
        from_seq: u32,
        limit: u32,
    ) -> StoreResult<Vec<(u32, u64, Option<jiff::Timestamp>)>> {
        self.read(|c| {
            c.query_map(STAMP_SCANS, args![batch.0, from_seq, limit], |r| {
                let first: Option<String> = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get::<i64>(1)? as u64,
                    first.map(|f| timestamp(&f)).transpose()?,
                ))
            })
        })
    }

    fn stamp(&self, serial: Serial) -> StoreResult<Option<StoredStamp>> {
        self.read(|c| {
            c.query_opt(
                &format!("SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.serial = ?1"),
                args![serial_key(serial)],
                stamp_row,
            )
        })
    }

    fn stamp_counts(&self, batch: BatchId) -> StoreResult<StampCounts> {
        self.read(|c| counts(c, batch))
    }

    fn stamp_counts_by_batch(
        &self,
        batches: &[BatchId],
    ) -> StoreResult<std::collections::HashMap<BatchId, StampCounts>> {
        // One connection and one prepared statement for the whole list.
        self.read(|c| batches.iter().map(|b| Ok((*b, counts(c, *b)?))).collect())
    }
}

pub(super) const STAMP_COLUMNS: &str = "s.serial, s.batch_id, s.seq, s.state, k.kid, s.signature, i.created_at, i.claim_codes, i.gs1_gtin";

pub(super) const STAMP_FROM: &str =
    "FROM stamps s JOIN issuances i ON i.id = s.issuance_id JOIN signing_keys k ON k.id = i.key_id";

pub(super) fn stamp_row(r: &Row) -> StoreResult<StoredStamp> {
    let state: i64 = r.get(3)?;
    let kid: String = r.get(4)?;
    let sig: Vec<u8> = r.get(5)?;
    Ok(StoredStamp {
        serial: Serial(r.get::<i64>(0)? as u64),
        batch: BatchId(r.get(1)?),
        seq: r.get(2)?,
        state: StampState::from_code(state)
            .ok_or_else(|| bad_value("stamp state", &state.to_string()))?,
        kid: Kid::parse(&kid).ok_or_else(|| bad_value("kid", &kid))?,
        signature: sig
            .try_into()
            .map_err(|_| bad_value("signature", "(wrong length)"))?,
        issued_at: ts(r, 6)?,
        claimable: r.get::<i64>(7)? != 0,
        form: match r.get::<Option<String>>(8)? {
            None => StampForm::Tem,
            Some(gtin) => StampForm::Gs1 { gtin },
        },
    })
}

/// Serials are stored as signed 64-bit integers, bit for bit.
/// Records an issuance (its key first, if new) and numbers it after the
/// batch's last stamp: its uuid, row id and first number.
fn open_issuance(tx: &dyn Conn, new: &NewIssuance<'_>) -> StoreResult<(uuid::Uuid, i64, u32)> {
    let (batch, count) = (new.batch, new.count);
    if !batch_exists(tx, batch)? {
        return Err(not_found("batch", batch));
    }
    let kid = new.kid.to_string();
    tx.execute(INSERT_SIGNING_KEY, args![kid, &new.public_key[..]])?;
    let key_id: i64 = tx.query_row(SIGNING_KEY_ID, args![kid], |r| r.get(0))?;
    let last_seq: u32 = tx.query_row(LAST_SEQ, args![batch.0], |r| r.get(0))?;
    let first_seq = last_seq
        .checked_add(1)
        .filter(|f| f.checked_add(count - 1).is_some())
        .ok_or_else(|| StoreError::Conflict(format!("batch {batch} cannot hold more stamps")))?;
    let issuance = uuid::Uuid::now_v7();
    let claim_codes = i64::from(new.claim_codes);
    let row = args![
        issuance.to_string(),
        batch.0,
        key_id,
        first_seq,
        count,
        now(),
        claim_codes,
        new.gs1_gtin
    ];
    let issuance_id = tx.insert(INSERT_ISSUANCE, row)?;
    Ok((issuance, issuance_id, first_seq))
}

pub(super) fn serial_key(serial: Serial) -> i64 {
    serial.0 as i64
}

/// Writes stamps for one issuance, replacing any stamp whose serial
/// already exists with a fresh one under the same number.
pub(super) struct StampWriter<'t> {
    tx: &'t dyn Conn,
    batch: BatchId,
    issuance: i64,
    replaced: u32,
}

impl<'t> StampWriter<'t> {
    fn new(tx: &'t dyn Conn, batch: BatchId, issuance: i64) -> Self {
        StampWriter {
            tx,
            batch,
            issuance,
            replaced: 0,
        }
    }

    /// Inserts `chunk` as numbers `first_seq…`, appending what was stored to `done`.
    fn insert(
        &mut self,
        first_seq: u32,
        chunk: &[StampCode],
        feed: &mut dyn StampFeed,
        done: &mut Vec<(u32, StampCode)>,
    ) -> StoreResult<()> {
        let rows: Vec<StampRow<'_>> = chunk
            .iter()
            .enumerate()
            .map(|(i, code)| StampRow {
                serial: serial_key(code.serial),
                batch: self.batch.0,
                seq: first_seq + i as u32,
                issuance: self.issuance,
                signature: &code.signature[..],
            })
            .collect();
        let inserted = self.tx.insert_stamps(&rows)?;
        // Rows a conflict skipped (a serial that exists: a 2⁻⁶⁴ event per
        // stamp, or a test) are found and written one by one.
        let stored: std::collections::HashSet<u32> = if inserted == chunk.len() as u64 {
            Default::default()
        } else {
            self.tx
                .query_map(
                    SEQS_IN_RANGE,
                    args![self.batch.0, first_seq, first_seq + chunk.len() as u32 - 1],
                    |r| r.get(0),
                )?
                .into_iter()
                .collect()
        };
        for (i, code) in chunk.iter().enumerate() {
            let seq = first_seq + i as u32;
            let mut code = *code;
            if inserted != chunk.len() as u64 && !stored.contains(&seq) {
                while self.tx.insert_stamps(&[StampRow {
                    serial: serial_key(code.serial),
                    batch: self.batch.0,
                    seq,
                    issuance: self.issuance,
                    signature: &code.signature[..],
                }])? == 0
                {
                    self.replaced += 1;
                    code = feed.replacement();
                }
            }
            done.push((seq, code));
        }
        Ok(())
    }
}
