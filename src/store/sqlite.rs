//! The SQLite store: one database file, WAL, foreign keys on, migrations
//! applied at open. Writes take the write lock up front (`BEGIN IMMEDIATE`)
//! so that two writers queue instead of failing on a lock upgrade.

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{
    BatchScanStats, BatchSummary, ConsumerReport, IssueReceipt, NewPrintJob, NewRecall, NewReport,
    NewScan, NewToken, PrintJob, PrintedStamps, RecallNotice, RecallRecord, ScanOutcome,
    ScanRecord, ScannedStamp, StampFeed, Store, StoreError, StoreResult, StoredStamp,
    SuspiciousStamp, TokenInfo,
};
use super::{NewInspection, Resolution, SessionRecord, TriageItem};
use crate::audit::merkle;
use crate::codes::{Kid, StampCode};
use crate::domain::scan::{self as scan_rules, RecentScan, Registered, RepeatRules};
use crate::domain::{
    Batch, BatchId, Certification, Gtin, NewBatch, NewProducer, NewProduct, NewStage, OcopGroup,
    OcopRating, Producer, ProducerId, ProducerKind, Product, ProductId, Serial, Stage, StageTime,
    StampCounts, StampState,
};

mod embedded {
    refinery::embed_migrations!("src/store/migrations/sqlite");
}

pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// The scan recorder's own connection. Scans arrive thousands a second;
    /// on one connection SQLite keeps its page cache between transactions,
    /// while alternating pooled connections would each find the file changed
    /// and drop their whole cache.
    scans: std::sync::Mutex<Connection>,
    /// Dropped with the store, which stops the checkpoint thread.
    _checkpoints: std::sync::mpsc::Sender<()>,
    path: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Database(format!("connection pool: {e}"))
    }
}

/// How long a writer waits for another writer before giving up. Issuing a
/// million stamps holds the lock for about 15 s, so wait well past that.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // synchronous=FULL: a write is on disk when its call returns ("durable on return").
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -65536;",
    )
}

/// WAL frames (4 KiB pages) past which the checkpoint thread makes the WAL
/// start over.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Checkpoints the WAL four times a second until the returned sender is
/// dropped. PASSIVE checkpoints never block a writer, but under a steady
/// stream of scans they never catch up with the end of the WAL, which then
/// never restarts and keeps growing; so past `WAL_RESTART_FRAMES` a RESTART
/// checkpoint follows, which holds writers back only for what the passive
/// one left (a few milliseconds) and lets the next write start the WAL over.
fn spawn_checkpointer(
    pool: r2d2::Pool<SqliteConnectionManager>,
) -> StoreResult<std::sync::mpsc::Sender<()>> {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    fn checkpoint(c: &Connection, mode: &str) -> rusqlite::Result<i64> {
        c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
    }
    let (tx, rx) = channel::<()>();
    std::thread::Builder::new()
        .name("tem-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) =
                rx.recv_timeout(std::time::Duration::from_millis(250))
            {
                let done = pool.get().map_err(|e| e.to_string()).and_then(|c| {
                    let frames = checkpoint(&c, "PASSIVE").map_err(|e| e.to_string())?;
                    if frames > WAL_RESTART_FRAMES {
                        checkpoint(&c, "RESTART").map_err(|e| e.to_string())?;
                    }
                    Ok(())
                });
                if let Err(e) = done {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(tx)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            return Err(StoreError::Database(format!(
                "cannot create {}: directory {} does not exist",
                path.display(),
                parent.display()
            )));
        }
        let mut conn = Connection::open(path)
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        configure(&mut conn)
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        migrate(&mut conn)?;
        backfill_audit_nodes(&mut conn)?;
        let manager = SqliteConnectionManager::file(path).with_init(configure);
        let pool = r2d2::Pool::builder().max_size(8).build(manager)?;
        // A scan is a log entry, not a stamp: on its own connection WAL
        // commits skip the fsync (synchronous=NORMAL). A crash of the process
        // loses nothing; a power cut may lose the last few scans. Issuance,
        // printing and every other write stay synchronous=FULL.
        // Its commits leave checkpoints (copying the WAL back into the
        // database: a pass over the changed pages and an fsync) to a thread
        // of their own, so a scan does not wait for one. Its page cache is
        // 8 MB: SQLite walks the cache's hash table at every commit, and the
        // pages scans touch stay in the OS page cache anyway.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -8192;")
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        let checkpoints = spawn_checkpointer(pool.clone())?;
        Ok(SqliteStore {
            pool,
            scans: std::sync::Mutex::new(conn),
            _checkpoints: checkpoints,
            path: path.display().to_string(),
        })
    }

    fn scan_write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.scans.lock().unwrap_or_else(|e| e.into_inner());
        write_on(&mut conn, f)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self.pool.get()?;
        f(&conn)
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        write_on(&mut conn, f)
    }
}

fn write_on<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Page cache for a large issuance: random serials land all over the stamps
/// B-tree, and a cache that holds it (1M stamps ≈ 130 MB) roughly halves the
/// cost of each insert. Only the issuing connection uses it, and only while
/// it issues.
const ISSUE_CACHE: &str = "PRAGMA cache_size = -262144";
const NORMAL_CACHE: &str = "PRAGMA cache_size = -65536";

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    // refinery refuses a database with migrations this binary does not know
    // (written by a newer tem) or whose applied scripts changed.
    embedded::migrations::runner().run(conn).map_err(|e| {
        StoreError::Schema(format!(
            "{e}; was this database written by a newer or different tem?"
        ))
    })?;
    Ok(())
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// How many of stamps `first..=last` of a batch are in each state
/// (indexed by `StampState::code`).
fn range_states(tx: &Connection, batch: BatchId, first: u32, last: u32) -> StoreResult<[u64; 4]> {
    let mut by_state = [0u64; 4];
    let mut stmt = tx.prepare_cached(
        "SELECT state, COUNT(*) FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3 GROUP BY state",
    )?;
    let mut rows = stmt.query(params![batch.0, first, last])?;
    while let Some(row) = rows.next()? {
        let state: i64 = row.get(0)?;
        by_state[state.clamp(0, 3) as usize] = row.get::<_, i64>(1)? as u64;
    }
    Ok(by_state)
}

/// A product's images and certifications, in order.
fn insert_product_parts(tx: &Connection, id: ProductId, p: &NewProduct) -> StoreResult<()> {
    for (i, img) in p.images.iter().enumerate() {
        tx.execute(
            "INSERT INTO product_images (product_id, position, ref) VALUES (?1, ?2, ?3)",
            params![id.0, i as i64, img],
        )?;
    }
    for (i, c) in p.certifications.iter().enumerate() {
        tx.execute(
            "INSERT INTO certifications (product_id, position, name, issuer, number, valid_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id.0, i as i64, c.name, c.issuer, c.number, c.valid_until.map(|d| d.to_string())],
        )?;
    }
    Ok(())
}

/// An audit entry from columns seq, at, actor, action, object, before, after.
fn audit_entry(r: &Row<'_>) -> StoreResult<crate::audit::Entry> {
    let json = |i: usize| -> StoreResult<Option<serde_json::Value>> {
        let text: Option<String> = r.get(i)?;
        text.map(|t| serde_json::from_str(&t).map_err(|_| bad_value("audit JSON", &t)))
            .transpose()
    };
    Ok(crate::audit::Entry {
        seq: r.get::<_, i64>(0)? as u64,
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
    tx: &Connection,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> StoreResult<()> {
    if cfg!(feature = "bench-without-audit") {
        return Ok(());
    }
    let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log", [], |r| {
        r.get(0)
    })?;
    let entry = crate::audit::Entry {
        seq: seq as u64,
        at: now(),
        actor: actor.to_string(),
        action: action.to_string(),
        object: object.to_string(),
        before,
        after,
    };
    tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, object, before, after, leaf) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.object,
        entry.before.as_ref().map(|v| v.to_string()),
        entry.after.as_ref().map(|v| v.to_string()),
        &entry.leaf()[..]
    ])?;
    store_completed_nodes(tx, seq as u64 - 1, entry.leaf())
}

/// After leaf `index` is appended: stores every perfect subtree it
/// completes (docs/audit-log.md, V9).
fn store_completed_nodes(tx: &Connection, index: u64, leaf: merkle::Hash) -> StoreResult<()> {
    let (mut level, mut idx, mut h) = (0u32, index, leaf);
    while idx % 2 == 1 {
        let sibling = perfect_on(tx, level, idx - 1)?;
        h = merkle::node_hash(&sibling, &h);
        level += 1;
        idx /= 2;
        tx.prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?
            .execute(params![level, idx as i64, &h[..]])?;
    }
    Ok(())
}

/// A stored perfect subtree: level 0 is an entry's leaf hash.
fn perfect_on(c: &Connection, level: u32, idx: u64) -> StoreResult<merkle::Hash> {
    let blob: Option<Vec<u8>> = if level == 0 {
        c.prepare_cached("SELECT leaf FROM audit_log WHERE seq = ?1")?
            .query_row([idx as i64 + 1], |r| r.get(0))
            .optional()?
    } else {
        c.prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level, idx as i64], |r| r.get(0))
            .optional()?
    };
    blob.and_then(|b| merkle::Hash::try_from(b.as_slice()).ok())
        .ok_or_else(|| StoreError::Database(format!("audit tree node {level}/{idx} is missing")))
}

/// Writes the stored subtrees of an audit log that has entries without
/// them (a database from before V9); a no-op when they are complete.
fn backfill_audit_nodes(conn: &mut Connection) -> StoreResult<()> {
    // Two index probes, not counts: this runs every time the store opens.
    let (two_entries, any_node): (bool, bool) = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq = 2), EXISTS (SELECT 1 FROM audit_nodes)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // Only a log that never had them: stored nodes that disagree with the
    // entries are left for `tem audit verify` (which recomputes from the
    // entries) and for proof checkers to notice, not repaired quietly.
    if any_node || !two_entries {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM audit_nodes", [])?;
    let leaves: Vec<Vec<u8>> = tx
        .prepare("SELECT leaf FROM audit_log ORDER BY seq")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (i, leaf) in leaves.iter().enumerate() {
        let leaf = merkle::Hash::try_from(leaf.as_slice())
            .map_err(|_| StoreError::Database(format!("audit entry {} has a bad hash", i + 1)))?;
        store_completed_nodes(&tx, i as u64, leaf)?;
    }
    tx.commit()?;
    Ok(())
}

/// Inspections (one, or all newest first) with their summaries from the
/// items' verdicts, and no items.
fn load_inspections(
    c: &Connection,
    id: Option<i64>,
) -> StoreResult<Vec<crate::domain::inspection::Inspection>> {
    let mut stmt = c.prepare(
        "SELECT i.id, i.at, i.place, i.province, i.lat, i.lon, i.note, i.inspector, i.source, i.bundle_at, i.created_at,
                (SELECT json_group_array(json_array(verdict, duplicate_of IS NOT NULL)) FROM inspection_items WHERE inspection_id = i.id)
         FROM inspections i WHERE ?1 IS NULL OR i.id = ?1 ORDER BY i.at DESC, i.id DESC",
    )?;
    let mut rows = stmt.query([id])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let verdicts: String = r.get(11)?;
        let verdicts: Vec<(String, i64)> = serde_json::from_str(&verdicts)
            .map_err(|_| bad_value("inspection items", &verdicts))?;
        let items: Vec<crate::domain::inspection::Item> = verdicts
            .into_iter()
            .enumerate()
            .map(|(n, (verdict, dup))| crate::domain::inspection::Item {
                n: n as u32 + 1,
                source: String::new(),
                input: String::new(),
                serial: None,
                batch_id: None,
                verdict,
                reason: None,
                duplicate_of: (dup != 0).then_some(0),
                offline_verdict: None,
                checked_at: None,
            })
            .collect();
        out.push(crate::domain::inspection::Inspection {
            id: r.get(0)?,
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
            summary: crate::domain::inspection::summarise(&items),
            items: Vec::new(),
        });
    }
    Ok(out)
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
fn record_event(tx: &Connection, action: &str, batch: BatchId, e: EventRow<'_>) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, reason, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        now(),
        action,
        batch.0,
        e.first_seq,
        e.last_seq,
        e.count as i64,
        e.actor,
        e.reason,
        e.detail.as_ref().map(|d| d.to_string())
    ])?;
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
    c: &Connection,
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
    let mut stmt = c.prepare_cached(
        "SELECT at, verdict, serial, network, device, agent, lat IS NOT NULL FROM scans WHERE batch_id = ?1 ORDER BY at",
    )?;
    let mut rows = stmt.query([batch.0])?;
    let mut per_day: Vec<(String, u64)> = Vec::new();
    let mut by_verdict: std::collections::BTreeMap<String, u64> = Default::default();
    // The UTC date and hour decide the date in Vietnam (UTC+7); scans come
    // in time order, so the last answer is almost always the next one.
    let mut last_key = String::new();
    let mut last_day = String::new();
    let (mut first, mut last) = (None::<String>, String::new());
    while let Some(r) = rows.next()? {
        let at = r
            .get_ref(0)?
            .as_str()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        out.scans += 1;
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
        let verdict = r
            .get_ref(1)?
            .as_str()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        match by_verdict.get_mut(verdict) {
            Some(n) => *n += 1,
            None => {
                by_verdict.insert(verdict.to_string(), 1);
            }
        }
        if with_history
            && let Some(serial) = r.get::<_, Option<i64>>(2)?
            && wanted.contains(&serial)
        {
            out.history.push(ScanRecord {
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
    }
    out.first_scan_at = first.as_deref().map(timestamp).transpose()?;
    out.last_scan_at = first.is_some().then(|| timestamp(&last)).transpose()?;
    out.per_day = per_day;
    out.by_verdict = by_verdict.into_iter().collect();
    Ok(())
}

/// Triage items: alerts from `events` and reports from `consumer_reports`,
/// with their resolutions; `only` picks one item.
fn load_triage(
    c: &Connection,
    open_only: bool,
    batch: Option<BatchId>,
    only: Option<(&str, i64)>,
) -> StoreResult<Vec<TriageItem>> {
    let sql = "SELECT * FROM (
            SELECT 'alert' AS kind, e.id, e.batch_id, e.first_seq AS seq, json_extract(e.detail, '$.serial') AS serial,
                   e.at, e.reason AS summary, e.place, r.outcome, r.note, r.actor, r.resolved_at
            FROM events e LEFT JOIN triage_resolutions r ON r.kind = 'alert' AND r.item_id = e.id
            WHERE e.action = 'alert'
            UNION ALL
            SELECT 'report', c.id, c.batch_id, s.seq, CAST(c.serial AS TEXT), c.at,
                   c.kind || COALESCE(': ' || c.message, ''), c.place, r.outcome, r.note, r.actor, r.resolved_at
            FROM consumer_reports c
            LEFT JOIN stamps s ON s.serial = c.serial
            LEFT JOIN triage_resolutions r ON r.kind = 'report' AND r.item_id = c.id
        )
        WHERE (?1 = 0 OR outcome IS NULL) AND (?2 IS NULL OR batch_id = ?2)
          AND (?3 IS NULL OR (kind = ?3 AND id = ?4))
        ORDER BY at DESC, id DESC
        LIMIT 10000";
    let mut stmt = c.prepare(sql)?;
    type Row = (
        String,
        i64,
        Option<u32>,
        Option<u32>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map(
            params![
                open_only as i64,
                batch.map(|b| b.0),
                only.map(|o| o.0),
                only.map(|o| o.1)
            ],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(
            |(
                kind,
                id,
                batch_id,
                seq,
                serial,
                at,
                summary,
                place,
                outcome,
                note,
                actor,
                resolved_at,
            )| {
                // Report serials are stored as integers; alerts carry them as text.
                let serial = serial.map(|s| match s.parse::<i64>() {
                    Ok(n) if kind == "report" => Serial(n as u64).to_string(),
                    _ => s,
                });
                let resolution = match (outcome, note, actor, resolved_at) {
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
                    seq,
                    serial,
                    at: timestamp(&at)?,
                    summary: summary.unwrap_or_default(),
                    place,
                    resolution,
                })
            },
        )
        .collect()
}

/// The indexed part of a token hash: its first 8 bytes, hex.
fn token_lookup(hash: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(&hash[..8])
}

fn load_tokens<P: rusqlite::Params>(
    c: &Connection,
    filter: &str,
    params: P,
) -> StoreResult<Vec<TokenInfo>> {
    let mut stmt = c.prepare(&format!(
        "SELECT id, role, producer_id, provinces, label, created_at, expires_at, revoked_at FROM api_tokens {filter} ORDER BY id"
    ))?;
    type Row = (
        i64,
        String,
        Option<i64>,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map(params, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(
            |(id, role, producer, provinces, label, created, expires, revoked)| {
                Ok(TokenInfo {
                    id,
                    grant: crate::domain::Grant {
                        role: crate::domain::Role::parse(&role)
                            .ok_or_else(|| bad_value("role", &role))?,
                        producer: producer.map(ProducerId),
                        provinces: serde_json::from_str(&provinces)
                            .map_err(|_| bad_value("provinces", &provinces))?,
                    },
                    label,
                    created_at: timestamp(&created)?,
                    expires_at: timestamp(&expires)?,
                    revoked_at: revoked.as_deref().map(timestamp).transpose()?,
                })
            },
        )
        .collect()
}

/// A stored RFC 3339 time.
fn timestamp(t: &str) -> StoreResult<jiff::Timestamp> {
    t.parse().map_err(|_| bad_value("time", t))
}

fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Database(format!("stored {what} {value:?} is not valid"))
}

/// A column that holds text tem did not write (edited by hand, or a bug).
fn invalid(idx: usize, what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        format!("stored {what} {value:?} is not valid").into(),
    )
}

fn ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<jiff::Timestamp> {
    let s: String = row.get(idx)?;
    s.parse().map_err(|_| invalid(idx, "time", &s))
}

fn day(row: &Row<'_>, idx: usize) -> rusqlite::Result<jiff::civil::Date> {
    let s: String = row.get(idx)?;
    s.parse().map_err(|_| invalid(idx, "date", &s))
}

fn opt_day(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<jiff::civil::Date>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| s.parse().map_err(|_| invalid(idx, "date", &s)))
        .transpose()
}

// ---------------------------------------------------------------- producers

const PRODUCER_COLUMNS: &str = "id, kind, name, registration_no, street, commune, district, province, phone, email, created_at";

fn producer_row(row: &Row<'_>) -> rusqlite::Result<Producer> {
    let kind: String = row.get(1)?;
    Ok(Producer {
        id: ProducerId(row.get(0)?),
        kind: ProducerKind::parse("kind", &kind).map_err(|_| invalid(1, "producer kind", &kind))?,
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

fn load_producer(conn: &Connection, id: ProducerId) -> StoreResult<Option<Producer>> {
    Ok(conn
        .query_row(
            &format!("SELECT {PRODUCER_COLUMNS} FROM producers WHERE id = ?1"),
            [id.0],
            producer_row,
        )
        .optional()?)
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

fn product_row(row: &Row<'_>) -> rusqlite::Result<ProductRow> {
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

fn finish_product(conn: &Connection, r: ProductRow) -> StoreResult<Product> {
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
    let images = conn
        .prepare_cached("SELECT ref FROM product_images WHERE product_id = ?1 ORDER BY position")?
        .query_map([r.id], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let mut certifications = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT name, issuer, number, valid_until FROM certifications WHERE product_id = ?1 ORDER BY position",
    )?;
    let mut rows = stmt.query([r.id])?;
    while let Some(row) = rows.next()? {
        certifications.push(Certification {
            name: row.get(0)?,
            issuer: row.get(1)?,
            number: row.get(2)?,
            valid_until: opt_day(row, 3)?,
        });
    }
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

fn load_product(conn: &Connection, id: ProductId) -> StoreResult<Option<Product>> {
    let row = conn
        .query_row(
            &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1"),
            [id.0],
            product_row,
        )
        .optional()?;
    row.map(|r| finish_product(conn, r)).transpose()
}

// ---------------------------------------------------------------- batches

const BATCH_COLUMNS: &str = "id, product_id, lot_code, production_date, expiry_date, shelf_life_days, \
     quantity, unit, raw_material_area, created_at";

fn load_batch(conn: &Connection, id: BatchId) -> StoreResult<Option<Batch>> {
    let batch = conn
        .query_row(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
            [id.0],
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
        )
        .optional()?;
    let Some(mut batch) = batch else {
        return Ok(None);
    };
    batch.stages = load_stages(conn, id)?;
    batch.stamps = counts(conn, id)?;
    Ok(Some(batch))
}

fn load_stages(conn: &Connection, batch: BatchId) -> StoreResult<Vec<Stage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT position, name, place, time, note FROM stages WHERE batch_id = ?1 ORDER BY position",
    )?;
    let stages = stmt
        .query_map([batch.0], |r| {
            Ok(Stage {
                position: r.get(0)?,
                name: r.get(1)?,
                place: r.get(2)?,
                time: StageTime::from_stored(r.get(3)?),
                note: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(stages)
}

fn insert_stage(
    tx: &Transaction<'_>,
    batch: BatchId,
    position: u32,
    s: &NewStage,
) -> StoreResult<Stage> {
    tx.prepare_cached(
        "INSERT INTO stages (batch_id, position, name, place, time, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![batch.0, position, s.name, s.place, s.time.as_str(), s.note])?;
    Ok(Stage {
        position,
        name: s.name.clone(),
        place: s.place.clone(),
        time: s.time.clone(),
        note: s.note.clone(),
    })
}

fn counts(conn: &Connection, batch: BatchId) -> StoreResult<StampCounts> {
    let mut c = StampCounts::default();
    let mut stmt =
        conn.prepare_cached("SELECT state, n FROM batch_stamp_counts WHERE batch_id = ?1")?;
    let mut rows = stmt.query([batch.0])?;
    while let Some(row) = rows.next()? {
        let n = u64::try_from(row.get::<_, i64>(1)?)
            .map_err(|_| bad_value("stamp count", "negative"))?;
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

fn batch_exists(conn: &Connection, batch: BatchId) -> StoreResult<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM batches WHERE id = ?1", [batch.0], |_| Ok(()))
        .optional()?
        .is_some())
}

fn not_found(what: &'static str, id: impl std::fmt::Display) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

// ---------------------------------------------------------------- stamps

const STAMP_COLUMNS: &str = "s.serial, s.batch_id, s.seq, s.state, k.kid, s.signature";
const STAMP_FROM: &str =
    "FROM stamps s JOIN issuances i ON i.id = s.issuance_id JOIN signing_keys k ON k.id = i.key_id";

fn stamp_row(r: &Row<'_>) -> rusqlite::Result<(i64, u32, u32, i64, String, Vec<u8>)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_stamp(
    (serial, batch, seq, state, kid, sig): (i64, u32, u32, i64, String, Vec<u8>),
) -> StoreResult<StoredStamp> {
    Ok(StoredStamp {
        serial: Serial(serial as u64),
        batch: BatchId(batch),
        seq,
        state: StampState::from_code(state)
            .ok_or_else(|| bad_value("stamp state", &state.to_string()))?,
        kid: Kid::parse(&kid).ok_or_else(|| bad_value("kid", &kid))?,
        signature: sig
            .try_into()
            .map_err(|_| bad_value("signature", "(wrong length)"))?,
    })
}

/// Serials are stored as SQLite's signed 64-bit integers, bit for bit.
fn serial_key(serial: Serial) -> i64 {
    serial.0 as i64
}

impl Store for SqliteStore {
    fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    fn create_producer(&self, p: &NewProducer, actor: &str) -> StoreResult<Producer> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO producers (kind, name, registration_no, street, commune, district, province, phone, email, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![p.kind.as_str(), p.name, p.registration_no, p.street, p.commune, p.district, p.province, p.phone, p.email, now()],
            )?;
            let id = ProducerId(tx.last_insert_rowid());
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
            let mut stmt = c.prepare(&format!(
                "SELECT {PRODUCER_COLUMNS} FROM producers ORDER BY id"
            ))?;
            Ok(stmt
                .query_map([], producer_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn create_product(&self, p: &NewProduct, actor: &str) -> StoreResult<Product> {
        self.write(|tx| {
            if load_producer(tx, p.producer_id)?.is_none() {
                return Err(not_found("producer", p.producer_id));
            }
            tx.execute(
                "INSERT INTO products (producer_id, name, ocop_group, ocop_stars, ocop_decision_no, ocop_decision_date, gtin, description, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
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
            )?;
            let id = ProductId(tx.last_insert_rowid());
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
                params![
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
            tx.execute("DELETE FROM product_images WHERE product_id = ?1", [id.0])?;
            tx.execute("DELETE FROM certifications WHERE product_id = ?1", [id.0])?;
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
            let mut stmt = c.prepare(&format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE ?1 IS NULL OR producer_id = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([producer.map(|p| p.0)], product_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(|r| finish_product(c, r)).collect()
        })
    }

    fn create_batch(&self, b: &NewBatch, actor: &str) -> StoreResult<Batch> {
        self.write(|tx| {
            if load_product(tx, b.product_id)?.is_none() {
                return Err(not_found("product", b.product_id));
            }
            let taken = tx
                .query_row(
                    "SELECT id FROM batches WHERE product_id = ?1 AND lot_code = ?2",
                    params![b.product_id.0, b.lot_code],
                    |r| r.get::<_, u32>(0),
                )
                .optional()?;
            if let Some(other) = taken {
                return Err(StoreError::Conflict(format!(
                    "lot code {:?} is already used by batch {other} of product {}",
                    b.lot_code, b.product_id
                )));
            }
            tx.execute(
                "INSERT INTO batches (product_id, lot_code, production_date, expiry_date, shelf_life_days, quantity, unit, raw_material_area, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
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
                u32::try_from(tx.last_insert_rowid())
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
            let mut stmt = c.prepare(
                "SELECT b.id, b.lot_code, b.product_id, p.name, p.producer_id, pr.name, b.production_date, b.expiry_date, b.quantity,
                        (SELECT COALESCE(SUM(n), 0) FROM batch_stamp_counts WHERE batch_id = b.id)
                 FROM batches b JOIN products p ON p.id = b.product_id JOIN producers pr ON pr.id = p.producer_id
                 WHERE ?1 IS NULL OR b.product_id = ?1 ORDER BY b.id",
            )?;
            let mut rows = stmt.query([product.map(|p| p.0)])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(BatchSummary {
                    id: BatchId(r.get(0)?),
                    lot_code: r.get(1)?,
                    product_id: ProductId(r.get(2)?),
                    product_name: r.get(3)?,
                    producer_id: ProducerId(r.get(4)?),
                    producer_name: r.get(5)?,
                    production_date: day(r, 6)?,
                    expiry_date: opt_day(r, 7)?,
                    quantity: r.get(8)?,
                    stamps_issued: r.get::<_, i64>(9)?.max(0) as u64,
                });
            }
            Ok(out)
        })
    }

    fn add_stage(&self, batch: BatchId, stage: &NewStage, actor: &str) -> StoreResult<Stage> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let next: u32 = tx.query_row(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM stages WHERE batch_id = ?1",
                [batch.0],
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
        let mut conn = self.pool.get()?;
        if count > 10_000 {
            conn.execute_batch(ISSUE_CACHE)?;
        }
        let result = write_on(&mut conn, |tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            tx.execute(
                "INSERT INTO signing_keys (kid, public_key) VALUES (?1, ?2) ON CONFLICT (kid) DO NOTHING",
                params![kid.to_string(), &public_key[..]],
            )?;
            let key_id: i64 = tx.query_row(
                "SELECT id FROM signing_keys WHERE kid = ?1",
                [kid.to_string()],
                |r| r.get(0),
            )?;
            let last_seq: u32 = tx.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM stamps WHERE batch_id = ?1",
                [batch.0],
                |r| r.get(0),
            )?;
            let first_seq = last_seq
                .checked_add(1)
                .filter(|f| f.checked_add(count - 1).is_some())
                .ok_or_else(|| {
                    StoreError::Conflict(format!("batch {batch} cannot hold more stamps"))
                })?;
            let issuance = uuid::Uuid::now_v7();
            tx.execute(
                "INSERT INTO issuances (uuid, batch_id, key_id, first_seq, count, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![issuance.to_string(), batch.0, key_id, first_seq, count, now()],
            )?;
            let issuance_id = tx.last_insert_rowid();
            let mut writer = StampWriter::new(tx, batch, issuance_id)?;
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
                for group in chunk.chunks(INSERT_ROWS) {
                    writer.insert(seq, group, feed, &mut done)?;
                    seq += group.len() as u32;
                    written += group.len() as u32;
                }
                feed.written(&done).map_err(StoreError::Aborted)?;
            }
            let replaced = writer.replaced;
            tx.execute(
                "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 0, ?2)
                 ON CONFLICT (batch_id, state) DO UPDATE SET n = n + excluded.n",
                params![batch.0, count],
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
        });
        if count > 10_000 {
            conn.execute_batch(NORMAL_CACHE)?;
        }
        result
    }

    fn stamps(&self, batch: BatchId, from_seq: u32, limit: u32) -> StoreResult<Vec<StoredStamp>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.batch_id = ?1 AND s.seq >= ?2 ORDER BY s.seq LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![batch.0, from_seq, limit], stamp_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(finish_stamp).collect()
        })
    }

    fn stamps_in_state(&self, batch: BatchId, state: StampState) -> StoreResult<Vec<StoredStamp>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.batch_id = ?1 AND s.state = ?2 ORDER BY s.seq"
            ))?;
            let rows = stmt
                .query_map(params![batch.0, state.code()], stamp_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(finish_stamp).collect()
        })
    }

    fn stamp_scans(
        &self,
        batch: BatchId,
        from_seq: u32,
        limit: u32,
    ) -> StoreResult<Vec<(u32, u64, Option<jiff::Timestamp>)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, scan_count, first_scan_at FROM stamps WHERE batch_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows: Vec<(u32, i64, Option<String>)> = stmt
                .query_map(params![batch.0, from_seq, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(seq, n, first)| {
                    Ok((seq, n as u64, first.map(|f| timestamp(&f)).transpose()?))
                })
                .collect()
        })
    }

    fn stamp(&self, serial: Serial) -> StoreResult<Option<StoredStamp>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {STAMP_COLUMNS} {STAMP_FROM} WHERE s.serial = ?1"
            ))?
            .query_row([serial_key(serial)], stamp_row)
            .optional()?
            .map(finish_stamp)
            .transpose()
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
            let mut state_of = tx.prepare_cached("SELECT state FROM stamps WHERE batch_id = ?1 AND seq = ?2")?;
            let mut mark = tx.prepare_cached("UPDATE stamps SET state = 1 WHERE batch_id = ?1 AND seq = ?2 AND state = 0")?;
            let mut newly = 0u32;
            let mut voided = Vec::new();
            for &seq in &seqs {
                let state: Option<i64> = state_of.query_row(params![job.batch.0, seq], |r| r.get(0)).optional()?;
                match state.and_then(StampState::from_code) {
                    None => return Err(not_found("stamp", format!("number {seq} of batch {}", job.batch))),
                    Some(StampState::Voided) => voided.push(seq),
                    Some(StampState::Issued) => {
                        newly += mark.execute(params![job.batch.0, seq])? as u32;
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
                tx.execute("UPDATE batch_stamp_counts SET n = n - ?2 WHERE batch_id = ?1 AND state = 0", params![job.batch.0, newly])?;
                tx.execute(
                    "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 1, ?2)
                     ON CONFLICT (batch_id, state) DO UPDATE SET n = n + excluded.n",
                    params![job.batch.0, newly],
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
                params![id.to_string(), job.batch.0, job.actor, job.layout, job.format, first, last, list, count, count - newly, created.to_string()],
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
            let mut stmt = c.prepare_cached(
                "SELECT uuid, actor, layout, format, first_seq, last_seq, stamps, reprinted, created_at
                 FROM print_jobs WHERE batch_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([batch.0], |r| {
                let uuid: String = r.get(0)?;
                Ok(PrintJob {
                    id: uuid.parse().map_err(|_| invalid(0, "uuid", &uuid))?,
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
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn record_scans(
        &self,
        scans: &[NewScan],
        check: &dyn Fn(&StampCode, Option<Kid>) -> crate::codes::CodeCheck,
        rules: &RepeatRules,
        today: jiff::civil::Date,
    ) -> StoreResult<Vec<(crate::codes::CodeCheck, ScanOutcome)>> {
        use subtle::ConstantTimeEq;
        self.scan_write(|tx| {
            let mut find = tx.prepare_cached(
                "SELECT s.batch_id, s.seq, s.state, s.scan_count, s.first_scan_at, s.recent_scans, b.expiry_date,
                        s.signature, k.kid
                 FROM stamps s JOIN batches b ON b.id = s.batch_id
                      JOIN issuances i ON i.id = s.issuance_id JOIN signing_keys k ON k.id = i.key_id
                 WHERE s.serial = ?1",
            )?;
            let mut recall = tx.prepare_cached(
                "SELECT reason, notice, created_at FROM recalls
                 WHERE batch_id = ?1 AND lifted_at IS NULL AND (first_seq IS NULL OR ?2 BETWEEN first_seq AND last_seq)
                 ORDER BY id DESC LIMIT 1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO scans (serial, batch_id, at, verdict, network, device, agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE stamps SET scan_count = ?3, first_scan_at = COALESCE(first_scan_at, ?4), recent_scans = ?5
                 WHERE batch_id = ?1 AND seq = ?2",
            )?;
            let mut out = Vec::with_capacity(scans.len());
            for scan in scans {
                // The lookup happens for every parsed code, whatever its
                // signature, so timing does not tell whether a serial exists.
                type Row = (u32, u32, i64, i64, Option<String>, Option<String>, Option<String>);
                let (code_check, found): (crate::codes::CodeCheck, Option<Row>) = match &scan.parsed {
                    Err(e) => (crate::codes::CodeCheck::malformed(e.clone()), None),
                    Ok(code) => {
                        let row = find
                            .query_row([serial_key(code.serial)], |r| {
                                Ok((
                                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                                    r.get::<_, Vec<u8>>(7)?,
                                    r.get::<_, String>(8)?,
                                ))
                            })
                            .optional()?;
                        let vouched = row.as_ref().and_then(|(f, sig, kid)| {
                            let kid = Kid::parse(kid)?;
                            let same = f.0 == code.batch.0
                                && kid.hint() == code.kid_hint
                                && bool::from(sig.as_slice().ct_eq(&code.signature[..]));
                            same.then_some(kid)
                        });
                        (check(code, vouched), row.map(|(f, _, _)| f))
                    }
                };
                let code = code_check.code.map(|c| (c.serial, c.batch));
                let signature_ok = matches!(
                    code_check.verdict,
                    crate::codes::CodeVerdict::Genuine | crate::codes::CodeVerdict::RevokedKey
                );
                // A stamp is "registered" for this code only if the code's batch matches.
                let found = found.filter(|f| signature_ok && code.is_some_and(|(_, b)| b.0 == f.0));
                let mut registered = None;
                let mut notice = None;
                if let Some((batch, seq, state, _, _, _, expiry)) = &found {
                    notice = recall
                        .query_row(params![batch, seq], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                        .optional()?
                        .map(|(reason, notice, since)| -> StoreResult<RecallNotice> {
                            Ok(RecallNotice { reason, notice, since: timestamp(&since)? })
                        })
                        .transpose()?;
                    registered = Some(Registered {
                        state: StampState::from_code(*state).ok_or_else(|| bad_value("stamp state", &state.to_string()))?,
                        recalled: notice.is_some(),
                        expiry: expiry.as_deref().map(|e| e.parse().map_err(|_| bad_value("date", e))).transpose()?,
                    });
                }
                let verdict = scan_rules::judge(code_check.verdict, registered.as_ref(), today);
                insert.execute(params![
                    code.map(|(s, _)| serial_key(s)),
                    code.map(|(_, b)| b.0),
                    scan.at.to_string(),
                    verdict.as_str(),
                    scan.network,
                    scan.device,
                    scan.agent
                ])?;
                let scan_id = tx.last_insert_rowid();
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
                        tx.prepare_cached(
                            "INSERT INTO events (at, action, batch_id, first_seq, last_seq, count, actor, place, reason, detail)
                             VALUES (?1, 'alert', ?2, ?3, ?3, 1, 'scan', ?4, ?5, ?6)",
                        )?
                        .execute(params![
                            scan.at.to_string(),
                            batch,
                            seq,
                            scan.network,
                            reasons.join(", "),
                            serde_json::json!({ "serial": serial.to_string(), "scan_id": scan_id, "scan_count": count + 1 }).to_string()
                        ])?;
                    }
                    let count = count + 1;
                    let recent_json = serde_json::to_string(&recent).map_err(|e| StoreError::Database(e.to_string()))?;
                    update.execute(params![batch, seq, count, scan.at.to_string(), recent_json])?;
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
                out.push((code_check, ScanOutcome { scan_id, verdict, repeat, stamp }));
            }
            Ok(out)
        })
    }

    fn scan_locations(&self, batch: BatchId) -> StoreResult<Vec<(f64, f64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT lat, lon FROM scans WHERE batch_id = ?1 AND lat IS NOT NULL AND lon IS NOT NULL",
            )?;
            let rows = stmt
                .query_map([batch.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
    }

    fn set_scan_location(&self, scan_id: i64, lat: f64, lon: f64) -> StoreResult<bool> {
        self.write(|tx| {
            let serial: Option<Option<i64>> = tx
                .query_row("SELECT serial FROM scans WHERE id = ?1", [scan_id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(serial) = serial else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE scans SET lat = ?2, lon = ?3 WHERE id = ?1",
                params![scan_id, lat, lon],
            )?;
            if let Some(serial) = serial {
                let row: Option<(u32, u32, Option<String>)> = tx
                    .query_row(
                        "SELECT batch_id, seq, recent_scans FROM stamps WHERE serial = ?1",
                        [serial],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
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
                            params![batch, seq, json],
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
            tx.execute(
                "INSERT INTO api_tokens (lookup, hash, role, producer_id, provinces, label, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
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
            let id = tx.last_insert_rowid();
            let info = load_tokens(tx, "WHERE id = ?1", [id])?.pop().ok_or_else(|| not_found("token", id))?;
            audit_append(tx, actor, "token.create", &format!("token:{id}"), None, serde_json::to_value(&info).ok())?;
            Ok(info)
        })
    }

    fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenInfo>> {
        use subtle::ConstantTimeEq;
        self.read(|c| {
            let stored: Option<(i64, Vec<u8>)> = c
                .query_row(
                    "SELECT id, hash FROM api_tokens WHERE lookup = ?1",
                    [token_lookup(hash)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match stored {
                Some((id, h)) if bool::from(h.as_slice().ct_eq(&hash[..])) => {
                    Ok(load_tokens(c, "WHERE id = ?1", [id])?.pop())
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
            tx.execute("DELETE FROM sessions WHERE expires_at < ?1", [&now])?;
            tx.execute(
                "INSERT INTO sessions (hash, token_id, admin_hash, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![&hash[..], token_id, admin_hash.map(|h| &h[..]), csrf, now, expires_at.to_string()],
            )?;
            Ok(())
        })
    }

    fn session(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        self.read(|c| {
            type Row = (Option<i64>, Option<Vec<u8>>, String, String);
            let row: Option<Row> = c
                .prepare_cached(
                    "SELECT token_id, admin_hash, csrf, expires_at FROM sessions WHERE hash = ?1",
                )?
                .query_row([&hash[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((token_id, admin_hash, csrf, expires_at)) = row else {
                return Ok(None);
            };
            let token = match token_id {
                Some(id) => Some(
                    load_tokens(c, "WHERE id = ?1", [id])?
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
            tx.execute("DELETE FROM sessions WHERE hash = ?1", [&hash[..]])?;
            Ok(())
        })
    }

    fn put_media(&self, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO media (name, content_type, bytes, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO NOTHING",
                params![name, content_type, bytes, now()],
            )?;
            Ok(())
        })
    }

    fn media(&self, name: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT content_type, bytes FROM media WHERE name = ?1")?
                    .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
            )
        })
    }

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(|c| load_tokens(c, "", []))
    }

    fn revoke_token(&self, id: i64, actor: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let revoked = tx.execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now()],
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
        if let Some(v) = self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })? {
            return Ok(v);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![key, make()],
            )?;
            Ok(
                tx.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })?,
            )
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
                params![r.batch.0, r.range.map(|x| x.0), r.range.map(|x| x.1), r.reason, r.notice, r.actor, now.to_string()],
            )?;
            let count: i64 = match r.range {
                Some((first, last)) => tx.query_row(
                    "SELECT COUNT(*) FROM stamps WHERE batch_id = ?1 AND seq BETWEEN ?2 AND ?3",
                    params![r.batch.0, first, last],
                    |row| row.get(0),
                )?,
                None => tx.query_row("SELECT COUNT(*) FROM stamps WHERE batch_id = ?1", [r.batch.0], |row| row.get(0))?,
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
                params![batch.0, jiff::Timestamp::now().to_string(), reason],
            )? as u32;
            if lifted > 0 {
                let stamps: i64 = tx.query_row("SELECT COUNT(*) FROM stamps WHERE batch_id = ?1", [batch.0], |r| r.get(0))?;
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
                params![batch.0, first, last, reason],
            )? as u32;
            for (state, n) in by_state.iter().enumerate().take(3) {
                if *n > 0 {
                    tx.execute(
                        "UPDATE batch_stamp_counts SET n = n - ?3 WHERE batch_id = ?1 AND state = ?2",
                        params![batch.0, state as i64, *n as i64],
                    )?;
                }
            }
            if changed > 0 {
                tx.execute(
                    "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 3, ?2)
                     ON CONFLICT (batch_id, state) DO UPDATE SET n = n + excluded.n",
                    params![batch.0, changed],
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
                params![batch.0, first, last],
            )? as u32;
            if changed > 0 {
                tx.execute(
                    "UPDATE batch_stamp_counts SET n = n - ?2 WHERE batch_id = ?1 AND state = 1",
                    params![batch.0, changed],
                )?;
                tx.execute(
                    "INSERT INTO batch_stamp_counts (batch_id, state, n) VALUES (?1, 2, ?2)
                     ON CONFLICT (batch_id, state) DO UPDATE SET n = n + excluded.n",
                    params![batch.0, changed],
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
            let mut stmt = c.prepare(
                "SELECT id, first_seq, last_seq, reason, notice, actor, created_at, lifted_at, lift_reason
                 FROM recalls WHERE batch_id = ?1 ORDER BY id",
            )?;
            type Row = (i64, Option<u32>, Option<u32>, String, String, String, String, Option<String>, Option<String>);
            let rows: Vec<Row> = stmt
                .query_map([batch.0], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, first_seq, last_seq, reason, notice, actor, created, lifted, lift_reason)| {
                    Ok(RecallRecord {
                        id,
                        first_seq,
                        last_seq,
                        reason,
                        notice,
                        actor,
                        created_at: timestamp(&created)?,
                        lifted_at: lifted.map(|l| timestamp(&l)).transpose()?,
                        lift_reason,
                    })
                })
                .collect()
        })
    }

    fn consumer_reports(&self, batch: BatchId) -> StoreResult<Vec<ConsumerReport>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, serial, at, kind, message, place FROM consumer_reports WHERE batch_id = ?1 ORDER BY id DESC",
            )?;
            type Row = (i64, Option<i64>, String, String, Option<String>, Option<String>);
            let rows: Vec<Row> = stmt
                .query_map([batch.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(id, serial, at, kind, message, place)| {
                    Ok(ConsumerReport {
                        id,
                        serial: serial.map(|s| Serial(s as u64).to_string()),
                        at: timestamp(&at)?,
                        kind,
                        message,
                        place,
                    })
                })
                .collect()
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
                params![kind, id, outcome, note, actor, now()],
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
            let mut stmt = c.prepare(
                "SELECT seq, at, actor, action, object, before, after, leaf FROM audit_log
                 WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![
                from_seq.min(i64::MAX as u64) as i64,
                limit.min(i64::MAX as u64) as i64
            ])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((audit_entry(r)?, r.get(7)?));
            }
            Ok(out)
        })
    }

    fn create_inspection(
        &self,
        new: &NewInspection,
    ) -> StoreResult<crate::domain::inspection::Inspection> {
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO inspections (at, place, province, lat, lon, note, inspector, source, bundle_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
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
            let id = tx.last_insert_rowid();
            let mut insert = tx.prepare_cached(
                "INSERT INTO inspection_items (inspection_id, n, source, input, serial, batch_id, verdict, reason, duplicate_of, offline_verdict, checked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for i in &new.items {
                insert.execute(params![
                    id, i.n, i.source, i.input, i.serial, i.batch_id, i.verdict, i.reason, i.duplicate_of,
                    i.offline_verdict, i.checked_at
                ])?;
            }
            let mut scan = tx.prepare_cached(
                "INSERT INTO scans (serial, batch_id, at, verdict, network, device, agent)
                 SELECT ?1, ?2, ?3, ?4, NULL, ?5, 'tem offline kit' FROM stamps WHERE serial = ?1 AND batch_id = ?2",
            )?;
            let mut count = tx.prepare_cached(
                "UPDATE stamps SET scan_count = scan_count + 1,
                        first_scan_at = CASE WHEN first_scan_at IS NULL OR first_scan_at > ?3 THEN ?3 ELSE first_scan_at END
                 WHERE serial = ?1 AND batch_id = ?2",
            )?;
            let device = format!("inspector {}", new.inspector);
            for s in &new.scans {
                let at = timestamp(&s.at)?.to_string();
                if scan.execute(params![serial_key(s.serial), s.batch.0, at, s.verdict, device])? == 1 {
                    count.execute(params![serial_key(s.serial), s.batch.0, at])?;
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
            let mut stmt = c.prepare(
                "SELECT n, source, input, serial, batch_id, verdict, reason, duplicate_of, offline_verdict, checked_at
                 FROM inspection_items WHERE inspection_id = ?1 ORDER BY n",
            )?;
            inspection.items = stmt
                .query_map([id], |r| {
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
                })?
                .collect::<rusqlite::Result<_>>()?;
            inspection.summary = crate::domain::inspection::summarise(&inspection.items);
            Ok(Some(inspection))
        })
    }

    fn inspections(&self) -> StoreResult<Vec<crate::domain::inspection::Inspection>> {
        self.read(|c| load_inspections(c, None))
    }

    fn audit_entries_about(&self, object: &str) -> StoreResult<Vec<crate::audit::Entry>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT seq, at, actor, action, object, before, after FROM audit_log WHERE object = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query([object])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(audit_entry(r)?);
            }
            Ok(out)
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
                params![id, batch.0, now(), actor, verdict, report],
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
            Ok(
                c.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_log", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
    }

    fn audit_perfect(&self, level: u32, idx: u64) -> StoreResult<merkle::Hash> {
        self.read(|c| perfect_on(c, level, idx))
    }

    fn audit_heads(&self) -> StoreResult<Vec<crate::audit::TreeHead>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT size, root, at, kid, signature FROM audit_heads ORDER BY size")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(crate::audit::TreeHead {
                        size: r.get::<_, i64>(0)? as u64,
                        root: data_encoding::HEXLOWER.encode(&r.get::<_, Vec<u8>>(1)?),
                        at: r.get(2)?,
                        kid: r.get(3)?,
                        signature: data_encoding::BASE64URL_NOPAD.encode(&r.get::<_, Vec<u8>>(4)?),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
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
                params![h.size as i64, root, h.at, h.kid, sig],
            )?;
            Ok(())
        })
    }

    fn events(&self, batch: BatchId) -> StoreResult<Vec<crate::store::Event>> {
        self.read(|c| {
            if !batch_exists(c, batch)? {
                return Err(not_found("batch", batch));
            }
            let mut stmt = c.prepare(
                "SELECT id, at, action, first_seq, last_seq, count, actor, place, reason, detail
                 FROM events WHERE batch_id = ?1 ORDER BY id",
            )?;
            type Row = (
                i64,
                String,
                String,
                Option<u32>,
                Option<u32>,
                i64,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let rows: Vec<Row> = stmt
                .query_map([batch.0], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(
                    |(id, at, action, first_seq, last_seq, count, actor, place, reason, detail)| {
                        Ok(crate::store::Event {
                            id,
                            at: timestamp(&at)?,
                            action,
                            batch_id: batch,
                            first_seq,
                            last_seq,
                            count: count as u64,
                            actor,
                            place,
                            reason,
                            detail: detail
                                .map(|d| {
                                    serde_json::from_str(&d)
                                        .map_err(|_| bad_value("event detail", &d))
                                })
                                .transpose()?,
                        })
                    },
                )
                .collect()
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
                    [batch.0],
                    |r| r.get::<_, i64>(0),
                )? as u64,
                ..BatchScanStats::default()
            };
            // A stamp scanned once cannot break any repeat rule.
            let mut repeated = c.prepare(
                "SELECT seq, serial, scan_count, recent_scans FROM stamps
                 WHERE batch_id = ?1 AND scan_count > 1 ORDER BY seq",
            )?;
            let mut rows = repeated.query([batch.0])?;
            while let Some(r) = rows.next()? {
                let recent: Option<String> = r.get(3)?;
                let recent: Vec<RecentScan> = recent
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| StoreError::Database(format!("stored recent scans: {e}")))?
                    .unwrap_or_default();
                let Some(last) = recent.iter().map(|s| s.at).max() else {
                    continue;
                };
                let reasons = scan_rules::repeat_reasons(&recent, last, rules);
                if !reasons.is_empty() {
                    out.suspicious.push(SuspiciousStamp {
                        seq: r.get(0)?,
                        serial: Serial(r.get::<_, i64>(1)? as u64).to_string(),
                        scan_count: r.get::<_, i64>(2)? as u64,
                        reasons,
                    });
                }
            }
            scan_pass(c, batch, &mut out, with_history)?;
            out.reports = c.query_row(
                "SELECT COUNT(*) FROM consumer_reports WHERE batch_id = ?1",
                [batch.0],
                |r| r.get::<_, i64>(0),
            )? as u64;
            Ok(out)
        })
    }

    fn add_report(&self, r: &NewReport) -> StoreResult<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO consumer_reports (serial, batch_id, at, kind, message, place, network) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![r.serial.map(serial_key), r.batch.map(|b| b.0), jiff::Timestamp::now().to_string(), r.kind, r.message, r.place, r.network],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }
}

/// Rows per INSERT statement: one statement per 32 stamps saves 31 statement
/// runs per 32 rows; 32 × 5 parameters is far below SQLite's limit.
const INSERT_ROWS: usize = 32;

/// Writes stamps for one issuance, 32 rows per statement, replacing any stamp
/// whose serial already exists with a fresh one under the same number.
struct StampWriter<'t> {
    multi: rusqlite::CachedStatement<'t>,
    single: rusqlite::CachedStatement<'t>,
    exists: rusqlite::CachedStatement<'t>,
    batch: BatchId,
    issuance: i64,
    replaced: u32,
}

impl<'t> StampWriter<'t> {
    fn new(tx: &'t Transaction<'_>, batch: BatchId, issuance: i64) -> StoreResult<Self> {
        let values = vec!["(?, ?, ?, ?, ?)"; INSERT_ROWS].join(", ");
        Ok(StampWriter {
            multi: tx.prepare_cached(&format!(
                "INSERT INTO stamps (serial, batch_id, seq, issuance_id, signature) VALUES {values} \
                 ON CONFLICT (serial) DO NOTHING"
            ))?,
            single: tx.prepare_cached(
                "INSERT INTO stamps (serial, batch_id, seq, issuance_id, signature) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (serial) DO NOTHING",
            )?,
            exists: tx.prepare_cached("SELECT 1 FROM stamps WHERE batch_id = ?1 AND seq = ?2")?,
            batch,
            issuance,
            replaced: 0,
        })
    }

    /// Inserts `group` as numbers `first_seq…`, appending what was stored to `done`.
    fn insert(
        &mut self,
        first_seq: u32,
        group: &[StampCode],
        feed: &mut dyn StampFeed,
        done: &mut Vec<(u32, StampCode)>,
    ) -> StoreResult<()> {
        let inserted = if group.len() == INSERT_ROWS {
            for (i, code) in group.iter().enumerate() {
                let base = i * 5;
                self.multi
                    .raw_bind_parameter(base + 1, serial_key(code.serial))?;
                self.multi.raw_bind_parameter(base + 2, self.batch.0)?;
                self.multi
                    .raw_bind_parameter(base + 3, first_seq + i as u32)?;
                self.multi.raw_bind_parameter(base + 4, self.issuance)?;
                self.multi
                    .raw_bind_parameter(base + 5, &code.signature[..])?;
            }
            self.multi.raw_execute()?
        } else {
            0
        };
        for (i, code) in group.iter().enumerate() {
            let seq = first_seq + i as u32;
            let mut code = *code;
            // Only rows a conflict skipped (or a short group) are written one by one.
            if inserted != group.len() && !self.stored(seq)? {
                while self.single.execute(params![
                    serial_key(code.serial),
                    self.batch.0,
                    seq,
                    self.issuance,
                    &code.signature[..]
                ])? == 0
                {
                    self.replaced += 1;
                    code = feed.replacement();
                }
            }
            done.push((seq, code));
        }
        Ok(())
    }

    fn stored(&mut self, seq: u32) -> StoreResult<bool> {
        Ok(self
            .exists
            .query_row(params![self.batch.0, seq], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {

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

    use super::*;
    use crate::domain::{BatchInput, ProducerInput, ProductInput};

    fn store_with_batch() -> (tempfile::TempDir, SqliteStore, BatchId) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let producer = store
            .create_producer(
                &NewProducer::try_from(ProducerInput {
                    kind: "household".into(),
                    name: "Hộ kinh doanh A".into(),
                    commune: "Phú Cần".into(),
                    province: "Trà Vinh".into(),
                    ..Default::default()
                })
                .unwrap(),
                "test",
            )
            .unwrap();
        let product = store
            .create_product(
                &NewProduct::try_from(ProductInput {
                    producer_id: producer.id.0,
                    name: "Dưa lưới".into(),
                    ..Default::default()
                })
                .unwrap(),
                "test",
            )
            .unwrap();
        let batch = store
            .create_batch(
                &NewBatch::from_input(
                    product.id,
                    BatchInput {
                        lot_code: "L1".into(),
                        production_date: "2024-07-20".into(),
                        quantity: 100,
                        ..Default::default()
                    },
                )
                .unwrap(),
                "test",
            )
            .unwrap();
        (dir, store, batch.id)
    }

    /// A feed that hands out the given serials, then fresh ones counting up
    /// from 1,000,000 as replacements.
    struct ScriptedFeed {
        chunks: Vec<Vec<u64>>,
        batch: BatchId,
        next_fresh: u64,
        fail_after_first_chunk: bool,
        chunks_written: usize,
    }

    impl ScriptedFeed {
        fn new(batch: BatchId, chunks: Vec<Vec<u64>>) -> Self {
            ScriptedFeed {
                chunks,
                batch,
                next_fresh: 1_000_000,
                fail_after_first_chunk: false,
                chunks_written: 0,
            }
        }

        fn code(&self, serial: u64) -> StampCode {
            StampCode {
                kid_hint: [1, 2],
                serial: Serial(serial),
                batch: self.batch,
                signature: [9; 64],
            }
        }
    }

    impl StampFeed for ScriptedFeed {
        fn next_chunk(&mut self) -> Option<Vec<StampCode>> {
            if self.chunks.is_empty() {
                return None;
            }
            let serials = self.chunks.remove(0);
            Some(serials.into_iter().map(|s| self.code(s)).collect())
        }

        fn replacement(&mut self) -> StampCode {
            self.next_fresh += 1;
            self.code(self.next_fresh)
        }

        fn written(&mut self, _: &[(u32, StampCode)]) -> Result<(), String> {
            self.chunks_written += 1;
            if self.fail_after_first_chunk {
                return Err("disk full".into());
            }
            Ok(())
        }
    }

    const KID: Kid = Kid([1, 2, 3, 4, 5, 6, 7, 8]);

    #[test]
    fn a_serial_that_exists_is_replaced_never_reused() {
        let (_dir, store, batch) = store_with_batch();
        // First issuance: serials 1..=40 (one full group of 32 and a short one).
        let first: Vec<u64> = (1..=40).collect();
        let r = store
            .issue_stamps(
                batch,
                KID,
                &[0; 32],
                40,
                "test",
                &mut ScriptedFeed::new(batch, vec![first]),
            )
            .unwrap();
        assert_eq!((r.first_seq, r.last_seq, r.replaced_duplicates), (1, 40, 0));
        // Second: 3 serials collide with the first issuance (in a full group and
        // in the short tail), one collides within the chunk itself.
        let mut second: Vec<u64> = (100..140).collect();
        second[0] = 5;
        second[20] = 40;
        second[35] = 7;
        second[36] = 101;
        let r = store
            .issue_stamps(
                batch,
                KID,
                &[0; 32],
                40,
                "test",
                &mut ScriptedFeed::new(batch, vec![second]),
            )
            .unwrap();
        assert_eq!(
            (r.first_seq, r.last_seq, r.replaced_duplicates),
            (41, 80, 4)
        );

        let all = store.stamps(batch, 1, 1000).unwrap();
        assert_eq!(all.len(), 80);
        let seqs: Vec<u32> = all.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, (1..=80).collect::<Vec<_>>());
        let serials: std::collections::HashSet<u64> = all.iter().map(|s| s.serial.0).collect();
        assert_eq!(serials.len(), 80, "no serial may appear twice");
        assert_eq!(store.stamp_counts(batch).unwrap().total, 80);
    }

    #[test]
    fn a_failing_feed_rolls_the_whole_issuance_back() {
        let (_dir, store, batch) = store_with_batch();
        let mut feed = ScriptedFeed::new(batch, vec![(1..=64).collect(), (65..=128).collect()]);
        feed.fail_after_first_chunk = true;
        let err = store
            .issue_stamps(batch, KID, &[0; 32], 128, "test", &mut feed)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Aborted(ref m) if m.contains("disk full")),
            "{err}"
        );
        assert_eq!(feed.chunks_written, 1);
        assert!(store.stamps(batch, 1, 1000).unwrap().is_empty());
        assert_eq!(store.stamp_counts(batch).unwrap(), StampCounts::default());
        // A feed that runs dry is refused the same way.
        let mut short = ScriptedFeed::new(batch, vec![(1..=10).collect()]);
        assert!(matches!(
            store.issue_stamps(batch, KID, &[0; 32], 20, "test", &mut short),
            Err(StoreError::Aborted(_))
        ));
        assert!(store.stamps(batch, 1, 1000).unwrap().is_empty());
    }

    #[test]
    fn stamps_for_another_batch_are_refused() {
        let (_dir, store, batch) = store_with_batch();
        let mut feed = ScriptedFeed::new(BatchId(batch.0 + 1), vec![(1..=5).collect()]);
        assert!(matches!(
            store.issue_stamps(batch, KID, &[0; 32], 5, "test", &mut feed),
            Err(StoreError::Aborted(_))
        ));
        let mut feed = ScriptedFeed::new(batch, vec![(1..=5).collect()]);
        let missing = BatchId(batch.0 + 1);
        assert!(matches!(
            store.issue_stamps(missing, KID, &[0; 32], 5, "test", &mut feed),
            Err(StoreError::NotFound { what: "batch", .. })
        ));
    }

    #[test]
    fn a_database_from_a_newer_tem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')",
            [],
        )
        .unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Schema(_)), "{err}");
    }
}
