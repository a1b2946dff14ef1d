//! The SQLite store: one database file, WAL, foreign keys on, migrations
//! applied at open. Writes take the write lock up front (`BEGIN IMMEDIATE`)
//! so that two writers queue instead of failing on a lock upgrade.

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::audit;
use super::backend::Backend;
use super::conn::{Arg, Conn, Dialect, Row, StampRow, ToArg, Value};
use super::{StoreError, StoreResult};

mod embedded {
    refinery::embed_migrations!("src/store/migrations/sqlite");
}

/// tem's registry in a SQLite file: the embedded default, one node.
pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// The scan recorder's own connection. Scans arrive thousands a second;
    /// on one connection SQLite keeps its page cache between transactions,
    /// while alternating pooled connections would each find the file changed
    /// and drop their whole cache.
    scans: std::sync::Arc<std::sync::Mutex<Connection>>,
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
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            // Another process holds the lock past the busy timeout, the
            // file cannot be opened, the disk is full or failing: the
            // request can be tried again, it did nothing.
            Some(
                C::DatabaseBusy
                | C::DatabaseLocked
                | C::CannotOpen
                | C::DiskFull
                | C::SystemIoFailure,
            ) => StoreError::unavailable("SQLite", e),
            _ => StoreError::caused("SQLite", e),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        // The pool's only error: no connection came free in time.
        StoreError::unavailable("no database connection came free", e)
    }
}

/// How long a writer waits for another writer before giving up. Issuing a
/// million stamps holds the lock for about 15 s, so wait well past that.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Every query tem runs, prepared once per connection.
    conn.set_prepared_statement_cache_capacity(128);
    // synchronous=FULL: a write is on disk when its call returns ("durable on return").
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -65536;",
    )
}

/// WAL frames (4 KiB pages) past which the checkpoint thread makes the WAL
/// start over: 256 MiB. Under a steady stream of first scans (each dirties a
/// page of its own, about 100 MB of WAL a second at full speed) the restart
/// comes every few seconds and holds scans back 15–25 ms (5,000,000 stamps,
/// random order); under ordinary loads never: the passive checkpoints keep
/// up and the WAL starts over by itself.
const WAL_RESTART_FRAMES: i64 = 65_536;
/// The restart point however short the disk (1 MiB): below it a restart
/// every quarter second would cost the scans more than the space it saves.
const WAL_RESTART_MIN_FRAMES: i64 = 256;
/// A WAL file larger than this is cut back once nothing has been written
/// for a checkpoint interval.
const WAL_KEEP_BYTES: u64 = 64 << 20;

/// Checkpoints the WAL four times a second until the returned sender is
/// dropped. PASSIVE checkpoints never block a writer, but under a steady
/// stream of scans they never catch up with the end of the WAL, which then
/// never restarts and keeps growing; so past `WAL_RESTART_FRAMES` a RESTART
/// checkpoint follows. It must hold writers back while it copies what the
/// passive one left and syncs (a few ms, since the database file is synced
/// after every passive checkpoint), so it runs on the scan
/// recorder's own connection, holding it: the recorder waits on that lock
/// and resumes the moment the checkpoint ends, instead of polling SQLite's
/// busy handler with growing sleeps (which had stalled scans for up to
/// 80 ms). The WAL file keeps its size (overwritten from the start) until
/// a quiet moment, when it is cut back to `WAL_KEEP_BYTES`.
fn spawn_checkpointer(
    path: &Path,
    pool: r2d2::Pool<SqliteConnectionManager>,
    scans: std::sync::Arc<std::sync::Mutex<Connection>>,
) -> StoreResult<std::sync::mpsc::Sender<()>> {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    /// Frames in the WAL, and how many of them are in the database.
    fn checkpoint(c: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
        c.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })
    }
    let (tx, rx) = channel::<()>();
    let wal = format!("{}-wal", path.display());
    let db = path.to_path_buf();
    std::thread::Builder::new()
        .name("tem-checkpoint".into())
        .spawn(move || {
            let mut last_frames = -1;
            while let Err(RecvTimeoutError::Timeout) =
                rx.recv_timeout(std::time::Duration::from_millis(250))
            {
                let done = pool.get().map_err(|e| e.to_string()).and_then(|c| {
                    // Under a steady stream of writes a passive checkpoint
                    // never reaches the end of the WAL, and SQLite syncs the
                    // database file only when it does: the pages it copied
                    // pile up unsynced, and the restart's sync then writes
                    // them all while writers wait (350 ms with 5,000,000
                    // stamps). Syncing them here, outside any lock, leaves
                    // the restart only what came since. (Syncing more often
                    // than SQLite asks is always safe.)
                    let passive = || -> Result<(i64, i64), String> {
                        let out = checkpoint(&c, "PASSIVE").map_err(|e| e.to_string())?;
                        if let Ok(f) = std::fs::File::open(&db) {
                            f.sync_data().map_err(|e| e.to_string())?;
                        }
                        Ok(out)
                    };
                    let (frames, done) = passive()?;
                    let quiet = frames == last_frames && frames == done;
                    last_frames = frames;
                    let mode = if frames > restart_frames(&db, &wal) {
                        // Two more passes, so what is left for the restart
                        // to copy and sync while writers wait is only what
                        // came during the last one (a few milliseconds of
                        // scans, not a quarter of a second's).
                        passive()?;
                        passive()?;
                        "RESTART"
                    } else if quiet
                        && std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEEP_BYTES)
                    {
                        // Nothing written for a while: give back the disk
                        // space a burst took (cutting a large file is slow,
                        // so never under load).
                        "TRUNCATE"
                    } else {
                        return Ok(());
                    };
                    // A reader in the way (a long report, a backup) makes
                    // it give up after 100 ms and try again next time,
                    // rather than hold the scans back until it is done.
                    let scan = scans.lock().unwrap_or_else(|e| e.into_inner());
                    let run = scan
                        .busy_timeout(Duration::from_millis(100))
                        .and_then(|()| checkpoint(&scan, mode));
                    scan.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
                    run.map_err(|e| e.to_string())?;
                    Ok(())
                });
                if let Err(e) = done {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| StoreError::database(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(tx)
}

/// WAL frames past which the checkpoint thread restarts the WAL:
/// `WAL_RESTART_FRAMES`, or fewer on a disk short of space.
fn restart_frames(db: &Path, wal: &str) -> i64 {
    let free = rustix::fs::statvfs(db)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(u64::MAX);
    let wal_len = std::fs::metadata(wal).map_or(0, |m| m.len());
    restart_frames_for(free, wal_len)
}

/// A quarter of the room the WAL has (its file plus the free space), in
/// frames, between `WAL_RESTART_MIN_FRAMES` and `WAL_RESTART_FRAMES`. Past
/// 256 MiB a burst of first scans could fill a small disk with WAL before
/// the restart; and on a disk that filled up, the space an operator frees
/// would go to more WAL, leaving none for the checkpoint to grow the
/// database by, and the WAL could never start over again.
fn restart_frames_for(free: u64, wal_len: u64) -> i64 {
    let frames = free.saturating_add(wal_len) / 4 / 4096;
    i64::try_from(frames)
        .unwrap_or(i64::MAX)
        .clamp(WAL_RESTART_MIN_FRAMES, WAL_RESTART_FRAMES)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            return Err(StoreError::database(format!(
                "cannot create {}: directory {} does not exist",
                path.display(),
                parent.display()
            )));
        }
        let mut conn = Connection::open(path)
            .map_err(|e| StoreError::database(format!("cannot open {}: {e}", path.display())))?;
        configure(&mut conn)
            .map_err(|e| StoreError::database(format!("cannot open {}: {e}", path.display())))?;
        migrate(&mut conn)?;
        if audit::audit_nodes_missing(&conn)? {
            write_on(&mut conn, audit::backfill_audit_nodes)?;
        }
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
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -8192;",
        )
            .map_err(|e| StoreError::database(format!("cannot open {}: {e}", path.display())))?;
        let conn = std::sync::Arc::new(std::sync::Mutex::new(conn));
        let checkpoints = spawn_checkpointer(path, pool.clone(), conn.clone())?;
        Ok(SqliteStore {
            pool,
            scans: conn,
            _checkpoints: checkpoints,
            path: path.display().to_string(),
        })
    }

    /// Rows in each table, for checking a copy (`tem migrate-data`).
    pub fn table_counts(&self) -> StoreResult<Vec<(&'static str, u64)>> {
        self.read(super::schema::table_counts)
    }
}

fn write_on<T>(
    conn: &mut Connection,
    f: impl FnOnce(&dyn Conn) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx: Transaction<'_> = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = f(&*tx)?;
    tx.commit()?;
    Ok(out)
}

impl Backend for SqliteStore {
    /// One process owns the file.
    const DIALECT: Dialect = Dialect::Sqlite;
    const SHARED: bool = false;

    /// One read transaction: every query of `f` sees the same snapshot
    /// (in WAL mode a deferred transaction holds its read mark), even while
    /// other connections write.
    fn read<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&*tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        write_on(&mut conn, f)
    }

    fn scan_write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.scans.lock().unwrap_or_else(|e| e.into_inner());
        write_on(&mut conn, f)
    }

    fn issue_write<T>(
        &self,
        count: u32,
        f: impl FnOnce(&dyn Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        if count > 10_000 {
            conn.execute_batch(ISSUE_CACHE)?;
        }
        let result = write_on(&mut conn, f);
        if count > 10_000 {
            conn.execute_batch(NORMAL_CACHE)?;
        }
        result
    }
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Null => ValueRef::Null,
            Arg::Int(i) => ValueRef::Integer(i),
            Arg::Real(r) => ValueRef::Real(r),
            Arg::Text(t) => ValueRef::Text(t.as_bytes()),
            Arg::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn bind<'a>(args: &'a [&'a dyn ToArg]) -> impl rusqlite::Params + 'a {
    rusqlite::params_from_iter(args.iter().map(|a| a.arg()))
}

pub(super) fn value(v: rusqlite::types::ValueRef<'_>) -> StoreResult<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| StoreError::database("stored text is not UTF-8"))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl Conn for Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<u64> {
        Ok(self.prepare_cached(sql)?.execute(bind(args))? as u64)
    }

    fn insert(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<i64> {
        self.prepare_cached(sql)?.execute(bind(args))?;
        Ok(self.last_insert_rowid())
    }

    /// 32 rows per statement (one statement run instead of 32; 160
    /// parameters, far below SQLite's limit), the rest one by one.
    fn insert_stamps(&self, rows: &[StampRow<'_>]) -> StoreResult<u64> {
        const ROWS: usize = 32;
        const ONE: &str = "INSERT INTO stamps (serial, batch_id, seq, issuance_id, signature) \
                           VALUES (?, ?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING";
        let mut inserted = 0u64;
        let mut groups = rows.chunks_exact(ROWS);
        if rows.len() >= ROWS {
            let values = vec!["(?, ?, ?, ?, ?)"; ROWS].join(", ");
            let mut multi = self.prepare_cached(&format!(
                "INSERT INTO stamps (serial, batch_id, seq, issuance_id, signature) VALUES {values} \
                 ON CONFLICT (serial) DO NOTHING"
            ))?;
            for group in groups.by_ref() {
                for (i, r) in group.iter().enumerate() {
                    let base = i * 5;
                    multi.raw_bind_parameter(base + 1, r.serial)?;
                    multi.raw_bind_parameter(base + 2, r.batch)?;
                    multi.raw_bind_parameter(base + 3, r.seq)?;
                    multi.raw_bind_parameter(base + 4, r.issuance)?;
                    multi.raw_bind_parameter(base + 5, r.signature)?;
                }
                inserted += multi.raw_execute()? as u64;
            }
        }
        let mut one = self.prepare_cached(ONE)?;
        for r in groups.remainder() {
            inserted += one.execute(rusqlite::params![
                r.serial,
                r.batch,
                r.seq,
                r.issuance,
                r.signature
            ])? as u64;
        }
        Ok(inserted)
    }

    fn each(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: &mut dyn FnMut(&Row) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut stmt = self.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(bind(args))?;
        let mut row = Row(Vec::with_capacity(columns));
        while let Some(r) = rows.next()? {
            row.0.clear();
            for i in 0..columns {
                row.0.push(value(r.get_ref(i)?)?);
            }
            f(&row)?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database locked by another process past the busy timeout is a
    /// passing outage (503, try again), not a broken request (500).
    #[test]
    fn a_locked_database_is_unavailable_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE;")
            .unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.busy_timeout(Duration::from_millis(10)).unwrap();
        let e = StoreError::from(other.execute("INSERT INTO t VALUES (1)", []).unwrap_err());
        assert!(e.is_unavailable(), "{e:?}");
        let source = std::error::Error::source(&e).expect("the cause is kept");
        assert!(source.to_string().contains("locked"), "{source}");

        holder.execute_batch("ROLLBACK").unwrap();
        let e = StoreError::from(
            other
                .execute("INSERT INTO nowhere VALUES (1)", [])
                .unwrap_err(),
        );
        assert!(!e.is_unavailable(), "{e:?}");
    }

    /// On a roomy disk the WAL restarts at 256 MiB; on a short one at a
    /// quarter of the room it has, so that space freed after the disk
    /// filled up is not all taken by more WAL (scripts/faults disk-full).
    #[test]
    fn the_wal_restarts_sooner_on_a_disk_short_of_space() {
        const MIB: u64 = 1 << 20;
        assert_eq!(restart_frames_for(100 * 1024 * MIB, 0), WAL_RESTART_FRAMES);
        assert_eq!(restart_frames_for(u64::MAX, u64::MAX), WAL_RESTART_FRAMES);
        // 160 MiB free: restart past 40 MiB, not past 256 MiB.
        assert_eq!(restart_frames_for(160 * MIB, 0), 10_240);
        // A full disk whose WAL took 160 MiB: that is the room it has.
        assert_eq!(restart_frames_for(0, 160 * MIB), 10_240);
        assert_eq!(restart_frames_for(0, 0), WAL_RESTART_MIN_FRAMES);
        // And the real disk under a temporary directory gives a sane figure.
        let dir = tempfile::tempdir().unwrap();
        let frames = restart_frames(&dir.path().join("t.db"), "no-such-wal");
        assert!((WAL_RESTART_MIN_FRAMES..=WAL_RESTART_FRAMES).contains(&frames));
    }
}
