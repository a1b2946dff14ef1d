//! Scans: recording them as they come (judged against the registry and the
//! repeat-scan rules) and adding them up per batch.

use super::backend::Backend;
use super::conn::{Conn, Dialect, args};
use super::lifecycle::RecallNotice;
use super::lookups::batch_exists;
use super::rows::{bad_value, not_found, timestamp, ts};
use super::scan_alerts::{ClaimFlags, claimed_at_is, claimed_rescan, sold_many_devices};
use super::stamps::serial_key;
use super::{StoreError, StoreResult};
use crate::codes::{CodeCheck, CodeVerdict, StampCode};
use crate::domain::scan::{self as scan_rules, RecentScan, Registered, RepeatRules};
use crate::domain::{BatchId, Serial, StampState};

// The SQL of this file, named, so that rustfmt formats the code around it.
const SCAN_LOCATIONS: &str =
    "SELECT lat, lon FROM scans WHERE batch_id = ?1 AND lat IS NOT NULL AND lon IS NOT NULL";
const SCAN_SERIAL: &str = "SELECT serial FROM scans WHERE id = ?1";
const SET_SCAN_LOCATION: &str = "UPDATE scans SET lat = ?2, lon = ?3 WHERE id = ?1";
const RECENT_SCANS_BY_SERIAL: &str =
    "SELECT batch_id, seq, recent_scans FROM stamps WHERE serial = ?1";
const SET_RECENT_SCANS: &str =
    "UPDATE stamps SET recent_scans = ?3 WHERE batch_id = ?1 AND seq = ?2";
const STAMPS_SCANNED: &str = "SELECT COUNT(*) FROM stamps WHERE batch_id = ?1 AND scan_count > 0";
const SCANNED_STAMPS: &str = "SELECT seq, serial, scan_count, recent_scans FROM stamps
     WHERE batch_id = ?1 AND scan_count > 1 ORDER BY seq";
const CONSUMER_REPORT_COUNT: &str = "SELECT COUNT(*) FROM consumer_reports WHERE batch_id = ?1";
const BATCH_SCANS: &str = "SELECT at, verdict, serial, network, device, agent, lat IS NOT NULL FROM scans WHERE batch_id = ?1 ORDER BY at";

/// One scan to record.
#[derive(Debug, Clone)]
pub struct NewScan {
    /// The scanned code and what its signature proved (checked against the
    /// key set before recording), or why it is not a stamp code.
    pub check: crate::codes::CodeCheck,
    /// When it was scanned.
    pub at: jiff::Timestamp,
    /// Salted hash of the client's network (IPv4 /24, IPv6 /48).
    pub network: Option<String>,
    /// Salted hash standing for the device (network and full user agent).
    pub device: String,
    /// User-agent family, e.g. "Zalo/Android".
    pub agent: String,
    /// The GTIN a URL in GS1 form named (14 digits); it must be the one
    /// the stamp was issued with, or the registry does not vouch for it.
    pub gtin: Option<String>,
}

/// What recording a scan found and decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    /// The scan's row id (for sharing a location later).
    pub scan_id: i64,
    /// The verdict.
    pub verdict: crate::domain::scan::Verdict,
    /// Repeat-scan warnings (only for stamps the registry knows).
    pub repeat: Vec<crate::domain::scan::RepeatReason>,
    /// The stamp, when the code is a registered one.
    pub stamp: Option<ScannedStamp>,
}

/// A registered stamp as seen by a scan, this scan included.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedStamp {
    /// Its serial.
    pub serial: Serial,
    /// Its batch.
    pub batch: BatchId,
    /// Its number in the batch.
    pub seq: u32,
    /// Its state.
    pub state: StampState,
    /// Scans so far, this one included.
    pub scan_count: u64,
    /// Its first scan.
    pub first_scan_at: Option<jiff::Timestamp>,
    /// The recall in force on it, if any.
    pub recall: Option<RecallNotice>,
    /// When a buyer claimed it with its claim code, if one did.
    pub claimed_at: Option<jiff::Timestamp>,
    /// The province the buyer shared when claiming it, if any.
    pub claimed_in: Option<String>,
    /// This scan comes from the device that claimed it.
    pub claimed_here: bool,
    /// When a shop sold it at the till, and which shop.
    pub sold: Option<(jiff::Timestamp, String)>,
    /// Whether it was issued with a claim code (the page offers to claim it).
    pub claimable: bool,
}

/// One recorded scan, as a report shows it (the network only as its salted hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ScanRecord {
    /// The stamp's serial.
    pub serial: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    /// The verdict the scan got.
    pub verdict: crate::domain::scan::Verdict,
    /// A hash of the network it came from.
    pub network: Option<String>,
    /// A hash of the device.
    pub device: Option<String>,
    /// The browser or app family.
    pub agent: Option<String>,
    /// Whether a location was shared.
    pub shared_location: bool,
}

/// What the scans of one batch add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BatchScanStats {
    /// Scans of this batch's stamps (every verdict).
    pub scans: u64,
    /// Stamps scanned at least once.
    pub stamps_scanned: u64,
    /// The first scan of the batch.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_scan_at: Option<jiff::Timestamp>,
    /// The last scan of the batch.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_scan_at: Option<jiff::Timestamp>,
    /// Scans per day (Vietnam time), oldest first: ("2026-11-27", n).
    pub per_day: Vec<(String, u64)>,
    /// Scans by verdict, e.g. ("genuine", 120), ("recalled", 3).
    pub by_verdict: Vec<(String, u64)>,
    /// Stamps whose recent scans break the repeat-scan rules, with the scan count.
    pub suspicious: Vec<SuspiciousStamp>,
    /// Consumer reports about this batch.
    pub reports: u64,
    /// Every scan of the suspicious stamps, when asked for (the report shows
    /// it per stamp).
    #[serde(skip)]
    pub history: Vec<ScanRecord>,
}

/// A stamp that looks copied, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SuspiciousStamp {
    /// Its number in the batch.
    pub seq: u32,
    /// Its serial.
    pub serial: String,
    /// Its scans.
    pub scan_count: u64,
    /// The rules its scans broke.
    pub reasons: Vec<crate::domain::scan::RepeatReason>,
}

/// Scans as recorded, and what they add up to.
pub trait ScanStore {
    /// Records scans in one transaction: for each, looks the stamp up,
    /// compares it with the scanned code, judges the scan
    /// (`domain::scan::judge`: the signature verdict the caller checked, and
    /// the registry only when it holds exactly this code: same serial,
    /// batch, key and signature bytes, compared in constant time), stores
    /// the scan, updates the stamp's scan count and recent scans, and applies
    /// the repeat-scan rules. A code whose signature holds but which differs
    /// from its stamp's row raises a `registry-mismatch` alert. Counting is
    /// exact under concurrency: SQLite has one writer, and on PostgreSQL
    /// each stamp's row is locked while it is counted (whichever node).
    fn record_scans(
        &self,
        scans: &[NewScan],
        rules: &crate::domain::scan::RepeatRules,
        today: jiff::civil::Date,
    ) -> StoreResult<Vec<ScanOutcome>>;
    /// The locations people chose to share with scans of a batch.
    fn scan_locations(&self, batch: BatchId) -> StoreResult<Vec<(f64, f64)>>;
    /// Adds a location the person chose to share to a recorded scan.
    fn set_scan_location(&self, scan_id: i64, lat: f64, lon: f64) -> StoreResult<bool>;
    /// Scan figures for a batch's report and statistics.
    /// `rules` judge which stamps look copied, as of each stamp's last scan.
    /// `with_history` also collects every scan of the suspicious stamps
    /// (`history`), in the same pass over the scans.
    fn batch_scan_stats(
        &self,
        batch: BatchId,
        rules: &crate::domain::scan::RepeatRules,
        with_history: bool,
    ) -> StoreResult<BatchScanStats>;
}

impl<B: Backend> ScanStore for B {
    fn record_scans(
        &self,
        scans: &[NewScan],
        rules: &RepeatRules,
        today: jiff::civil::Date,
    ) -> StoreResult<Vec<ScanOutcome>> {
        let lock = if Self::DIALECT == Dialect::Postgres {
            " FOR UPDATE OF s"
        } else {
            ""
        };
        let lookup = format!("{SCAN_LOOKUP}{lock}");
        // Stamps are locked in serial order, so two groups never wait for
        // each other in a circle.
        let mut order: Vec<usize> = (0..scans.len()).collect();
        order.sort_by_key(|&i| scans[i].check.code.map(|c| c.serial.0));
        self.scan_write(|tx| {
            let mut out: Vec<Option<ScanOutcome>> = vec![None; scans.len()];
            for &index in &order {
                out[index] = Some(record_one(tx, &lookup, &scans[index], rules, today)?);
            }
            Ok(out.into_iter().flatten().collect())
        })
    }

    fn scan_locations(&self, batch: BatchId) -> StoreResult<Vec<(f64, f64)>> {
        self.read(|c| {
            c.query_map(SCAN_LOCATIONS, args![batch.0], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
    }

    fn set_scan_location(&self, scan_id: i64, lat: f64, lon: f64) -> StoreResult<bool> {
        self.write(|tx| {
            let serial: Option<Option<i64>> =
                tx.query_opt(SCAN_SERIAL, args![scan_id], |r| r.get(0))?;
            let Some(serial) = serial else {
                return Ok(false);
            };
            tx.execute(SET_SCAN_LOCATION, args![scan_id, lat, lon])?;
            if let Some(serial) = serial {
                let row: Option<(u32, u32, Option<String>)> =
                    tx.query_opt(RECENT_SCANS_BY_SERIAL, args![serial], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?;
                if let Some((batch, seq, Some(recent))) = row {
                    let mut recent: Vec<RecentScan> = serde_json::from_str(&recent)
                        .map_err(|e| StoreError::database(e.to_string()))?;
                    if let Some(r) = recent.iter_mut().find(|r| r.id == scan_id) {
                        r.lat = Some(lat);
                        r.lon = Some(lon);
                        let json = serde_json::to_string(&recent)
                            .map_err(|e| StoreError::database(e.to_string()))?;
                        tx.execute(SET_RECENT_SCANS, args![batch, seq, json])?;
                    }
                }
            }
            Ok(true)
        })
    }

    fn batch_scan_stats(
        &self,
        batch: BatchId,
        rules: &RepeatRules,
        with_history: bool,
    ) -> StoreResult<BatchScanStats> {
        self.read(|c| {
            if !batch_exists(c, batch)? {
                return Err(not_found("batch", batch));
            }
            let mut out = BatchScanStats {
                stamps_scanned: c.query_row(STAMPS_SCANNED, args![batch.0], |r| r.get::<i64>(0))?
                    as u64,
                ..BatchScanStats::default()
            };
            // A stamp scanned once cannot break any repeat rule.
            c.each(SCANNED_STAMPS, args![batch.0], &mut |r| {
                let recent: Option<String> = r.get(3)?;
                let recent: Vec<RecentScan> = recent
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| StoreError::database(format!("stored recent scans: {e}")))?
                    .unwrap_or_default();
                let Some(last) = recent.iter().map(|s| s.at).max() else {
                    return Ok(());
                };
                let reasons = scan_rules::repeat_reasons(&recent, last, rules);
                if !reasons.is_empty() {
                    out.suspicious.push(SuspiciousStamp {
                        seq: r.get(0)?,
                        serial: Serial(r.get::<i64>(1)? as u64).to_string(),
                        scan_count: r.get::<i64>(2)? as u64,
                        reasons,
                    });
                }
                Ok(())
            })?;
            scan_pass(c, batch, &mut out, with_history)?;
            out.reports =
                c.query_row(CONSUMER_REPORT_COUNT, args![batch.0], |r| r.get::<i64>(0))? as u64;
            Ok(out)
        })
    }
}

/// The date in Vietnam (UTC+7, no daylight saving) of a stored UTC time
/// "YYYY-MM-DDTHH:…Z", from its date and hour alone.
pub(super) fn vietnam_day(at: &str) -> Option<jiff::civil::Date> {
    let date: jiff::civil::Date = at.get(..10)?.parse().ok()?;
    let hour: u8 = at.get(11..13)?.parse().ok()?;
    if hour >= 17 {
        date.tomorrow().ok()
    } else {
        Some(date)
    }
}

/// One pass over a batch's scans in time order (the index on batch, time):
/// the total, first and last scan, scans per Vietnamese day and per verdict,
/// and — when asked — every scan of the suspicious stamps already in `out`.
/// Three GROUP BY queries and a history query each read the million rows of
/// a big batch; this reads them once.
pub(super) fn scan_pass(
    c: &dyn Conn,
    batch: BatchId,
    out: &mut BatchScanStats,
    with_history: bool,
) -> StoreResult<()> {
    let wanted: std::collections::HashSet<i64> = if with_history {
        out.suspicious
            .iter()
            .filter_map(|s| u64::from_str_radix(&s.serial, 16).ok())
            .map(|s| s as i64)
            .collect()
    } else {
        Default::default()
    };
    let mut per_day: Vec<(String, u64)> = Vec::new();
    let mut by_verdict: std::collections::BTreeMap<String, u64> = Default::default();
    // The UTC date and hour decide the date in Vietnam (UTC+7); scans come
    // in time order, so the last answer is almost always the next one.
    let mut last_key = String::new();
    let mut last_day = String::new();
    let (mut first, mut last) = (None::<String>, String::new());
    let mut scans = 0u64;
    let mut history = Vec::new();
    c.each(BATCH_SCANS, args![batch.0], &mut |r| {
        let at = r.str(0)?;
        scans += 1;
        if first.is_none() {
            first = Some(at.to_string());
        }
        let key = at.get(..13).unwrap_or(at);
        if key != last_key {
            last_key = key.to_string();
            last_day = vietnam_day(at)
                .ok_or_else(|| bad_value("time", at))?
                .to_string();
        }
        match per_day.last_mut() {
            Some((d, n)) if *d == last_day => *n += 1,
            _ => per_day.push((last_day.clone(), 1)),
        }
        let verdict = r.str(1)?;
        match by_verdict.get_mut(verdict) {
            Some(n) => *n += 1,
            None => {
                by_verdict.insert(verdict.to_string(), 1);
            }
        }
        if with_history
            && let Some(serial) = r.get::<Option<i64>>(2)?
            && wanted.contains(&serial)
        {
            history.push(ScanRecord {
                serial: Serial(serial as u64).to_string(),
                at: timestamp(at)?,
                verdict: scan_rules::Verdict::parse(verdict)
                    .ok_or_else(|| bad_value("scan verdict", verdict))?,
                network: r.get(3)?,
                device: r.get(4)?,
                agent: r.get(5)?,
                shared_location: r.get(6)?,
            });
        }
        last.clear();
        last.push_str(at);
        Ok(())
    })?;
    out.scans += scans;
    out.history.append(&mut history);
    out.first_scan_at = first.as_deref().map(timestamp).transpose()?;
    out.last_scan_at = first.is_some().then(|| timestamp(&last)).transpose()?;
    out.per_day = per_day;
    out.by_verdict = by_verdict.into_iter().collect();
    Ok(())
}

/// The stamp row a scan needs: batch, seq, state, scan count, first scan,
/// recent scans, the batch's expiry.
type Found = (
    u32,
    u32,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A stamp as the scan lookup finds it: its row, signature, key and
/// issuance time, and the recall in force.
struct Looked {
    found: Found,
    signature: Vec<u8>,
    kid: String,
    issued_at: String,
    recall: Option<RecallNotice>,
    claimed_at: Option<String>,
    claimable: i64,
    claim_device: Option<String>,
    claim_province: Option<String>,
    sold_at: Option<String>,
    sold_shop: Option<String>,
    /// The GTIN its issuance printed in GS1 form, if it did.
    gs1_gtin: Option<String>,
}

/// What the registry says about a scanned code.
#[derive(Default)]
struct Matched {
    /// The stamp's row, when the registry holds exactly this code.
    found: Option<Found>,
    recall: Option<RecallNotice>,
    issued_at: Option<jiff::Timestamp>,
    /// When a buyer claimed it (claim codes), if one did.
    claimed_at: Option<jiff::Timestamp>,
    /// Whether it was issued with a claim code.
    claimable: bool,
    /// The device that claimed it.
    claim_device: Option<String>,
    /// The province its buyer shared.
    claim_province: Option<String>,
    /// When and by which shop it was sold.
    sold: Option<(jiff::Timestamp, String)>,
    /// (batch, seq) of a row the code's serial names but whose bytes differ
    /// although the signature holds.
    mismatch: Option<(u32, u32)>,
}

/// The stamp, its batch's expiry, its signature, key and issuance time, and
/// the newest recall in force over it, in one query; `{lock}` is
/// `FOR UPDATE OF s` on PostgreSQL, so scans of one stamp through several
/// nodes count one after the other.
const SCAN_LOOKUP: &str = "SELECT s.batch_id, s.seq, s.state, s.scan_count, s.first_scan_at, s.recent_scans, b.expiry_date,
        s.signature, k.kid, i.created_at, r.reason, r.notice, r.created_at, c.claimed_at, i.claim_codes, c.device, c.province, sa.sold_at, sa.shop, i.gs1_gtin
 FROM stamps s JOIN batches b ON b.id = s.batch_id
      LEFT JOIN claims c ON c.serial = s.serial LEFT JOIN sales sa ON sa.serial = s.serial
      JOIN issuances i ON i.id = s.issuance_id JOIN signing_keys k ON k.id = i.key_id
      LEFT JOIN recalls r ON r.id = (
          SELECT id FROM recalls
          WHERE batch_id = s.batch_id AND lifted_at IS NULL
            AND (first_seq IS NULL OR s.seq BETWEEN first_seq AND last_seq)
          ORDER BY id DESC LIMIT 1)
 WHERE s.serial = ?1";

const INSERT_SCAN: &str =
    "INSERT INTO scans (serial, batch_id, at, verdict, network, device, agent)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// An alert for the triage queue about one stamp (`reason`: the rules
/// broken, or `registry-mismatch`).
const INSERT_SCAN_ALERT: &str = "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, place, reason, detail)
 VALUES (?1, 'alert', ?2, ?3, ?3, 1, 'scan', ?4, ?5, ?6)";

const COUNT_SCAN: &str = "UPDATE stamps SET scan_count = ?3, first_scan_at = COALESCE(first_scan_at, ?4), recent_scans = ?5
 WHERE batch_id = ?1 AND seq = ?2";

/// Looks a parsed code's stamp up. The lookup happens for every parsed
/// code, whatever its signature, so timing does not tell whether a serial
/// exists.
fn look_up(tx: &dyn Conn, sql: &str, code: Option<&StampCode>) -> StoreResult<Option<Looked>> {
    let Some(code) = code else { return Ok(None) };
    tx.query_opt(sql, args![serial_key(code.serial)], |r| {
        let recall = match r.get::<Option<String>>(10)? {
            Some(reason) => Some(RecallNotice {
                reason,
                notice: r.get(11)?,
                since: ts(r, 12)?,
            }),
            None => None,
        };
        Ok(Looked {
            found: (
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ),
            signature: r.get(7)?,
            kid: r.get(8)?,
            issued_at: r.get(9)?,
            recall,
            claimed_at: r.get(13)?,
            claimable: r.get(14)?,
            claim_device: r.get(15)?,
            claim_province: r.get(16)?,
            sold_at: r.get(17)?,
            sold_shop: r.get(18)?,
            gs1_gtin: r.get(19)?,
        })
    })
}

/// The registry vouches only for exactly the code it issued: same serial,
/// batch, key and signature bytes (compared in constant time). A code whose
/// signature holds but which differs from the row (another batch, key or
/// signature) was signed outside issuance, or the row was altered: it is
/// not registered, and inspectors get an alert.
///
/// A URL in GS1 form also names a GTIN, which the signature does not
/// cover: it must be the GTIN the stamp was issued with.
fn match_registry(
    check: &CodeCheck,
    gtin: Option<&str>,
    looked: Option<Looked>,
) -> StoreResult<Matched> {
    use subtle::ConstantTimeEq;
    let signature_ok = matches!(
        check.verdict,
        CodeVerdict::Genuine | CodeVerdict::RevokedKey
    );
    let (Some(code), Some(l)) = (check.code, looked) else {
        return Ok(Matched::default());
    };
    let same = signature_ok
        && l.found.0 == code.batch.0
        && check.kid.is_some_and(|k| k.to_string() == l.kid)
        && bool::from(l.signature.as_slice().ct_eq(&code.signature[..]))
        && gtin.is_none_or(|g| l.gs1_gtin.as_deref() == Some(g));
    Ok(if same {
        Matched {
            issued_at: Some(timestamp(&l.issued_at)?),
            found: Some(l.found),
            recall: l.recall,
            claimed_at: l.claimed_at.map(|c| timestamp(&c)).transpose()?,
            claimable: l.claimable != 0,
            claim_device: l.claim_device,
            claim_province: l.claim_province,
            sold: match (l.sold_at, l.sold_shop) {
                (Some(at), Some(shop)) => Some((timestamp(&at)?, shop)),
                _ => None,
            },
            mismatch: None,
        }
    } else {
        Matched {
            mismatch: signature_ok.then_some((l.found.0, l.found.1)),
            ..Matched::default()
        }
    })
}

/// What the judge needs to know of a registered stamp.
fn registered(m: &Matched) -> StoreResult<Option<Registered>> {
    let (Some((_, _, state, _, _, _, expiry)), Some(issued_at)) = (&m.found, m.issued_at) else {
        return Ok(None);
    };
    Ok(Some(Registered {
        state: stamp_state(*state)?,
        recalled: m.recall.is_some(),
        expiry: expiry
            .as_deref()
            .map(|e| e.parse().map_err(|_| bad_value("date", e)))
            .transpose()?,
        issued_at,
        claimed: m.claimed_at.is_some(),
        sold: m.sold.is_some(),
    }))
}

fn stamp_state(code: i64) -> StoreResult<StampState> {
    StampState::from_code(code).ok_or_else(|| bad_value("stamp state", &code.to_string()))
}

/// Judges and stores one scan; for a registered stamp, counts it and
/// applies the repeat-scan rules.
fn record_one(
    tx: &dyn Conn,
    lookup: &str,
    scan: &NewScan,
    rules: &RepeatRules,
    today: jiff::civil::Date,
) -> StoreResult<ScanOutcome> {
    let check = &scan.check;
    let looked = look_up(tx, lookup, check.code.as_ref())?;
    let mut matched = match_registry(check, scan.gtin.as_deref(), looked)?;
    let verdict = scan_rules::judge(check.signature(), registered(&matched)?.as_ref(), today);
    if verdict == scan_rules::Verdict::RevokedKey {
        // Signed by the revoked key after it stopped signing: not an
        // issuance tem made; the row says nothing for it.
        (matched.found, matched.recall) = (None, None);
    }
    let code = check.code.map(|c| (c.serial, c.batch));
    let scan_id = tx.insert(
        INSERT_SCAN,
        args![
            code.map(|(s, _)| serial_key(s)),
            code.map(|(_, b)| b.0),
            scan.at.to_string(),
            verdict.as_str(),
            scan.network,
            scan.device,
            scan.agent
        ],
    )?;
    if let (Some((batch, seq)), Some((serial, _))) = (matched.mismatch, code) {
        let detail = serde_json::json!({ "serial": serial.to_string(), "scan_id": scan_id });
        let alert = (batch, seq, "registry-mismatch".to_string(), detail);
        insert_alert(tx, scan, alert)?;
    }
    let (mut repeat, mut stamp) = (Vec::new(), None);
    if let (Some(found), Some((serial, _))) = (matched.found, code) {
        let flags = ClaimFlags {
            recall: matched.recall,
            claimed_at: matched.claimed_at,
            claimable: matched.claimable,
            claim_device: matched.claim_device,
            claim_province: matched.claim_province,
            sold: matched.sold,
        };
        let counted = count_scan(tx, scan, scan_id, serial, found, flags, rules)?;
        (repeat, stamp) = (counted.0, Some(counted.1));
    }
    Ok(ScanOutcome {
        scan_id,
        verdict,
        repeat,
        stamp,
    })
}

/// Appends a scan alert: (batch, seq, reason, detail).
fn insert_alert(
    tx: &dyn Conn,
    scan: &NewScan,
    (batch, seq, reason, detail): (u32, u32, String, serde_json::Value),
) -> StoreResult<()> {
    tx.execute(
        INSERT_SCAN_ALERT,
        args![
            scan.at.to_string(),
            batch,
            seq,
            scan.network,
            reason,
            detail.to_string()
        ],
    )?;
    Ok(())
}

/// Counts a scan of a registered stamp: its recent scans, the repeat-scan
/// rules they break now (the scan that first breaks one raises an alert;
/// the scans after it only repeat the warning), and the stamp as scanned.
fn count_scan(
    tx: &dyn Conn,
    scan: &NewScan,
    scan_id: i64,
    serial: Serial,
    (batch, seq, state, count, first, recent, _): Found,
    flags: ClaimFlags,
    rules: &RepeatRules,
) -> StoreResult<(Vec<scan_rules::RepeatReason>, ScannedStamp)> {
    let mut recent: Vec<RecentScan> = recent
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::database(format!("stored recent scans: {e}")))?
        .unwrap_or_default();
    let now = scan.at.as_second();
    recent.push(RecentScan {
        id: scan_id,
        at: now,
        device: scan.device.clone(),
        lat: None,
        lon: None,
    });
    if recent.len() > scan_rules::RECENT_KEPT {
        recent.drain(..recent.len() - scan_rules::RECENT_KEPT);
    }
    let repeat = scan_rules::repeat_reasons(&recent, now, rules);
    if !repeat.is_empty()
        && scan_rules::repeat_reasons(&recent[..recent.len() - 1], now, rules).is_empty()
    {
        let reasons: Vec<&str> = repeat.iter().map(|r| r.as_str()).collect();
        let detail = serde_json::json!({
            "serial": serial.to_string(), "scan_id": scan_id, "scan_count": count + 1,
        });
        insert_alert(tx, scan, (batch, seq, reasons.join(", "), detail))?;
    }
    if claimed_rescan(&flags, &scan.device, &recent) {
        let detail = serde_json::json!({
            "serial": serial.to_string(), "scan_id": scan_id,
            "claimed_at": flags.claimed_at.map(|t| t.to_string()),
        });
        insert_alert(tx, scan, (batch, seq, "claimed-rescan".into(), detail))?;
    }
    if let Some((sold_at, _)) = &flags.sold
        && sold_many_devices(*sold_at, &recent, rules)
    {
        let detail = serde_json::json!({
            "serial": serial.to_string(), "scan_id": scan_id, "sold_at": sold_at.to_string(),
        });
        insert_alert(tx, scan, (batch, seq, "sold-many-devices".into(), detail))?;
    }
    let claimed_here = claimed_at_is(&flags, &scan.device);
    let ClaimFlags {
        recall,
        claimed_at,
        claimable,
        claim_province,
        sold,
        ..
    } = flags;
    let count = count + 1;
    let recent_json =
        serde_json::to_string(&recent).map_err(|e| StoreError::caused("recent scans", e))?;
    tx.execute(
        COUNT_SCAN,
        args![batch, seq, count, scan.at.to_string(), recent_json],
    )?;
    let first = match first {
        Some(f) => timestamp(&f)?,
        None => scan.at,
    };
    let stamp = ScannedStamp {
        serial,
        batch: BatchId(batch),
        seq,
        state: stamp_state(state)?,
        scan_count: count as u64,
        first_scan_at: Some(first),
        recall,
        claimed_at,
        claimed_in: claim_province,
        claimed_here,
        sold,
        claimable,
    };
    Ok((repeat, stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_days_start_at_17_utc() {
        for (utc, day) in [
            ("2026-11-27T16:59:59.9Z", "2026-11-27"),
            ("2026-11-27T17:00:00Z", "2026-11-28"),
            ("2026-12-31T23:10:00Z", "2027-01-01"),
            ("2024-02-28T18:00:00Z", "2024-02-29"),
        ] {
            assert_eq!(vietnam_day(utc).unwrap().to_string(), day, "{utc}");
            // The same as converting the whole timestamp.
            let t: jiff::Timestamp = utc.parse().unwrap();
            assert_eq!(
                t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
                    .date()
                    .to_string(),
                day
            );
        }
        assert!(vietnam_day("garbage").is_none());
    }
}
