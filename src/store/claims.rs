//! Claims of stamps issued with claim codes (`codes::claim`): the first
//! right code claims a stamp; wrong codes are counted per stamp (locked at
//! `MAX_FAILURES`) and per client network and hour (`MAX_PER_NETWORK_HOUR`).
//! The store never sees a code: the service tells it whether the code typed
//! was right.

use super::backend::{Backend, now};
use super::conn::{Conn, args};
use super::journal::audit_append;
use super::rows::timestamp;
use super::stamps::serial_key;
use super::{StoreError, StoreResult};
use crate::domain::{BatchId, Serial};

/// Wrong codes a stamp takes before it is locked.
pub const MAX_FAILURES: i64 = 5;
/// Wrong codes one client network may send in an hour, over all stamps.
pub const MAX_PER_NETWORK_HOUR: i64 = 20;

const CLAIMABLE: &str =
    "SELECT i.claim_codes FROM stamps s JOIN issuances i ON i.id = s.issuance_id
     WHERE s.serial = ?1 AND s.batch_id = ?2";
const CLAIM_ROW: &str =
    "SELECT claimed_at, province, failures, locked_at FROM claims WHERE serial = ?1";
const WRONG_CODES_THIS_HOUR: &str =
    "SELECT COALESCE((SELECT n FROM claim_windows WHERE network = ?1 AND hour = ?2), 0)";
const COUNT_WRONG_CODE: &str = "INSERT INTO claim_windows (network, hour, n) VALUES (?1, ?2, 1)
     ON CONFLICT (network, hour) DO UPDATE SET n = claim_windows.n + 1";
const DELETE_OLD_WINDOWS: &str = "DELETE FROM claim_windows WHERE hour < ?1";
const INSERT_CLAIM: &str = "INSERT INTO claims (serial, batch_id, failures) VALUES (?1, ?2, 0)
     ON CONFLICT (serial) DO NOTHING";
const SET_CLAIMED: &str =
    "UPDATE claims SET claimed_at = ?2, province = ?3, device = ?4 WHERE serial = ?1";
const ADD_FAILURE: &str =
    "UPDATE claims SET failures = failures + 1, locked_at = CASE WHEN failures + 1 >= ?2 THEN ?3 ELSE locked_at END
     WHERE serial = ?1";
const CLAIMED_AT: &str = "SELECT claimed_at FROM claims WHERE serial = ?1";
const UNLOCK: &str =
    "UPDATE claims SET failures = 0, locked_at = NULL WHERE serial = ?1 AND locked_at IS NOT NULL";

/// A claim to record.
#[derive(Debug, Clone)]
pub struct ClaimAttempt {
    /// The stamp.
    pub serial: Serial,
    /// Its batch (as the scanned code says).
    pub batch: BatchId,
    /// Whether the code typed was the stamp's claim code.
    pub right: bool,
    /// The client's network, hashed (for the per-network limit).
    pub network: Option<String>,
    /// The province the buyer shared, if any.
    pub province: Option<String>,
    /// The claiming device (salted hash, as scans record it).
    pub device: String,
}

/// What a claim came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The stamp is not registered under this batch.
    NoSuchStamp,
    /// The stamp was issued without a claim code.
    NotClaimable,
    /// Claimed now.
    Claimed {
        /// When.
        at: jiff::Timestamp,
    },
    /// Claimed before (whatever code came now).
    AlreadyClaimed {
        /// When it was claimed.
        at: jiff::Timestamp,
        /// Where, if the buyer shared it.
        province: Option<String>,
    },
    /// A wrong code; this many tries are left for the stamp.
    WrongCode {
        /// Tries left before the stamp is locked.
        left: u32,
    },
    /// No more tries: the stamp (five wrong codes) or the network (too many
    /// wrong codes this hour).
    Locked,
}

/// Claims of stamps.
pub trait ClaimStore {
    /// Records a claim attempt in one transaction and says what it came to.
    fn claim(&self, attempt: &ClaimAttempt) -> StoreResult<ClaimOutcome>;
    /// When a stamp was claimed, if it was.
    fn claimed_at(&self, serial: Serial) -> StoreResult<Option<jiff::Timestamp>>;
    /// Lets a stamp locked by wrong codes take codes again; false if it was
    /// not locked.
    fn unlock_claim(&self, serial: Serial, actor: &str) -> StoreResult<bool>;
}

impl<B: Backend> ClaimStore for B {
    fn claim(&self, a: &ClaimAttempt) -> StoreResult<ClaimOutcome> {
        let serial = serial_key(a.serial);
        self.write(|tx| {
            let claimable: Option<i64> =
                tx.query_opt(CLAIMABLE, args![serial, a.batch.0], |r| r.get(0))?;
            match claimable {
                None => return Ok(ClaimOutcome::NoSuchStamp),
                Some(0) => return Ok(ClaimOutcome::NotClaimable),
                Some(_) => {}
            }
            tx.execute(INSERT_CLAIM, args![serial, a.batch.0])?;
            let (claimed_at, province, failures, locked_at) = claim_row(tx, serial)?;
            if let Some(at) = claimed_at {
                return Ok(ClaimOutcome::AlreadyClaimed { at, province });
            }
            if locked_at.is_some() {
                return Ok(ClaimOutcome::Locked);
            }
            let hour = jiff::Timestamp::now().as_second() / 3600;
            if let Some(network) = &a.network {
                let n: i64 =
                    tx.query_row(WRONG_CODES_THIS_HOUR, args![network, hour], |r| r.get(0))?;
                if n >= MAX_PER_NETWORK_HOUR {
                    return Ok(ClaimOutcome::Locked);
                }
            }
            let at = jiff::Timestamp::now();
            if a.right {
                tx.execute(
                    SET_CLAIMED,
                    args![serial, at.to_string(), a.province, a.device],
                )?;
                audit_append(
                    tx,
                    "buyer",
                    "stamp.claim",
                    &format!("batch:{}", a.batch.0),
                    None,
                    Some(serde_json::json!({
                        "serial": a.serial.to_string(),
                        "province": a.province,
                    })),
                )?;
                return Ok(ClaimOutcome::Claimed { at });
            }
            tx.execute(ADD_FAILURE, args![serial, MAX_FAILURES, now()])?;
            if let Some(network) = &a.network {
                tx.execute(COUNT_WRONG_CODE, args![network, hour])?;
                tx.execute(DELETE_OLD_WINDOWS, args![hour - 24])?;
            }
            let left = (MAX_FAILURES - failures - 1).max(0) as u32;
            Ok(if left == 0 {
                ClaimOutcome::Locked
            } else {
                ClaimOutcome::WrongCode { left }
            })
        })
    }

    fn claimed_at(&self, serial: Serial) -> StoreResult<Option<jiff::Timestamp>> {
        self.read(|c| {
            let at: Option<Option<String>> =
                c.query_opt(CLAIMED_AT, args![serial_key(serial)], |r| r.get(0))?;
            at.flatten().map(|t| timestamp(&t)).transpose()
        })
    }

    fn unlock_claim(&self, serial: Serial, actor: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let unlocked = tx.execute(UNLOCK, args![serial_key(serial)])? > 0;
            if unlocked {
                audit_append(
                    tx,
                    actor,
                    "stamp.unlock_claim",
                    &format!("stamp:{serial}"),
                    None,
                    None,
                )?;
            }
            Ok(unlocked)
        })
    }
}

/// A stamp's claim row: when and where it was claimed, wrong codes so far,
/// and when it was locked.
type ClaimRow<T> = (Option<T>, Option<String>, i64, Option<String>);

fn claim_row(tx: &dyn Conn, serial: i64) -> StoreResult<ClaimRow<jiff::Timestamp>> {
    let row: Option<ClaimRow<String>> = tx.query_opt(CLAIM_ROW, args![serial], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    let (claimed_at, province, failures, locked_at) =
        row.ok_or_else(|| StoreError::database("the claim row was not written"))?;
    let claimed_at = claimed_at.map(|t| timestamp(&t)).transpose()?;
    Ok((claimed_at, province, failures, locked_at))
}
