//! The store's queries, written once for both databases (`conn::Conn`).
//! `Backend` is what a database adds: connections, transactions and their
//! locking. Every method of `Store` is one transaction on it.

use super::conn::{Conn, Dialect, Row, StampRow, args};
use super::{
    BatchScanStats, BatchSummary, ConsumerReport, IssueReceipt, NewInspection, NewPrintJob,
    NewRecall, NewReport, NewScan, NewToken, PrintJob, PrintedStamps, RecallNotice, RecallRecord,
    Resolution, ScanOutcome, ScanRecord, ScannedStamp, SessionRecord, StampFeed, Store, StoreError,
    StoreResult, StoredStamp, SuspiciousStamp, TokenInfo, TriageItem,
};
use crate::audit::merkle;
use crate::codes::{Kid, StampCode};
use crate::domain::scan::{self as scan_rules, RecentScan, Registered, RepeatRules};
use crate::domain::{
    Batch, BatchId, Certification, Gtin, NewBatch, NewProducer, NewProduct, NewStage, OcopGroup,
    OcopRating, Producer, ProducerId, ProducerKind, Product, ProductId, Serial, Stage, StageTime,
    StampCounts, StampState,
};

/// A database tem can keep its registry in.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Whether several nodes may use the database at once.
    const SHARED: bool;
    /// For the few queries whose SQL differs.
    const DIALECT: Dialect;
    /// Runs `f` on a consistent view of the database.
    fn read<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T>;
    /// Runs `f` in a write transaction: committed if it returns Ok, rolled
    /// back otherwise. Writers are serialised, as SQLite does by nature:
    /// the audit log's sequence numbers and tree need one writer at a time.
    fn write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T>;
    /// A write transaction recording scans. It never appends to the audit
    /// log and reaches stamps in serial order, so a database may run such
    /// transactions beside each other (PostgreSQL does, locking the stamps).
    fn scan_write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        self.write(f)
    }
    /// A short transaction that need not queue behind other writers
    /// (a counter kept with an atomic upsert).
    fn counter_write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        self.write(f)
    }
    /// A write transaction issuing `count` stamps.
    fn issue_write<T>(
        &self,
        count: u32,
        f: impl FnOnce(&dyn Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let _ = count;
        self.write(f)
    }
}

pub(super) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// How many of stamps `first..=last` of a batch are in each state
/// (indexed by `StampState::code`).
fn range_states(tx: &dyn Conn, batch: BatchId, first: u32, last: u32) -> StoreResult<[u64; 4]> {
    let mut by_state = [0u64; 4];
    tx.each(
        "SELECT state, COUNT(*) FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 GROUP BY state",
        args![batch.0, first, last],
        &mut |row| {
            let state: i64 = row.get(0)?;
            by_state[state.clamp(0, 3) as usize] = row.get::<i64>(1)? as u64;
            Ok(())
        },
    )?;
    Ok(by_state)
}

/// A product's images and certifications, in order.
fn insert_product_parts(tx: &dyn Conn, id: ProductId, p: &NewProduct) -> StoreResult<()> {
    for (i, img) in p.images.iter().enumerate() {
        tx.execute(
            "INSERT INTO product_images (product_id, position, ref) VALUES (?1, ?2, ?3)",
            args![id.0, i as i64, img],
        )?;
    }
    for (i, c) in p.certifications.iter().enumerate() {
        tx.execute(
            "INSERT INTO certifications (product_id, position, name, issuer, number, valid_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            args![id.0, i as i64, c.name, c.issuer, c.number, c.valid_until.map(|d| d.to_string())],
        )?;
    }
    Ok(())
}

/// An audit entry from columns seq, at, actor, action, object, before, after.
pub(super) fn audit_entry(r: &Row) -> StoreResult<crate::audit::Entry> {
    let json = |i: usize| -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = r.get(i)?;
        text.map(|t| serde_json::from_str(&t).map_err(|_| bad_value("audit JSON", &t)))
            .transpose()
    };
    Ok(crate::audit::Entry {
        seq: r.get::<i64>(0)? as u64,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        object: r.get(4)?,
        before: json(5)?,
        after: json(6)?,
    })
}

/// Appends an audit entry inside the caller's transaction.
fn audit_append(
    tx: &dyn Conn,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> StoreResult<()> {
    if cfg!(feature = "bench-without-audit") {
        return Ok(());
    }
    let seq: i64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log",
        args![],
        |r| r.get(0),
    )?;
    let entry = crate::audit::Entry {
        seq: seq as u64,
        at: now(),
        actor: actor.to_string(),
        action: action.to_string(),
        object: object.to_string(),
        before,
        after,
    };
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, object, before, after, leaf) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.object,
            entry.before.as_ref().map(|v| v.to_string()),
            entry.after.as_ref().map(|v| v.to_string()),
            &entry.leaf()[..]
        ],
    )?;
    store_completed_nodes(tx, seq as u64 - 1, entry.leaf())
}

/// After leaf `index` is appended: stores every perfect subtree it
/// completes (docs/audit-log.md, V9).
fn store_completed_nodes(tx: &dyn Conn, index: u64, leaf: merkle::Hash) -> StoreResult<()> {
    let (mut level, mut idx, mut h) = (0u32, index, leaf);
    while idx % 2 == 1 {
        let sibling = perfect_on(tx, level, idx - 1)?;
        h = merkle::node_hash(&sibling, &h);
        level += 1;
        idx /= 2;
        tx.execute(
            "INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
            args![level, idx as i64, &h[..]],
        )?;
    }
    Ok(())
}

/// A stored perfect subtree: level 0 is an entry's leaf hash.
fn perfect_on(c: &dyn Conn, level: u32, idx: u64) -> StoreResult<merkle::Hash> {
    let blob: Option<Vec<u8>> = if level == 0 {
        c.query_opt(
            "SELECT leaf FROM audit_log WHERE seq = ?1",
            args![idx as i64 + 1],
            |r| r.get(0),
        )?
    } else {
        c.query_opt(
            "SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2",
            args![level, idx as i64],
            |r| r.get(0),
        )?
    };
    blob.and_then(|b| merkle::Hash::try_from(b.as_slice()).ok())
        .ok_or_else(|| StoreError::Database(format!("audit tree node {level}/{idx} is missing")))
}

/// Whether the audit log has entries but no stored subtrees (a database
/// from before V9). Two index probes, not counts: this runs at every open.
pub(super) fn audit_nodes_missing(c: &dyn Conn) -> StoreResult<bool> {
    let (two_entries, any_node): (bool, bool) = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq = 2), EXISTS (SELECT 1 FROM audit_nodes)",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // Only a log that never had them: stored nodes that disagree with the
    // entries are left for `tem audit verify` (which recomputes from the
    // entries) and for proof checkers to notice, not repaired quietly.
    Ok(two_entries && !any_node)
}

/// Writes the stored subtrees of an audit log that has entries without
/// them; a no-op when they are complete.
pub(super) fn backfill_audit_nodes(tx: &dyn Conn) -> StoreResult<()> {
    if !audit_nodes_missing(tx)? {
        return Ok(());
    }
    tx.execute("DELETE FROM audit_nodes", args![])?;
    let leaves: Vec<Vec<u8>> =
        tx.query_map("SELECT leaf FROM audit_log ORDER BY seq", args![], |r| {
            r.get(0)
        })?;
    for (i, leaf) in leaves.iter().enumerate() {
        let leaf = merkle::Hash::try_from(leaf.as_slice())
            .map_err(|_| StoreError::Database(format!("audit entry {} has a bad hash", i + 1)))?;
        store_completed_nodes(tx, i as u64, leaf)?;
    }
    Ok(())
}

/// Inspections (one, or all newest first) with their summaries from the
/// items' verdicts, and no items.
fn load_inspections(
    c: &dyn Conn,
    id: Option<i64>,
) -> StoreResult<Vec<crate::domain::inspection::Inspection>> {
    // Each inspection's verdicts, for its summary.
    let mut verdicts: std::collections::HashMap<i64, Vec<crate::domain::inspection::Item>> =
        Default::default();
    c.each(
        "SELECT inspection_id, verdict, duplicate_of IS NOT NULL FROM inspection_items
         WHERE CAST(?1 AS BIGINT) IS NULL OR inspection_id = ?1 ORDER BY inspection_id, n",
        args![id],
        &mut |r| {
            let items = verdicts.entry(r.get(0)?).or_default();
            items.push(crate::domain::inspection::Item {
                n: items.len() as u32 + 1,
                source: String::new(),
                input: String::new(),
                serial: None,
                batch_id: None,
                verdict: r.get(1)?,
                reason: None,
                duplicate_of: r.get::<bool>(2)?.then_some(0),
                offline_verdict: None,
                checked_at: None,
            });
            Ok(())
        },
    )?;
    c.query_map(
        "SELECT i.id, i.at, i.place, i.province, i.lat, i.lon, i.note, i.inspector, i.source, i.bundle_at, i.created_at
         FROM inspections i WHERE CAST(?1 AS BIGINT) IS NULL OR i.id = ?1 ORDER BY i.at DESC, i.id DESC",
        args![id],
        |r| {
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
        },
    )
}

/// What an event records besides its action and batch.
struct EventRow<'a> {
    first_seq: Option<u32>,
    last_seq: Option<u32>,
    count: u64,
    actor: &'a str,
    reason: Option<&'a str>,
    detail: Option<serde_json::Value>,
}

/// Appends a lifecycle event inside the caller's transaction.
fn record_event(tx: &dyn Conn, action: &str, batch: BatchId, e: EventRow<'_>) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, reason, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        args![
            now(),
            action,
            batch.0,
            e.first_seq,
            e.last_seq,
            e.count as i64,
            e.actor,
            e.reason,
            e.detail.as_ref().map(|d| d.to_string())
        ],
    )?;
    audit_append(
        tx,
        e.actor,
        &format!("stamps.{action}"),
        &format!("batch:{}", batch.0),
        None,
        Some(serde_json::json!({
            "first_seq": e.first_seq, "last_seq": e.last_seq, "count": e.count,
            "reason": e.reason, "detail": e.detail,
        })),
    )
}

/// The date in Vietnam (UTC+7, no daylight saving) of a stored UTC time
/// "YYYY-MM-DDTHH:…Z", from its date and hour alone.
fn vietnam_day(at: &str) -> Option<jiff::civil::Date> {
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
fn scan_pass(
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
    c.each(
        "SELECT at, verdict, serial, network, device, agent, lat IS NOT NULL FROM scans WHERE batch_id = ?1 ORDER BY at",
        args![batch.0],
        &mut |r| {
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
                    verdict: verdict.to_string(),
                    network: r.get(3)?,
                    device: r.get(4)?,
                    agent: r.get(5)?,
                    shared_location: r.get(6)?,
                });
            }
            last.clear();
            last.push_str(at);
            Ok(())
        },
    )?;
    out.scans += scans;
    out.history.append(&mut history);
    out.first_scan_at = first.as_deref().map(timestamp).transpose()?;
    out.last_scan_at = first.is_some().then(|| timestamp(&last)).transpose()?;
    out.per_day = per_day;
    out.by_verdict = by_verdict.into_iter().collect();
    Ok(())
}

/// Triage items: alerts from `events` and reports from `consumer_reports`,
/// with their resolutions; `only` picks one item.
fn load_triage(
    c: &dyn Conn,
    open_only: bool,
    batch: Option<BatchId>,
    only: Option<(&str, i64)>,
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
            only.map(|o| o.0),
            only.map(|o| o.1)
        ],
        |r| {
            let kind: String = r.get(0)?;
            let id: i64 = r.get(1)?;
            let batch_id: Option<u32> = r.get(2)?;
            let at: String = r.get(5)?;
            // Report serials are stored as integers; alerts carry them as text.
            let serial = r.get::<Option<String>>(4)?.map(|s| match s.parse::<i64>() {
                Ok(n) if kind == "report" => Serial(n as u64).to_string(),
                _ => s,
            });
            let resolution = match (
                r.get::<Option<String>>(8)?,
                r.get::<Option<String>>(9)?,
                r.get::<Option<String>>(10)?,
                r.get::<Option<String>>(11)?,
            ) {
                (Some(outcome), Some(note), Some(actor), Some(at)) => Some(Resolution {
                    outcome,
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

/// The indexed part of a token hash: its first 8 bytes, hex.
fn token_lookup(hash: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(&hash[..8])
}

/// Every token, or the one with id `id`.
fn load_tokens(c: &dyn Conn, id: Option<i64>) -> StoreResult<Vec<TokenInfo>> {
    c.query_map(
        "SELECT id, role, producer_id, provinces, label, created_at, expires_at, revoked_at FROM api_tokens
         WHERE CAST(?1 AS BIGINT) IS NULL OR id = ?1 ORDER BY id",
        args![id],
        |r| {
            let role: String = r.get(1)?;
            let provinces: String = r.get(3)?;
            Ok(TokenInfo {
                id: r.get(0)?,
                grant: crate::domain::Grant {
                    role: crate::domain::Role::parse(&role)
                        .ok_or_else(|| bad_value("role", &role))?,
                    producer: r.get::<Option<i64>>(2)?.map(ProducerId),
                    provinces: serde_json::from_str(&provinces)
                        .map_err(|_| bad_value("provinces", &provinces))?,
                },
                label: r.get(4)?,
                created_at: ts(r, 5)?,
                expires_at: ts(r, 6)?,
                revoked_at: r
                    .get::<Option<String>>(7)?
                    .as_deref()
                    .map(timestamp)
                    .transpose()?,
            })
        },
    )
}

/// A stored RFC 3339 time.
fn timestamp(t: &str) -> StoreResult<jiff::Timestamp> {
    t.parse().map_err(|_| bad_value("time", t))
}

fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Database(format!("stored {what} {value:?} is not valid"))
}

fn ts(row: &Row, idx: usize) -> StoreResult<jiff::Timestamp> {
    timestamp(row.str(idx)?)
}

fn day(row: &Row, idx: usize) -> StoreResult<jiff::civil::Date> {
    let s = row.str(idx)?;
    s.parse().map_err(|_| bad_value("date", s))
}

fn opt_day(row: &Row, idx: usize) -> StoreResult<Option<jiff::civil::Date>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| s.parse().map_err(|_| bad_value("date", &s)))
        .transpose()
}

// ---------------------------------------------------------------- producers

const PRODUCER_COLUMNS: &str = "id, kind, name, registration_no, street, commune, district, province, phone, email, created_at";

fn producer_row(row: &Row) -> StoreResult<Producer> {
    let kind: String = row.get(1)?;
    Ok(Producer {
        id: ProducerId(row.get(0)?),
        kind: ProducerKind::parse("kind", &kind).map_err(|_| bad_value("producer kind", &kind))?,
        name: row.get(2)?,
        registration_no: row.get(3)?,
        street: row.get(4)?,
        commune: row.get(5)?,
        district: row.get(6)?,
        province: row.get(7)?,
        phone: row.get(8)?,
        email: row.get(9)?,
        created_at: ts(row, 10)?,
    })
}

fn load_producer(conn: &dyn Conn, id: ProducerId) -> StoreResult<Option<Producer>> {
    conn.query_opt(
        &format!("SELECT {PRODUCER_COLUMNS} FROM producers WHERE id = ?1"),
        args![id.0],
        producer_row,
    )
}

// ---------------------------------------------------------------- products

const PRODUCT_COLUMNS: &str = "id, producer_id, name, ocop_group, ocop_stars, ocop_decision_no, \
     ocop_decision_date, gtin, description, created_at";

struct ProductRow {
    id: i64,
    producer_id: i64,
    name: String,
    ocop_group: Option<String>,
    ocop_stars: Option<u8>,
    ocop_decision_no: Option<String>,
    ocop_decision_date: Option<jiff::civil::Date>,
    gtin: Option<String>,
    description: Option<String>,
    created_at: jiff::Timestamp,
}

fn product_row(row: &Row) -> StoreResult<ProductRow> {
    Ok(ProductRow {
        id: row.get(0)?,
        producer_id: row.get(1)?,
        name: row.get(2)?,
        ocop_group: row.get(3)?,
        ocop_stars: row.get(4)?,
        ocop_decision_no: row.get(5)?,
        ocop_decision_date: opt_day(row, 6)?,
        gtin: row.get(7)?,
        description: row.get(8)?,
        created_at: ts(row, 9)?,
    })
}

fn finish_product(conn: &dyn Conn, r: ProductRow) -> StoreResult<Product> {
    let ocop = match (r.ocop_stars, r.ocop_decision_no, r.ocop_decision_date) {
        (Some(stars), Some(no), Some(d)) => {
            Some(OcopRating::new(stars, no, d).map_err(|e| StoreError::Database(e.to_string()))?)
        }
        _ => None,
    };
    let ocop_group = r
        .ocop_group
        .as_deref()
        .map(|g| OcopGroup::parse("ocop_group", g).map_err(|_| bad_value("OCOP group", g)))
        .transpose()?;
    let gtin = r
        .gtin
        .as_deref()
        .map(|g| Gtin::parse("gtin", g).map_err(|_| bad_value("GTIN", g)))
        .transpose()?;
    let images = conn.query_map(
        "SELECT ref FROM product_images WHERE product_id = ?1 ORDER BY position",
        args![r.id],
        |row| row.get(0),
    )?;
    let certifications = conn.query_map(
        "SELECT name, issuer, number, valid_until FROM certifications WHERE product_id = ?1 ORDER BY position",
        args![r.id],
        |row| {
            Ok(Certification {
                name: row.get(0)?,
                issuer: row.get(1)?,
                number: row.get(2)?,
                valid_until: opt_day(row, 3)?,
            })
        },
    )?;
    Ok(Product {
        id: ProductId(r.id),
        producer_id: ProducerId(r.producer_id),
        name: r.name,
        ocop_group,
        ocop,
        gtin,
        description: r.description,
        images,
        certifications,
        created_at: r.created_at,
    })
}

fn load_product(conn: &dyn Conn, id: ProductId) -> StoreResult<Option<Product>> {
    let row = conn.query_opt(
        &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1"),
        args![id.0],
        product_row,
    )?;
    row.map(|r| finish_product(conn, r)).transpose()
}

// ---------------------------------------------------------------- batches

const BATCH_COLUMNS: &str = "id, product_id, lot_code, production_date, expiry_date, shelf_life_days, \
     quantity, unit, raw_material_area, created_at";

fn load_batch(conn: &dyn Conn, id: BatchId) -> StoreResult<Option<Batch>> {
    let batch = conn.query_opt(
        &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
        args![id.0],
        |r| {
            Ok(Batch {
                id,
                product_id: ProductId(r.get(1)?),
                lot_code: r.get(2)?,
                production_date: day(r, 3)?,
                expiry_date: opt_day(r, 4)?,
                shelf_life_days: r.get(5)?,
                quantity: r.get(6)?,
                unit: r.get(7)?,
                raw_material_area: r.get(8)?,
                stages: Vec::new(),
                stamps: StampCounts::default(),
                created_at: ts(r, 9)?,
            })
        },
    )?;
    let Some(mut batch) = batch else {
        return Ok(None);
    };
    batch.stages = load_stages(conn, id)?;
    batch.stamps = counts(conn, id)?;
    Ok(Some(batch))
}

fn load_stages(conn: &dyn Conn, batch: BatchId) -> StoreResult<Vec<Stage>> {
    conn.query_map(
        "SELECT position, name, place, time, note FROM stages WHERE batch_id = ?1 ORDER BY position",
        args![batch.0],
        |r| {
            Ok(Stage {
                position: r.get(0)?,
                name: r.get(1)?,
                place: r.get(2)?,
                time: StageTime::from_stored(r.get(3)?),
                note: r.get(4)?,
            })
        },
    )
}

fn insert_stage(tx: &dyn Conn, batch: BatchId, position: u32, s: &NewStage) -> StoreResult<Stage> {
    tx.execute(
        "INSERT INTO stages (batch_id, position, name, place, time, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![batch.0, position, s.name, s.place, s.time.as_str(), s.note],
    )?;
    Ok(Stage {
        position,
        name: s.name.clone(),
        place: s.place.clone(),
        time: s.time.clone(),
        note: s.note.clone(),
    })
}

fn counts(conn: &dyn Conn, batch: BatchId) -> StoreResult<StampCounts> {
    let mut c = StampCounts::default();
    for row in conn.rows(
        "SELECT state, n FROM batch_stamp_counts WHERE batch_id = ?1",
        args![batch.0],
    )? {
        let n =
            u64::try_from(row.get::<i64>(1)?).map_err(|_| bad_value("stamp count", "negative"))?;
        match StampState::from_code(row.get(0)?) {
            Some(StampState::Issued) => c.issued = n,
            Some(StampState::Printed) => c.printed = n,
            Some(StampState::Activated) => c.activated = n,
            Some(StampState::Voided) => c.voided = n,
            None => return Err(bad_value("stamp state", "?")),
        }
        c.total += n;
    }
    Ok(c)
}

fn batch_exists(conn: &dyn Conn, batch: BatchId) -> StoreResult<bool> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM batches WHERE id = ?1",
            args![batch.0],
            |_| Ok(()),
        )?
        .is_some())
}

fn not_found(what: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

// ---------------------------------------------------------------- stamps

const STAMP_COLUMNS: &str =
    "s.serial, s.batch_id, s.seq, s.state, k.kid, s.signature, i.created_at";
const STAMP_FROM: &str =
    "FROM stamps s JOIN issuances i ON i.id = s.issuance_id JOIN signing_keys k ON k.id = i.key_id";

fn stamp_row(r: &Row) -> StoreResult<StoredStamp> {
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
    })
}

/// Serials are stored as signed 64-bit integers, bit for bit.
/// Stores pictures by their content-hash names (one already there stays).
fn insert_media(tx: &dyn Conn, media: &[crate::domain::Media]) -> StoreResult<()> {
    for m in media {
        tx.execute(
            "INSERT INTO media (name, content_type, bytes, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO NOTHING",
            args![m.name, m.content_type, m.bytes, now()],
        )?;
    }
    Ok(())
}

fn serial_key(serial: Serial) -> i64 {
    serial.0 as i64
}

impl<B: Backend> Store for B {
    fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", args![], |_| Ok(())))
    }

    fn create_producer(&self, p: &NewProducer, actor: &str) -> StoreResult<Producer> {
        self.write(|tx| {
            let id = ProducerId(tx.insert(
                "INSERT INTO producers (kind, name, registration_no, street, commune, district, province, phone, email, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                args![p.kind.as_str(), p.name, p.registration_no, p.street, p.commune, p.district, p.province, p.phone, p.email, now()],
            )?);
            let p = load_producer(tx, id)?.ok_or_else(|| not_found("producer", id))?;
            audit_append(tx, actor, "producer.create", &format!("producer:{id}"), None, serde_json::to_value(&p).ok())?;
            Ok(p)
        })
    }

    fn producer(&self, id: ProducerId) -> StoreResult<Option<Producer>> {
        self.read(|c| load_producer(c, id))
    }

    fn producers(&self) -> StoreResult<Vec<Producer>> {
        self.read(|c| {
            c.query_map(
                &format!("SELECT {PRODUCER_COLUMNS} FROM producers ORDER BY id"),
                args![],
                producer_row,
            )
        })
    }

    fn create_product(&self, p: &NewProduct, actor: &str) -> StoreResult<Product> {
        self.write(|tx| {
            if load_producer(tx, p.producer_id)?.is_none() {
                return Err(not_found("producer", p.producer_id));
            }
            let id = ProductId(tx.insert(
                "INSERT INTO products (producer_id, name, ocop_group, ocop_stars, ocop_decision_no, ocop_decision_date, gtin, description, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                args![
                    p.producer_id.0,
                    p.name,
                    p.ocop_group.map(OcopGroup::as_str),
                    p.ocop.as_ref().map(|o| o.stars),
                    p.ocop.as_ref().map(|o| o.decision_no.as_str()),
                    p.ocop.as_ref().map(|o| o.decision_date.to_string()),
                    p.gtin.as_ref().map(Gtin::as_str),
                    p.description,
                    now()
                ],
            )?);
            insert_media(tx, &p.media)?;
            insert_product_parts(tx, id, p)?;
            let product = load_product(tx, id)?.ok_or_else(|| not_found("product", id))?;
            audit_append(tx, actor, "product.create", &format!("product:{id}"), None, serde_json::to_value(&product).ok())?;
            Ok(product)
        })
    }

    fn product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        self.read(|c| load_product(c, id))
    }

    fn update_product(&self, id: ProductId, p: &NewProduct, actor: &str) -> StoreResult<Product> {
        self.write(|tx| {
            let before = load_product(tx, id)?.ok_or_else(|| not_found("product", id))?;
            if before.producer_id != p.producer_id {
                return Err(StoreError::Conflict("a product stays with its producer".into()));
            }
            tx.execute(
                "UPDATE products SET name = ?2, ocop_group = ?3, ocop_stars = ?4, ocop_decision_no = ?5, ocop_decision_date = ?6,
                        gtin = ?7, description = ?8 WHERE id = ?1",
                args![
                    id.0,
                    p.name,
                    p.ocop_group.map(OcopGroup::as_str),
                    p.ocop.as_ref().map(|o| o.stars),
                    p.ocop.as_ref().map(|o| o.decision_no.as_str()),
                    p.ocop.as_ref().map(|o| o.decision_date.to_string()),
                    p.gtin.as_ref().map(Gtin::as_str),
                    p.description,
                ],
            )?;
            tx.execute("DELETE FROM product_images WHERE product_id = ?1", args![id.0])?;
            tx.execute("DELETE FROM certifications WHERE product_id = ?1", args![id.0])?;
            insert_media(tx, &p.media)?;
            insert_product_parts(tx, id, p)?;
            let after = load_product(tx, id)?.ok_or_else(|| not_found("product", id))?;
            audit_append(
                tx,
                actor,
                "product.update",
                &format!("product:{id}"),
                serde_json::to_value(&before).ok(),
                serde_json::to_value(&after).ok(),
            )?;
            Ok(after)
        })
    }

    fn products(&self, producer: Option<ProducerId>) -> StoreResult<Vec<Product>> {
        self.read(|c| {
            let rows = c.query_map(
                &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE CAST(?1 AS BIGINT) IS NULL OR producer_id = ?1 ORDER BY id"),
                args![producer.map(|p| p.0)],
                product_row,
            )?;
            rows.into_iter().map(|r| finish_product(c, r)).collect()
        })
    }

    fn create_batch(&self, b: &NewBatch, actor: &str) -> StoreResult<Batch> {
        self.write(|tx| {
            if load_product(tx, b.product_id)?.is_none() {
                return Err(not_found("product", b.product_id));
            }
            let taken = tx.query_opt(
                "SELECT id FROM batches WHERE product_id = ?1 AND lot_code = ?2",
                args![b.product_id.0, b.lot_code],
                |r| r.get::<u32>(0),
            )?;
            if let Some(other) = taken {
                return Err(StoreError::Conflict(format!(
                    "lot code {:?} is already used by batch {other} of product {}",
                    b.lot_code, b.product_id
                )));
            }
            let id = tx.insert(
                "INSERT INTO batches (product_id, lot_code, production_date, expiry_date, shelf_life_days, quantity, unit, raw_material_area, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                args![
                    b.product_id.0,
                    b.lot_code,
                    b.production_date.to_string(),
                    b.expiry_date.map(|d| d.to_string()),
                    b.shelf_life_days,
                    b.quantity,
                    b.unit,
                    b.raw_material_area,
                    now()
                ],
            )?;
            let id = BatchId(
                u32::try_from(id)
                    .map_err(|_| StoreError::Database("batch ids are exhausted (32 bits)".into()))?,
            );
            for (i, s) in b.stages.iter().enumerate() {
                insert_stage(tx, id, (i + 1) as u32, s)?;
            }
            let batch = load_batch(tx, id)?.ok_or_else(|| not_found("batch", id))?;
            audit_append(tx, actor, "batch.create", &format!("batch:{id}"), None, serde_json::to_value(&batch).ok())?;
            Ok(batch)
        })
    }

    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>> {
        self.read(|c| load_batch(c, id))
    }

    fn batches(&self, product: Option<ProductId>) -> StoreResult<Vec<BatchSummary>> {
        self.read(|c| {
            c.query_map(
                "SELECT b.id, b.lot_code, b.product_id, p.name, p.producer_id, pr.name, b.production_date, b.expiry_date, b.quantity,
                        (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM batch_stamp_counts WHERE batch_id = b.id)
                 FROM batches b JOIN products p ON p.id = b.product_id JOIN producers pr ON pr.id = p.producer_id
                 WHERE CAST(?1 AS BIGINT) IS NULL OR b.product_id = ?1 ORDER BY b.id",
                args![product.map(|p| p.0)],
                |r| {
                    Ok(BatchSummary {
                        id: BatchId(r.get(0)?),
                        lot_code: r.get(1)?,
                        product_id: ProductId(r.get(2)?),
                        product_name: r.get(3)?,
                        producer_id: ProducerId(r.get(4)?),
                        producer_name: r.get(5)?,
                        production_date: day(r, 6)?,
                        expiry_date: opt_day(r, 7)?,
                        quantity: r.get(8)?,
                        stamps_issued: r.get::<i64>(9)?.max(0) as u64,
                    })
                },
            )
        })
    }

    fn add_stage(&self, batch: BatchId, stage: &NewStage, actor: &str) -> StoreResult<Stage> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let next: u32 = tx.query_row(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM stages WHERE batch_id = ?1",
                args![batch.0],
                |r| r.get(0),
            )?;
            if next > 50 {
                return Err(StoreError::Conflict(format!(
                    "batch {batch} already has 50 stages"
                )));
            }
            let stage = insert_stage(tx, batch, next, stage)?;
            audit_append(
                tx,
                actor,
                "stage.add",
                &format!("batch:{batch}"),
                None,
                serde_json::to_value(&stage).ok(),
            )?;
            Ok(stage)
        })
    }

    fn issue_stamps(
        &self,
        batch: BatchId,
        kid: Kid,
        public_key: &[u8; 32],
        count: u32,
        actor: &str,
        feed: &mut dyn StampFeed,
    ) -> StoreResult<IssueReceipt> {
        self.issue_write(count, |tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            tx.execute(
                "INSERT INTO signing_keys (kid, public_key) VALUES (?1, ?2) ON CONFLICT (kid) DO NOTHING",
                args![kid.to_string(), &public_key[..]],
            )?;
            let key_id: i64 = tx.query_row(
                "SELECT id FROM signing_keys WHERE kid = ?1",
                args![kid.to_string()],
                |r| r.get(0),
            )?;
            let last_seq: u32 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM stamps WHERE batch_id = ?1",
                args![batch.0],
                |r| r.get(0),
            )?;
            let first_seq = last_seq
                .checked_add(1)
                .filter(|f| f.checked_add(count - 1).is_some())
                .ok_or_else(|| {
                    StoreError::Conflict(format!("batch {batch} cannot hold more stamps"))
                })?;
            let issuance = uuid::Uuid::now_v7();
            let issuance_id = tx.insert(
                "INSERT INTO issuances (uuid, batch_id, key_id, first_seq, count, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![issuance.to_string(), batch.0, key_id, first_seq, count, now()],
            )?;
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
            tx.execute(
                "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 0, ?2)
                 ON CONFLICT (batch_id, state) DO UPDATE SET n = batch_stamp_counts.n + excluded.n",
                args![batch.0, count],
            )?;
            record_event(
                tx,
                "commission",
                batch,
                EventRow {
                    first_seq: Some(first_seq),
                    last_seq: Some(seq - 1),
                    count: u64::from(count),
                    actor,
                    reason: None,
                    detail: Some(
                        serde_json::json!({ "issuance": issuance.to_string(), "kid": kid.to_string() }),
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
            c.query_map(
                "SELECT seq, scan_count, first_scan_at FROM stamps WHERE batch_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
                args![batch.0, from_seq, limit],
                |r| {
                    let first: Option<String> = r.get(2)?;
                    Ok((
                        r.get(0)?,
                        r.get::<i64>(1)? as u64,
                        first.map(|f| timestamp(&f)).transpose()?,
                    ))
                },
            )
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
                return Err(StoreError::Conflict("a print job needs at least one stamp".into()));
            };
            let mut newly = 0u32;
            let mut voided = Vec::new();
            for &seq in &seqs {
                let state: Option<i64> = tx.query_opt(
                    "SELECT state FROM stamps WHERE batch_id = ?1 AND seq = ?2",
                    args![job.batch.0, seq],
                    |r| r.get(0),
                )?;
                match state.and_then(StampState::from_code) {
                    None => return Err(not_found("stamp", format!("number {seq} of batch {}", job.batch))),
                    Some(StampState::Voided) => voided.push(seq),
                    Some(StampState::Issued) => {
                        newly += tx.execute(
                            "UPDATE stamps SET state = 1 WHERE batch_id = ?1 AND seq = ?2 AND state = 0",
                            args![job.batch.0, seq],
                        )? as u32;
                    }
                    Some(_) => {}
                }
            }
            if !voided.is_empty() {
                let shown: Vec<String> = voided.iter().take(10).map(u32::to_string).collect();
                return Err(StoreError::Conflict(format!(
                    "{} stamp(s) of batch {} are voided and cannot be printed: number {}{}",
                    voided.len(),
                    job.batch,
                    shown.join(", "),
                    if voided.len() > 10 { ", …" } else { "" }
                )));
            }
            if newly > 0 {
                tx.execute("UPDATE batch_stamp_counts SET n = n - ?2 WHERE batch_id = ?1 AND state = 0", args![job.batch.0, newly])?;
                tx.execute(
                    "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 1, ?2)
                     ON CONFLICT (batch_id, state) DO UPDATE SET n = batch_stamp_counts.n + excluded.n",
                    args![job.batch.0, newly],
                )?;
            }
            let contiguous = last - first + 1 == seqs.len() as u32;
            let list = (!contiguous).then(|| serde_json::to_string(&seqs)).transpose()
                .map_err(|e| StoreError::Database(e.to_string()))?;
            let id = uuid::Uuid::now_v7();
            let created = jiff::Timestamp::now();
            let count = seqs.len() as u32;
            tx.execute(
                "INSERT INTO print_jobs (uuid, batch_id, actor, layout, format, first_seq, last_seq, seqs, stamps, reprinted, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                args![id.to_string(), job.batch.0, job.actor, job.layout, job.format, first, last, list, count, count - newly, created.to_string()],
            )?;
            record_event(
                tx,
                "print",
                job.batch,
                EventRow {
                    first_seq: Some(first),
                    last_seq: Some(last),
                    count: u64::from(count),
                    actor: &job.actor,
                    reason: None,
                    detail: Some(serde_json::json!({
                        "print_job": id.to_string(), "layout": job.layout, "format": job.format,
                        "reprinted": count - newly, "seqs": if contiguous { serde_json::Value::Null } else { serde_json::json!(seqs) },
                    })),
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
            c.query_map(
                "SELECT uuid, actor, layout, format, first_seq, last_seq, stamps, reprinted, created_at
                 FROM print_jobs WHERE batch_id = ?1 ORDER BY id",
                args![batch.0],
                |r| {
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
                },
            )
        })
    }

    fn record_scans(
        &self,
        scans: &[NewScan],
        rules: &RepeatRules,
        today: jiff::civil::Date,
    ) -> StoreResult<Vec<ScanOutcome>> {
        use subtle::ConstantTimeEq;
        /// The stamp row a scan needs: batch, seq, state, scan count, first
        /// scan, recent scans, the batch's expiry.
        type Found = (
            u32,
            u32,
            i64,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        /// The stamp row, its signature, key and issuance time, and the recall in force.
        type Row = (Found, Vec<u8>, String, String, Option<RecallNotice>);
        // Stamp and its batch's expiry, its signature, key and issuance
        // time, and the newest recall in force over it, in one query. On
        // PostgreSQL the stamp row is locked, so scans of one stamp through
        // several nodes count one after the other.
        let lookup = format!(
            "SELECT s.batch_id, s.seq, s.state, s.scan_count, s.first_scan_at, s.recent_scans, b.expiry_date,
                    s.signature, k.kid, i.created_at, r.reason, r.notice, r.created_at
             FROM stamps s JOIN batches b ON b.id = s.batch_id
                  JOIN issuances i ON i.id = s.issuance_id JOIN signing_keys k ON k.id = i.key_id
                  LEFT JOIN recalls r ON r.id = (
                      SELECT id FROM recalls
                      WHERE batch_id = s.batch_id AND lifted_at IS NULL
                        AND (first_seq IS NULL OR s.seq BETWEEN first_seq AND last_seq)
                      ORDER BY id DESC LIMIT 1)
             WHERE s.serial = ?1{}",
            if Self::DIALECT == Dialect::Postgres { " FOR UPDATE OF s" } else { "" }
        );
        // Stamps are locked in serial order, so two groups never wait for
        // each other in a circle.
        let mut order: Vec<usize> = (0..scans.len()).collect();
        order.sort_by_key(|&i| scans[i].check.code.map(|c| c.serial.0));
        self.scan_write(|tx| {
            let mut out: Vec<Option<ScanOutcome>> = vec![None; scans.len()];
            for &index in &order {
                let scan = &scans[index];
                let code_check = &scan.check;
                // The lookup happens for every parsed code, whatever its
                // signature, so timing does not tell whether a serial exists.
                let row: Option<Row> = match &code_check.code {
                    None => None,
                    Some(code) => tx.query_opt(&lookup, args![serial_key(code.serial)], |r| {
                        let notice = match r.get::<Option<String>>(10)? {
                            Some(reason) => Some(RecallNotice { reason, notice: r.get(11)?, since: ts(r, 12)? }),
                            None => None,
                        };
                        Ok((
                            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                            r.get::<Vec<u8>>(7)?,
                            r.get::<String>(8)?,
                            r.get::<String>(9)?,
                            notice,
                        ))
                    })?,
                };
                let signature_ok = matches!(
                    code_check.verdict,
                    crate::codes::CodeVerdict::Genuine | crate::codes::CodeVerdict::RevokedKey
                );
                // The registry vouches only for exactly the code it issued:
                // same serial, batch, key and signature bytes (compared in
                // constant time). A code whose signature holds but which
                // differs from the row (another batch, key or signature) was
                // signed outside issuance, or the row was altered: it is not
                // registered, and inspectors get an alert.
                let (mut found, mut notice, mut issued_at, mut mismatch) = (None, None, None, None);
                if let (Some(code), Some((f, signature, kid, issued, recall))) = (code_check.code, row) {
                    let same = signature_ok
                        && f.0 == code.batch.0
                        && code_check.kid.is_some_and(|k| k.to_string() == kid)
                        && bool::from(signature.as_slice().ct_eq(&code.signature[..]));
                    if same {
                        issued_at = Some(timestamp(&issued)?);
                        (found, notice) = (Some(f), recall);
                    } else if signature_ok {
                        mismatch = Some((f.0, f.1));
                    }
                }
                let code = code_check.code.map(|c| (c.serial, c.batch));
                let mut registered = None;
                if let (Some((_, _, state, _, _, _, expiry)), Some(issued_at)) = (&found, issued_at) {
                    registered = Some(Registered {
                        state: StampState::from_code(*state).ok_or_else(|| bad_value("stamp state", &state.to_string()))?,
                        recalled: notice.is_some(),
                        expiry: expiry.as_deref().map(|e| e.parse().map_err(|_| bad_value("date", e))).transpose()?,
                        issued_at,
                    });
                }
                let verdict = scan_rules::judge(code_check, registered.as_ref(), today);
                if verdict == scan_rules::Verdict::RevokedKey {
                    // Signed by the revoked key after it stopped signing: not
                    // an issuance tem made; the row says nothing for it.
                    (found, notice) = (None, None);
                }
                let scan_id = tx.insert(
                    "INSERT INTO scans (serial, batch_id, at, verdict, network, device, agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
                if let (Some((batch, seq)), Some((serial, _))) = (mismatch, code) {
                    tx.execute(
                        "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, place, reason, detail)
                         VALUES (?1, 'alert', ?2, ?3, ?3, 1, 'scan', ?4, 'registry-mismatch', ?5)",
                        args![
                            scan.at.to_string(),
                            batch,
                            seq,
                            scan.network,
                            serde_json::json!({ "serial": serial.to_string(), "scan_id": scan_id }).to_string()
                        ],
                    )?;
                }
                let mut repeat = Vec::new();
                let mut stamp = None;
                if let (Some((batch, seq, state, count, first, recent, _)), Some((serial, _))) = (found, code) {
                    let mut recent: Vec<RecentScan> = recent
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| StoreError::Database(format!("stored recent scans: {e}")))?
                        .unwrap_or_default();
                    let now = scan.at.as_second();
                    recent.push(RecentScan { id: scan_id, at: now, device: scan.device.clone(), lat: None, lon: None });
                    if recent.len() > scan_rules::RECENT_KEPT {
                        recent.drain(..recent.len() - scan_rules::RECENT_KEPT);
                    }
                    repeat = scan_rules::repeat_reasons(&recent, now, rules);
                    // The scan that first breaks a rule raises an alert for the
                    // triage queue; the scans after it only repeat the warning.
                    if !repeat.is_empty()
                        && scan_rules::repeat_reasons(&recent[..recent.len() - 1], now, rules).is_empty()
                    {
                        let reasons: Vec<&str> = repeat.iter().map(|r| r.as_str()).collect();
                        tx.execute(
                            "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, place, reason, detail)
                             VALUES (?1, 'alert', ?2, ?3, ?3, 1, 'scan', ?4, ?5, ?6)",
                            args![
                                scan.at.to_string(),
                                batch,
                                seq,
                                scan.network,
                                reasons.join(", "),
                                serde_json::json!({ "serial": serial.to_string(), "scan_id": scan_id, "scan_count": count + 1 }).to_string()
                            ],
                        )?;
                    }
                    let count = count + 1;
                    let recent_json = serde_json::to_string(&recent).map_err(|e| StoreError::Database(e.to_string()))?;
                    tx.execute(
                        "UPDATE stamps SET scan_count = ?3, first_scan_at = COALESCE(first_scan_at, ?4), recent_scans = ?5
                         WHERE batch_id = ?1 AND seq = ?2",
                        args![batch, seq, count, scan.at.to_string(), recent_json],
                    )?;
                    let first = match first {
                        Some(f) => timestamp(&f)?,
                        None => scan.at,
                    };
                    stamp = Some(ScannedStamp {
                        serial,
                        batch: BatchId(batch),
                        seq,
                        state: StampState::from_code(state).ok_or_else(|| bad_value("stamp state", &state.to_string()))?,
                        scan_count: count as u64,
                        first_scan_at: Some(first),
                        recall: notice,
                    });
                }
                out[index] = Some(ScanOutcome { scan_id, verdict, repeat, stamp });
            }
            Ok(out.into_iter().flatten().collect())
        })
    }

    fn scan_locations(&self, batch: BatchId) -> StoreResult<Vec<(f64, f64)>> {
        self.read(|c| {
            c.query_map(
                "SELECT lat, lon FROM scans WHERE batch_id = ?1 AND lat IS NOT NULL AND lon IS NOT NULL",
                args![batch.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    fn set_scan_location(&self, scan_id: i64, lat: f64, lon: f64) -> StoreResult<bool> {
        self.write(|tx| {
            let serial: Option<Option<i64>> = tx.query_opt(
                "SELECT serial FROM scans WHERE id = ?1",
                args![scan_id],
                |r| r.get(0),
            )?;
            let Some(serial) = serial else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE scans SET lat = ?2, lon = ?3 WHERE id = ?1",
                args![scan_id, lat, lon],
            )?;
            if let Some(serial) = serial {
                let row: Option<(u32, u32, Option<String>)> = tx.query_opt(
                    "SELECT batch_id, seq, recent_scans FROM stamps WHERE serial = ?1",
                    args![serial],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                if let Some((batch, seq, Some(recent))) = row {
                    let mut recent: Vec<RecentScan> = serde_json::from_str(&recent)
                        .map_err(|e| StoreError::Database(e.to_string()))?;
                    if let Some(r) = recent.iter_mut().find(|r| r.id == scan_id) {
                        r.lat = Some(lat);
                        r.lon = Some(lon);
                        let json = serde_json::to_string(&recent)
                            .map_err(|e| StoreError::Database(e.to_string()))?;
                        tx.execute(
                            "UPDATE stamps SET recent_scans = ?3 WHERE batch_id = ?1 AND seq = ?2",
                            args![batch, seq, json],
                        )?;
                    }
                }
            }
            Ok(true)
        })
    }

    fn create_token(&self, t: &NewToken, actor: &str) -> StoreResult<TokenInfo> {
        self.write(|tx| {
            if let Some(p) = t.grant.producer
                && load_producer(tx, p)?.is_none()
            {
                return Err(not_found("producer", p));
            }
            let provinces = serde_json::to_string(&t.grant.provinces).map_err(|e| StoreError::Database(e.to_string()))?;
            let id = tx.insert(
                "INSERT INTO api_tokens (lookup, hash, role, producer_id, provinces, label, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    token_lookup(&t.hash),
                    &t.hash[..],
                    t.grant.role.as_str(),
                    t.grant.producer.map(|p| p.0),
                    provinces,
                    t.label,
                    now(),
                    t.expires_at.to_string()
                ],
            )?;
            let info = load_tokens(tx, Some(id))?.pop().ok_or_else(|| not_found("token", id))?;
            audit_append(tx, actor, "token.create", &format!("token:{id}"), None, serde_json::to_value(&info).ok())?;
            Ok(info)
        })
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>> {
        use subtle::ConstantTimeEq;
        self.read(|c| {
            let stored: Option<(i64, Vec<u8>)> = c.query_opt(
                "SELECT id, hash FROM api_tokens WHERE lookup = ?1",
                args![token_lookup(hash)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            match stored {
                Some((id, h)) if bool::from(h.as_slice().ct_eq(&hash[..])) => {
                    Ok(load_tokens(c, Some(id))?.pop())
                }
                _ => Ok(None),
            }
        })
    }

    fn create_session(
        &self,
        hash: &[u8; 32],
        token_id: Option<i64>,
        admin_hash: Option<&[u8; 32]>,
        csrf: &str,
        expires_at: jiff::Timestamp,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let now = now();
            tx.execute("DELETE FROM sessions WHERE expires_at < ?1", args![now])?;
            tx.execute(
                "INSERT INTO sessions (hash, token_id, admin_hash, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![&hash[..], token_id, admin_hash.map(|h| &h[..]), csrf, now, expires_at.to_string()],
            )?;
            Ok(())
        })
    }

    fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            type Row = (Option<i64>, Option<Vec<u8>>, String, String);
            let row: Option<Row> = c.query_opt(
                "SELECT token_id, admin_hash, csrf, expires_at FROM sessions WHERE hash = ?1",
                args![&hash[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let Some((token_id, admin_hash, csrf, expires_at)) = row else {
                return Ok(None);
            };
            let token = match token_id {
                Some(id) => Some(
                    load_tokens(c, Some(id))?
                        .pop()
                        .ok_or_else(|| not_found("token", id))?,
                ),
                None => None,
            };
            Ok(Some(SessionRecord {
                token,
                admin_hash,
                csrf,
                expires_at: timestamp(&expires_at)?,
            }))
        })
    }

    fn delete_session(&self, hash: &[u8; 32]) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE hash = ?1", args![&hash[..]])?;
            Ok(())
        })
    }

    fn put_media(&self, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
        self.write(|tx| {
            insert_media(
                tx,
                &[crate::domain::Media {
                    name: name.into(),
                    content_type: content_type.into(),
                    bytes: bytes.to_vec(),
                }],
            )
        })
    }

    fn media(&self, name: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        self.read(|c| {
            c.query_opt(
                "SELECT content_type, bytes FROM media WHERE name = ?1",
                args![name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|c| load_tokens(c, None))
    }

    fn revoke_token(&self, id: i64, actor: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let revoked = tx.execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                args![id, now()],
            )? == 1;
            if revoked {
                audit_append(
                    tx,
                    actor,
                    "token.revoke",
                    &format!("token:{id}"),
                    None,
                    None,
                )?;
            }
            Ok(revoked)
        })
    }

    fn setting(&self, key: &str, make: &dyn Fn() -> String) -> StoreResult<String> {
        let select = "SELECT value FROM settings WHERE key = ?1";
        if let Some(v) = self.read(|c| c.query_opt(select, args![key], |r| r.get(0)))? {
            return Ok(v);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                args![key, make()],
            )?;
            tx.query_row(select, args![key], |r| r.get(0))
        })
    }

    fn recall(&self, r: &NewRecall) -> StoreResult<RecallNotice> {
        self.write(|tx| {
            if !batch_exists(tx, r.batch)? {
                return Err(not_found("batch", r.batch));
            }
            let now = jiff::Timestamp::now();
            tx.execute(
                "INSERT INTO recalls (batch_id, first_seq, last_seq, reason, notice, actor, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![r.batch.0, r.range.map(|x| x.0), r.range.map(|x| x.1), r.reason, r.notice, r.actor, now.to_string()],
            )?;
            let count: i64 = match r.range {
                Some((first, last)) => tx.query_row(
                    "SELECT COUNT(*) FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3",
                    args![r.batch.0, first, last],
                    |row| row.get(0),
                )?,
                None => tx.query_row("SELECT COUNT(*) FROM stamps WHERE batch_id = ?1", args![r.batch.0], |row| row.get(0))?,
            };
            record_event(
                tx,
                "recall",
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
            Ok(RecallNotice { reason: r.reason.clone(), notice: r.notice.clone(), since: now })
        })
    }

    fn lift_recalls(&self, batch: BatchId, reason: &str, actor: &str) -> StoreResult<u32> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let lifted = tx.execute(
                "UPDATE recalls SET lifted_at = ?2, lift_reason = ?3 WHERE batch_id = ?1 AND lifted_at IS NULL",
                args![batch.0, jiff::Timestamp::now().to_string(), reason],
            )? as u32;
            if lifted > 0 {
                let stamps: i64 = tx.query_row("SELECT COUNT(*) FROM stamps WHERE batch_id = ?1", args![batch.0], |r| r.get(0))?;
                record_event(
                    tx,
                    "lift",
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
            let changed = tx.execute(
                "UPDATE stamps SET state = 3, void_reason = ?4 WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 AND state != 3",
                args![batch.0, first, last, reason],
            )? as u32;
            for (state, n) in by_state.iter().enumerate().take(3) {
                if *n > 0 {
                    tx.execute(
                        "UPDATE batch_stamp_counts SET n = n - ?3 WHERE batch_id = ?1 AND state = ?2",
                        args![batch.0, state as i64, *n as i64],
                    )?;
                }
            }
            if changed > 0 {
                tx.execute(
                    "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 3, ?2)
                     ON CONFLICT (batch_id, state) DO UPDATE SET n = batch_stamp_counts.n + excluded.n",
                    args![batch.0, changed],
                )?;
                record_event(
                    tx,
                    "void",
                    batch,
                    EventRow { first_seq: Some(first), last_seq: Some(last), count: u64::from(changed), actor, reason: Some(reason), detail: None },
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
                "UPDATE stamps SET state = 2 WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 AND state = 1",
                args![batch.0, first, last],
            )? as u32;
            if changed > 0 {
                tx.execute(
                    "UPDATE batch_stamp_counts SET n = n - ?2 WHERE batch_id = ?1 AND state = 1",
                    args![batch.0, changed],
                )?;
                tx.execute(
                    "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 2, ?2)
                     ON CONFLICT (batch_id, state) DO UPDATE SET n = batch_stamp_counts.n + excluded.n",
                    args![batch.0, changed],
                )?;
                record_event(
                    tx,
                    "activate",
                    batch,
                    EventRow { first_seq: Some(first), last_seq: Some(last), count: u64::from(changed), actor, reason: None, detail: None },
                )?;
            }
            Ok(changed)
        })
    }

    fn recalls(&self, batch: BatchId) -> StoreResult<Vec<RecallRecord>> {
        self.read(|c| {
            c.query_map(
                "SELECT id, first_seq, last_seq, reason, notice, actor, created_at, lifted_at, lift_reason
                 FROM recalls WHERE batch_id = ?1 ORDER BY id",
                args![batch.0],
                |r| {
                    Ok(RecallRecord {
                        id: r.get(0)?,
                        first_seq: r.get(1)?,
                        last_seq: r.get(2)?,
                        reason: r.get(3)?,
                        notice: r.get(4)?,
                        actor: r.get(5)?,
                        created_at: ts(r, 6)?,
                        lifted_at: r.get::<Option<String>>(7)?.map(|l| timestamp(&l)).transpose()?,
                        lift_reason: r.get(8)?,
                    })
                },
            )
        })
    }

    fn consumer_reports(&self, batch: BatchId) -> StoreResult<Vec<ConsumerReport>> {
        self.read(|c| {
            c.query_map(
                "SELECT id, serial, at, kind, message, place FROM consumer_reports WHERE batch_id = ?1 ORDER BY id DESC",
                args![batch.0],
                |r| {
                    Ok(ConsumerReport {
                        id: r.get(0)?,
                        serial: r.get::<Option<i64>>(1)?.map(|s| Serial(s as u64).to_string()),
                        at: ts(r, 2)?,
                        kind: r.get(3)?,
                        message: r.get(4)?,
                        place: r.get(5)?,
                    })
                },
            )
        })
    }

    fn triage(&self, open_only: bool, batch: Option<BatchId>) -> StoreResult<Vec<TriageItem>> {
        self.read(|c| load_triage(c, open_only, batch, None))
    }

    fn triage_item(&self, kind: &str, id: i64) -> StoreResult<Option<TriageItem>> {
        self.read(|c| Ok(load_triage(c, false, None, Some((kind, id)))?.pop()))
    }

    fn resolve_triage(
        &self,
        kind: &str,
        id: i64,
        outcome: &str,
        note: &str,
        actor: &str,
    ) -> StoreResult<TriageItem> {
        self.write(|tx| {
            let Some(item) = load_triage(tx, false, None, Some((kind, id)))?.pop() else {
                return Err(not_found(if kind == "alert" { "alert" } else { "report" }, id));
            };
            if item.resolution.is_some() {
                return Err(StoreError::Conflict(format!("{kind} {id} was resolved already")));
            }
            tx.execute(
                "INSERT INTO triage_resolutions (kind, item_id, outcome, note, actor, resolved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![kind, id, outcome, note, actor, now()],
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
                    "outcome": outcome,
                    "note": note,
                })),
            )?;
            load_triage(tx, false, None, Some((kind, id)))?.pop().ok_or_else(|| not_found("triage item", id))
        })
    }

    fn audit_record(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        after: Option<serde_json::Value>,
    ) -> StoreResult<()> {
        self.write(|tx| audit_append(tx, actor, action, object, None, after))
    }

    fn audit_entries(
        &self,
        from_seq: u64,
        limit: u64,
    ) -> StoreResult<Vec<(crate::audit::Entry, Vec<u8>)>> {
        self.read(|c| {
            c.query_map(
                "SELECT seq, at, actor, action, object, before, after, leaf FROM audit_log
                 WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
                args![
                    from_seq.min(i64::MAX as u64) as i64,
                    limit.min(i64::MAX as u64) as i64
                ],
                |r| Ok((audit_entry(r)?, r.get(7)?)),
            )
        })
    }

    fn create_inspection(
        &self,
        new: &NewInspection,
    ) -> StoreResult<crate::domain::inspection::Inspection> {
        let id = self.write(|tx| {
            let id = tx.insert(
                "INSERT INTO inspections (at, place, province, lat, lon, note, inspector, source, bundle_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                    "INSERT INTO inspection_items (inspection_id, n, source, input, serial, batch_id, verdict, reason, duplicate_of, offline_verdict, checked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    args![
                        id, i.n, i.source, i.input, i.serial, i.batch_id, i.verdict, i.reason, i.duplicate_of,
                        i.offline_verdict, i.checked_at
                    ],
                )?;
            }
            let device = format!("inspector {}", new.inspector);
            for s in &new.scans {
                let at = timestamp(&s.at)?.to_string();
                let recorded = tx.execute(
                    "INSERT INTO scans (serial, batch_id, at, verdict, network, device, agent)
                     SELECT ?1, ?2, ?3, ?4, NULL, ?5, 'tem offline kit' FROM stamps WHERE serial = ?1 AND batch_id = ?2",
                    args![serial_key(s.serial), s.batch.0, at, s.verdict, device],
                )?;
                if recorded == 1 {
                    tx.execute(
                        "UPDATE stamps SET scan_count = scan_count + 1,
                                first_scan_at = CASE WHEN first_scan_at IS NULL OR first_scan_at > ?3 THEN ?3 ELSE first_scan_at END
                         WHERE serial = ?1 AND batch_id = ?2",
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
                    "serials": new.items.iter().map(|i| (i.serial.clone(), i.verdict.clone())).collect::<Vec<_>>(),
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
            inspection.items = c.query_map(
                "SELECT n, source, input, serial, batch_id, verdict, reason, duplicate_of, offline_verdict, checked_at
                 FROM inspection_items WHERE inspection_id = ?1 ORDER BY n",
                args![id],
                |r| {
                    Ok(crate::domain::inspection::Item {
                        n: r.get(0)?,
                        source: r.get(1)?,
                        input: r.get(2)?,
                        serial: r.get(3)?,
                        batch_id: r.get(4)?,
                        verdict: r.get(5)?,
                        reason: r.get(6)?,
                        duplicate_of: r.get(7)?,
                        offline_verdict: r.get(8)?,
                        checked_at: r.get(9)?,
                    })
                },
            )?;
            inspection.summary = crate::domain::inspection::summarise(&inspection.items);
            Ok(Some(inspection))
        })
    }

    fn inspections(&self) -> StoreResult<Vec<crate::domain::inspection::Inspection>> {
        self.read(|c| load_inspections(c, None))
    }

    fn batch_stamps_and_entries(
        &self,
        batch: BatchId,
    ) -> StoreResult<(Vec<StoredStamp>, Vec<crate::audit::Entry>)> {
        self.read(|c| {
            let stamps = c.query_map(
                &format!("SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.batch_id = ?1 ORDER BY s.seq"),
                args![batch.0],
                stamp_row,
            )?;
            let entries = c.query_map(
                "SELECT seq, at, actor, action, object, before, after FROM audit_log WHERE object = ?1 ORDER BY seq",
                args![format!("batch:{batch}")],
                audit_entry,
            )?;
            Ok((stamps, entries))
        })
    }

    fn audit_entries_about(&self, object: &str) -> StoreResult<Vec<crate::audit::Entry>> {
        self.read(|c| {
            c.query_map(
                "SELECT seq, at, actor, action, object, before, after FROM audit_log WHERE object = ?1 ORDER BY seq",
                args![object],
                audit_entry,
            )
        })
    }

    fn record_verification(
        &self,
        id: &str,
        batch: BatchId,
        actor: &str,
        verdict: &str,
        report: &str,
    ) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO verifications (id, batch_id, at, actor, verdict, report) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![id, batch.0, now(), actor, verdict, report],
            )?;
            audit_append(
                tx,
                actor,
                "batch.verify",
                &format!("verification:{id}"),
                None,
                Some(serde_json::json!({ "batch": batch.0, "verdict": verdict })),
            )
        })
    }

    fn audit_size(&self) -> StoreResult<u64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM audit_log",
                args![],
                |r| r.get::<i64>(0),
            )? as u64)
        })
    }

    fn audit_perfect(&self, level: u32, idx: u64) -> StoreResult<merkle::Hash> {
        self.read(|c| perfect_on(c, level, idx))
    }

    fn audit_heads(&self) -> StoreResult<Vec<crate::audit::TreeHead>> {
        self.read(|c| {
            c.query_map(
                "SELECT size, root, at, kid, signature FROM audit_heads ORDER BY size",
                args![],
                |r| {
                    Ok(crate::audit::TreeHead {
                        size: r.get::<i64>(0)? as u64,
                        root: data_encoding::HEXLOWER.encode(&r.get::<Vec<u8>>(1)?),
                        at: r.get(2)?,
                        kid: r.get(3)?,
                        signature: data_encoding::BASE64URL_NOPAD.encode(&r.get::<Vec<u8>>(4)?),
                    })
                },
            )
        })
    }

    fn add_audit_head(&self, h: &crate::audit::TreeHead) -> StoreResult<()> {
        let root = data_encoding::HEXLOWER
            .decode(h.root.as_bytes())
            .map_err(|_| bad_value("root", &h.root))?;
        let sig = data_encoding::BASE64URL_NOPAD
            .decode(h.signature.as_bytes())
            .map_err(|_| bad_value("signature", &h.signature))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO audit_heads (size, root, at, kid, signature) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (size) DO NOTHING",
                args![h.size as i64, root, h.at, h.kid, sig],
            )?;
            Ok(())
        })
    }

    fn events(&self, batch: BatchId) -> StoreResult<Vec<crate::store::Event>> {
        self.read(|c| {
            if !batch_exists(c, batch)? {
                return Err(not_found("batch", batch));
            }
            c.query_map(
                "SELECT id, at, action, first_seq, last_seq, count, actor, place, reason, detail
                 FROM events WHERE batch_id = ?1 ORDER BY id",
                args![batch.0],
                |r| {
                    Ok(crate::store::Event {
                        id: r.get(0)?,
                        at: ts(r, 1)?,
                        action: r.get(2)?,
                        batch_id: batch,
                        first_seq: r.get(3)?,
                        last_seq: r.get(4)?,
                        count: r.get::<i64>(5)? as u64,
                        actor: r.get(6)?,
                        place: r.get(7)?,
                        reason: r.get(8)?,
                        detail: r
                            .get::<Option<String>>(9)?
                            .map(|d| {
                                serde_json::from_str(&d).map_err(|_| bad_value("event detail", &d))
                            })
                            .transpose()?,
                    })
                },
            )
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
                stamps_scanned: c.query_row(
                    "SELECT COUNT(*) FROM stamps WHERE batch_id = ?1 AND scan_count > 0",
                    args![batch.0],
                    |r| r.get::<i64>(0),
                )? as u64,
                ..BatchScanStats::default()
            };
            // A stamp scanned once cannot break any repeat rule.
            c.each(
                "SELECT seq, serial, scan_count, recent_scans FROM stamps
                 WHERE batch_id = ?1 AND scan_count > 1 ORDER BY seq",
                args![batch.0],
                &mut |r| {
                    let recent: Option<String> = r.get(3)?;
                    let recent: Vec<RecentScan> = recent
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| StoreError::Database(format!("stored recent scans: {e}")))?
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
                },
            )?;
            scan_pass(c, batch, &mut out, with_history)?;
            out.reports = c.query_row(
                "SELECT COUNT(*) FROM consumer_reports WHERE batch_id = ?1",
                args![batch.0],
                |r| r.get::<i64>(0),
            )? as u64;
            Ok(out)
        })
    }

    fn add_report(&self, r: &NewReport) -> StoreResult<i64> {
        self.write(|tx| {
            tx.insert(
                "INSERT INTO consumer_reports (serial, batch_id, at, kind, message, place, network) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                args![r.serial.map(serial_key), r.batch.map(|b| b.0), jiff::Timestamp::now().to_string(), r.kind, r.message, r.place, r.network],
            )
        })
    }

    fn shared(&self) -> bool {
        Self::SHARED
    }

    fn count_request(&self, network: &str, minute: i64) -> StoreResult<u64> {
        self.counter_write(|tx| {
            let n: i64 = tx.query_row(
                "INSERT INTO rate_windows (network, minute, n) VALUES (?1, ?2, 1)
                 ON CONFLICT (network, minute) DO UPDATE SET n = rate_windows.n + 1 RETURNING n",
                args![network, minute],
                |r| r.get(0),
            )?;
            if n == 1 {
                // A network's first request of a minute drops its old windows,
                // and one in sixteen also drops every window over an hour old.
                tx.execute(
                    "DELETE FROM rate_windows WHERE network = ?1 AND minute < ?2",
                    args![network, minute],
                )?;
                if network.ends_with('0') {
                    tx.execute(
                        "DELETE FROM rate_windows WHERE minute < ?1",
                        args![minute - 60],
                    )?;
                }
            }
            Ok(n.max(0) as u64)
        })
    }
}

/// Writes stamps for one issuance, replacing any stamp whose serial
/// already exists with a fresh one under the same number.
struct StampWriter<'t> {
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
                    "SELECT seq FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3",
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
