//! Moving a registry from SQLite to PostgreSQL (`tem migrate-data`): every
//! table copied row for row in one PostgreSQL transaction, ids and texts as
//! they were, so the audit log's hashes and signed heads stay valid.

use std::path::Path;

use postgres::Client;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;

use super::conn::{ToArg, Value};
use super::postgres::{describe, parse_url, with_params};
use super::{PgStore, SqliteStore, StoreError, StoreResult};

pub use super::schema::TABLES;

/// What was copied: rows per table, in `TABLES` order.
#[derive(Debug, Clone)]
pub struct Copied {
    /// Rows per table.
    pub tables: Vec<(&'static str, u64)>,
}

impl Copied {
    /// Rows in all.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

fn pg_type(data_type: &str) -> StoreResult<Type> {
    Ok(match data_type {
        "bigint" => Type::INT8,
        "integer" => Type::INT4,
        "smallint" => Type::INT2,
        "text" => Type::TEXT,
        "bytea" => Type::BYTEA,
        "double precision" => Type::FLOAT8,
        "boolean" => Type::BOOL,
        other => {
            return Err(StoreError::Schema(format!(
                "column type {other} is not one tem copies"
            )));
        }
    })
}

/// Copies the SQLite database at `source` into the PostgreSQL database at
/// `target`. Both are first brought to this tem's schema. A target that
/// holds any row is refused unless `force`, which empties it first; either
/// way the copy is one transaction, so a failure leaves the target as it
/// was. `progress` hears each table's name and row count as it is copied.
pub fn sqlite_to_postgres(
    source: &Path,
    target: &str,
    force: bool,
    progress: &mut dyn FnMut(&str, u64),
) -> StoreResult<Copied> {
    if !source.exists() {
        return Err(StoreError::database(format!(
            "there is no database at {}",
            source.display()
        )));
    }
    drop(SqliteStore::open(source)?);
    let non_empty: Vec<&str> = PgStore::open(target)?
        .table_counts()?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, _)| t)
        .collect();
    let target = parse_url(target)?;
    let shown = describe(&target.config);
    let mut client = super::postgres::connect(&target)?;
    let mut src =
        rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check_tables(&src, &mut client)?;
    if !non_empty.is_empty() && !force {
        return Err(StoreError::Conflict(format!(
            "the target database {shown} is not empty (it has rows in {}); \
             pass --force to replace everything in it",
            non_empty.join(", ")
        )));
    }
    // One read transaction on the source: a consistent snapshot even while
    // tem keeps serving from it.
    let snapshot = src.transaction()?;
    let mut tx = client.transaction()?;
    if !non_empty.is_empty() {
        tx.batch_execute(&format!(
            "TRUNCATE {} RESTART IDENTITY CASCADE",
            TABLES.join(", ")
        ))?;
    }
    let mut copied = Vec::new();
    for table in TABLES {
        let n = copy_table(&snapshot, &mut tx, table)?;
        progress(table, n);
        copied.push((*table, n));
    }
    // Identity columns continue after the copied ids.
    let identities: Vec<(String, String)> = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (table, column) in identities {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), \
                 (SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}), false)"
            ),
            &[&table, &column],
        )?;
    }
    tx.commit()?;
    snapshot.finish()?;
    Ok(Copied { tables: copied })
}

/// Both databases hold exactly the tables of `TABLES` (besides the
/// migration history).
fn check_tables(src: &rusqlite::Connection, client: &mut Client) -> StoreResult<()> {
    let mut in_sqlite: Vec<String> = src
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name <> 'refinery_schema_history'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut in_pg: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name <> 'refinery_schema_history'",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut known: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    in_sqlite.sort();
    in_pg.sort();
    known.sort();
    if in_sqlite != known || in_pg != known {
        return Err(StoreError::Schema(format!(
            "the databases do not hold the tables this tem copies \
             (SQLite: {}; PostgreSQL: {})",
            in_sqlite.join(", "),
            in_pg.join(", ")
        )));
    }
    Ok(())
}

/// Streams one table into PostgreSQL with a binary COPY; returns its rows.
fn copy_table(
    src: &rusqlite::Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &str,
) -> StoreResult<u64> {
    let columns: Vec<(String, Type)> = tx
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )?
        .iter()
        .map(|r| Ok((r.get::<_, String>(0), pg_type(r.get(1))?)))
        .collect::<StoreResult<_>>()?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let types: Vec<Type> = columns.iter().map(|(_, t)| t.clone()).collect();
    let list = names.join(", ");
    let sink = tx.copy_in(&format!("COPY {table} ({list}) FROM STDIN BINARY"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut stmt = src.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    let mut values: Vec<Value> = Vec::with_capacity(names.len());
    while let Some(r) = rows.next()? {
        values.clear();
        for i in 0..names.len() {
            values.push(super::sqlite::value(r.get_ref(i)?)?);
        }
        let args: Vec<&dyn ToArg> = values.iter().map(|v| v as &dyn ToArg).collect();
        with_params(&args, |p| writer.write(p))
            .map_err(|e| StoreError::database(format!("copying {table}, row {}: {e}", n + 1)))?;
        n += 1;
    }
    writer.finish()?;
    Ok(n)
}
