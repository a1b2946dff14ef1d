//! A consistent copy of a SQLite database while tem keeps writing to it
//! (SQLite's online backup API), checked before anyone relies on it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{StoreError, StoreResult};

/// What the checked copy holds.
#[derive(Debug, Clone, Copy)]
pub struct CopyCounts {
    /// Stamps in the copy.
    pub stamps: i64,
    /// Scans in the copy.
    pub scans: i64,
    /// Audit entries in the copy.
    pub audit_entries: i64,
}

/// Copies `source` to `target` (a new file) page group by page group;
/// `on_progress(done, total)` hears pages. The copy must pass SQLite's
/// integrity check.
pub fn sqlite_copy(
    source: &Path,
    target: &Path,
    on_progress: &mut dyn FnMut(u64, u64),
) -> StoreResult<CopyCounts> {
    let failed = |what: &str| {
        let what = what.to_string();
        move |e: rusqlite::Error| StoreError::caused(what, e)
    };
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(failed(&format!("opening {}", source.display())))?;
    {
        let mut dst =
            Connection::open(target).map_err(failed(&format!("creating {}", target.display())))?;
        let backup =
            rusqlite::backup::Backup::new(&src, &mut dst).map_err(failed("starting the copy"))?;
        // The whole copy in one step: one read transaction, so the copy is
        // the database at one moment, and in WAL mode writers (scans,
        // issues) go on meanwhile. Copied a few pages a step, SQLite starts
        // over whenever another connection writes between two steps: under
        // a steady scan load the copy never finished (docs/reliability.md).
        // A step that finds the source busy or locked is tried again.
        loop {
            use rusqlite::backup::StepResult;
            let step = backup.step(-1).map_err(failed("copying the database"))?;
            let p = backup.progress();
            on_progress(
                (p.pagecount - p.remaining).max(0) as u64,
                p.pagecount.max(0) as u64,
            );
            if step == StepResult::Done {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let copy = Connection::open(target).map_err(failed("opening the copy"))?;
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(failed("checking the copy"))?;
    if check != "ok" {
        return Err(StoreError::database(format!(
            "the copy failed SQLite's integrity check: {check}"
        )));
    }
    let count = |table: &str| -> StoreResult<i64> {
        copy.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(failed(&format!("counting {table}")))
    };
    Ok(CopyCounts {
        stamps: count("stamps")?,
        scans: count("scans")?,
        audit_entries: count("audit_log")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A backup taken while another connection writes all the time (a scan
    /// load) finishes, and is the database at one moment. Copied a few
    /// pages a step, SQLite restarted the copy at every write and it never
    /// finished while the writes went on.
    #[test]
    fn a_copy_finishes_while_another_connection_keeps_writing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = dir.path().join("tem.db");
        let setup = Connection::open(&source).expect("open");
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE stamps (id INTEGER PRIMARY KEY, n INTEGER, code BLOB);
                 CREATE TABLE scans (id INTEGER PRIMARY KEY, stamp INTEGER);
                 CREATE TABLE audit_log (id INTEGER PRIMARY KEY);
                 WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 200000)
                 INSERT INTO stamps SELECT i, 0, randomblob(100) FROM k;",
            )
            .expect("setup");
        drop(setup);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (source, stop) = (source.clone(), stop.clone());
            std::thread::spawn(move || {
                let c = Connection::open(&source).expect("writer");
                let mut i = 0i64;
                let started = std::time::Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(20) {
                    i += 1;
                    c.execute_batch(&format!(
                        "BEGIN; INSERT INTO scans (stamp) VALUES ({s});
                         UPDATE stamps SET n = n + 1 WHERE id = {s}; COMMIT;",
                        s = i % 200_000 + 1
                    ))
                    .expect("write");
                }
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        let started = std::time::Instant::now();
        let counts =
            sqlite_copy(&source, &dir.path().join("copy.db"), &mut |_, _| {}).expect("copy");
        let took = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        writer.join().expect("writer");
        assert!(took < Duration::from_secs(10), "the copy took {took:?}");
        // One moment: the counters in the copy add up to its scan rows.
        let copy = Connection::open(dir.path().join("copy.db")).expect("copy");
        let total: i64 = copy
            .query_row("SELECT SUM(n) FROM stamps", [], |r| r.get(0))
            .expect("sum");
        assert_eq!(total, counts.scans);
        assert!(counts.scans > 0, "the writer wrote before the copy");
    }
}
