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
        // 1,000 pages (4 MB) a step, pausing 10 ms between steps so that
        // writers (scans, issues) are never held up for long.
        loop {
            use rusqlite::backup::StepResult;
            let step = backup.step(1000).map_err(failed("copying the database"))?;
            let p = backup.progress();
            on_progress(
                (p.pagecount - p.remaining).max(0) as u64,
                p.pagecount.max(0) as u64,
            );
            if step == StepResult::Done {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
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
