//! Moving a registry from SQLite to PostgreSQL (`tem migrate-data`), then
//! checking the copy: the same rows in every table, and an audit log that
//! verifies on its own (against the service's keys, never keys from either
//! database) and has the same root as the source's.

use std::path::Path;

use super::{ServiceResult, audit};
use crate::audit::merkle;
use crate::codes::KeySet;
use crate::store::prelude::*;
use crate::store::{PgStore, SqliteStore, migrate};

/// The tables copied, in order.
pub const TABLES: &[&str] = migrate::TABLES;

/// What was copied and what the check found.
#[derive(Debug)]
pub struct Migration {
    /// Rows copied.
    pub rows: u64,
    /// Each table's rows in the source and in the copy.
    pub counts: Vec<(String, u64, u64)>,
    /// Audit entries in the copy.
    pub audit_size: u64,
    /// Signed tree heads checked.
    pub heads_checked: usize,
    /// Everything that does not match; empty: the copy is good.
    pub problems: Vec<String>,
}

/// Copies `source` into the PostgreSQL database at `target` (which must be
/// empty unless `force`), then checks the copy. `on_table(name, rows)`
/// hears each table as it is copied.
pub fn sqlite_to_postgres(
    source: &Path,
    target: &str,
    force: bool,
    keys: &KeySet,
    on_table: &mut dyn FnMut(&str, u64),
) -> ServiceResult<Migration> {
    let copied = migrate::sqlite_to_postgres(source, target, force, on_table)?;
    // Check the copy as it now stands in PostgreSQL.
    let src = SqliteStore::open(source)?;
    let dst = PgStore::open(target)?;
    let mut problems = Vec::new();
    let mut counts = Vec::new();
    for ((table, a), (_, b)) in src.table_counts()?.iter().zip(&dst.table_counts()?) {
        if a != b {
            problems.push(format!("{table}: {a} rows in SQLite, {b} in PostgreSQL"));
        }
        counts.push((table.to_string(), *a, *b));
    }
    let checked = audit::verify(&dst, keys, Vec::new())?;
    problems.extend(checked.findings.iter().map(|f| format!("audit log: {f}")));
    let size = dst.audit_size()?;
    let root = |s: &dyn Store| -> ServiceResult<merkle::Hash> {
        let mut s = s;
        Ok(merkle::range_hash(&mut s, 0, size)?)
    };
    if src.audit_size()? != size || root(&src)? != root(&dst)? {
        problems.push("audit log: the copy's tree differs from the source's".into());
    }
    Ok(Migration {
        rows: copied.rows(),
        counts,
        audit_size: size,
        heads_checked: checked.heads_checked,
        problems,
    })
}
