//! The PostgreSQL store, for several tem nodes on one database. It runs the
//! same queries as the SQLite store (`sql.rs`) through a pool of connections
//! that each keep their prepared statements.
//!
//! Transactions mirror SQLite's: a read sees one snapshot (REPEATABLE READ,
//! read only); a write first takes one transaction-scoped advisory lock, so
//! writers from every node queue as SQLite's writers do. That keeps the
//! audit log's sequence and tree and stamp numbers within a batch exact
//! without retry loops. Scans hold that lock shared and lock the stamps
//! they count, so scans from several nodes run at once. Serial uniqueness
//! is the database's own unique index.

use std::collections::HashMap;
use std::time::Duration;

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, IsolationLevel, Statement};

use super::audit;
use super::backend::Backend;
use super::conn::{Arg, Conn, Dialect, Row, StampRow, ToArg, Value, numbered_to_dollar};
use super::{StoreError, StoreResult};

mod embedded {
    refinery::embed_migrations!("src/store/migrations/postgres");
}

/// The advisory lock every write transaction holds (any number will do, as
/// long as nothing else in the database uses it): "tem" in ASCII.
const WRITE_LOCK: i64 = 0x74_65_6d;
/// The advisory lock held while migrations run, so nodes starting together
/// migrate one after the other.
const MIGRATE_LOCK: i64 = 0x74_65_6d_6d;

/// Connections per node. PostgreSQL's default limit is 100 in all.
const POOL_SIZE: u32 = 16;

/// tem's registry in PostgreSQL: several stateless nodes share it.
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    /// user@host:port/dbname, never the password.
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.shown)
            .finish()
    }
}

/// A pooled connection and its prepared statements.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

struct Manager {
    config: postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.config.connect(self.tls.clone())?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        let what = pg_message(&e);
        if transient(&e) {
            StoreError::unavailable(what, e)
        } else {
            StoreError::caused(what, e)
        }
    }
}

/// Whether the server or the connection to it failed rather than the
/// query: trying again shortly (on a new connection) may succeed.
fn transient(e: &postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            let c = code.code();
            // 08: connection exception; 53: insufficient resources;
            // 57P01-57P03: shutting down or starting; 40001/40P01:
            // serialisation failure or deadlock, which a retry resolves.
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || c == "40001"
                || c == "40P01"
        }
        None => {
            e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
    }
}

/// The server's message (with its SQLSTATE) rather than the driver's
/// one-word summary.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// A URL's host, port, user and database, for messages: never the password.
pub fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

/// Parses a postgres:// URL, with its `sslmode` (`pg_tls`); the error
/// never repeats the URL (it may hold a password).
pub fn parse_url(url: &str) -> StoreResult<super::pg_tls::Target> {
    let mut target = super::pg_tls::target(url)?;
    let config = &mut target.config;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("tem");
    }
    Ok(target)
}

/// Connects once (for migrations and copies), TLS as the URL says.
pub fn connect(target: &super::pg_tls::Target) -> StoreResult<Client> {
    target.config.connect(target.tls.clone()).map_err(|e| {
        let what = format!(
            "cannot connect to PostgreSQL {} (sslmode={}): {}",
            describe(&target.config),
            target.mode.as_str(),
            pg_message(&e)
        );
        // A server that is down or starting is worth waiting for; a wrong
        // password or database is not.
        if transient(&e) {
            StoreError::unavailable(what, e)
        } else {
            StoreError::database(what)
        }
    })
}

/// How long a request waits for a pooled connection before it is answered
/// "unavailable".
const POOL_WAIT: Duration = Duration::from_secs(3);

impl PgStore {
    /// Connects and applies migrations (one node at a time).
    pub fn open(url: &str) -> StoreResult<PgStore> {
        let target = parse_url(url)?;
        let shown = describe(&target.config);
        let mut client = connect(&target)?;
        client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])?;
        let migrated = embedded::migrations::runner()
            .run(&mut client)
            .map_err(|e| {
                StoreError::Schema(format!(
                    "{e}; was this database written by a newer or different tem?"
                ))
            });
        client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK])?;
        migrated?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(2))
            // A request waits at most this long for a connection: when the
            // server is down it is answered 503 with Retry-After, not left
            // hanging (docs/reliability.md, database outage).
            .connection_timeout(POOL_WAIT)
            .build(Manager {
                config: target.config,
                tls: target.tls,
            })
            .map_err(|e| {
                StoreError::database(format!("cannot connect to PostgreSQL {shown}: {e}"))
            })?;
        let store = PgStore { pool, shown };
        if store.read(audit::audit_nodes_missing)? {
            store.write(audit::backfill_audit_nodes)?;
        }
        Ok(store)
    }

    /// Rows in each table, for checking a copy (`tem migrate-data`).
    pub fn table_counts(&self) -> StoreResult<Vec<(&'static str, u64)>> {
        self.read(super::schema::table_counts)
    }

    /// Runs `f` in a transaction of `kind` on a pooled connection: committed
    /// if it returns Ok; an error drops the transaction, which rolls it back.
    fn run<T>(&self, kind: Kind, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        let PgConn { client, statements } = &mut *conn;
        let mut tx = match kind {
            Kind::Read => client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?,
            Kind::Write | Kind::Scans | Kind::Counter => client.transaction()?,
        };
        match kind {
            Kind::Write => tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"))?,
            Kind::Scans => tx.batch_execute(&format!(
                "SET LOCAL synchronous_commit = off; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK})"
            ))?,
            Kind::Read | Kind::Counter => {}
        }
        let tx = PgTx {
            tx: std::cell::RefCell::new(tx),
            statements: std::cell::RefCell::new(statements),
        };
        let out = f(&tx)?;
        tx.tx.into_inner().commit()?;
        Ok(out)
    }
}

/// What a transaction is for, which decides how it starts.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A REPEATABLE READ, read-only snapshot.
    Read,
    /// Holds the write lock alone.
    Write,
    /// Scan groups from every node run beside each other, holding the write
    /// lock shared: each locks the rows of the stamps it counts (in serial
    /// order), and other writes, which hold the lock alone, wait for them.
    /// As with SQLite's scan connection, a scan's commit does not wait for
    /// the disk: a crash of the database server may lose the last scans,
    /// never a stamp.
    Scans,
    /// No lock: an atomic upsert of a counter.
    Counter,
}

impl Backend for PgStore {
    const DIALECT: Dialect = Dialect::Postgres;
    const SHARED: bool = true;

    fn read<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        self.run(Kind::Read, f)
    }

    fn write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        self.run(Kind::Write, f)
    }

    fn scan_write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        self.run(Kind::Scans, f)
    }

    fn counter_write<T>(&self, f: impl FnOnce(&dyn Conn) -> StoreResult<T>) -> StoreResult<T> {
        self.run(Kind::Counter, f)
    }
}

/// A transaction on a pooled connection, with its statement cache.
struct PgTx<'a> {
    tx: std::cell::RefCell<postgres::Transaction<'a>>,
    statements: std::cell::RefCell<&'a mut HashMap<String, Statement>>,
}

impl PgTx<'_> {
    fn prepare(&self, sql: &str) -> StoreResult<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let stmt = self
            .tx
            .borrow_mut()
            .prepare(&numbered_to_dollar(sql))
            .map_err(|e| StoreError::database(format!("{}: {sql}", pg_message(&e))))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    fn query(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<Vec<postgres::Row>> {
        let stmt = self.prepare(sql)?;
        Ok(with_params(args, |p| self.tx.borrow_mut().query(&stmt, p))?)
    }
}

/// Runs `f` with `args` as the driver's parameters.
pub(super) fn with_params<T>(
    args: &[&dyn ToArg],
    f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> T,
) -> T {
    let args: Vec<Arg<'_>> = args.iter().map(|a| a.arg()).collect();
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
    f(&params)
}

fn row(r: &postgres::Row) -> StoreResult<Row> {
    (0..r.len())
        .map(|i| Ok(r.try_get::<_, Value>(i)?))
        .collect::<StoreResult<Vec<_>>>()
        .map(Row)
}

impl Conn for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<u64> {
        let stmt = self.prepare(sql)?;
        Ok(with_params(args, |p| {
            self.tx.borrow_mut().execute(&stmt, p)
        })?)
    }

    fn insert(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<i64> {
        let rows = self.query(&format!("{sql} RETURNING id"), args)?;
        let first = rows
            .first()
            .ok_or_else(|| StoreError::database("INSERT returned no id"))?;
        Ok(first.try_get(0)?)
    }

    /// Each column as one array parameter (`unnest`): one statement and
    /// five binary arrays for a whole chunk, instead of five parameters a row.
    fn insert_stamps(&self, rows: &[StampRow<'_>]) -> StoreResult<u64> {
        const SQL: &str = "INSERT INTO stamps (serial, batch_id, seq, issuance_id, signature)
             SELECT * FROM unnest(CAST(?1 AS BIGINT[]), CAST(?2 AS BIGINT[]), CAST(?3 AS BIGINT[]),
                                  CAST(?4 AS BIGINT[]), CAST(?5 AS BYTEA[]))
             ON CONFLICT (serial) DO NOTHING";
        let stmt = self.prepare(SQL)?;
        let serials: Vec<i64> = rows.iter().map(|r| r.serial).collect();
        let batches: Vec<i64> = rows.iter().map(|r| i64::from(r.batch)).collect();
        let seqs: Vec<i64> = rows.iter().map(|r| i64::from(r.seq)).collect();
        let issuances: Vec<i64> = rows.iter().map(|r| r.issuance).collect();
        let signatures: Vec<&[u8]> = rows.iter().map(|r| r.signature).collect();
        Ok(self
            .tx
            .borrow_mut()
            .execute(&stmt, &[&serials, &batches, &seqs, &issuances, &signatures])?)
    }

    fn all(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<Vec<Row>> {
        self.query(sql, args)?.iter().map(row).collect()
    }

    fn each(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: &mut dyn FnMut(&Row) -> StoreResult<()>,
    ) -> StoreResult<()> {
        // Large results (a million scans of a batch) come through a portal
        // in chunks: bounded memory, and no borrow held while `f` runs.
        const CHUNK: i32 = 5_000;
        let stmt = self.prepare(sql)?;
        let portal = with_params(args, |p| self.tx.borrow_mut().bind(&stmt, p))?;
        loop {
            let rows = self.tx.borrow_mut().query_portal(&portal, CHUNK)?;
            let done = rows.len() < CHUNK as usize;
            for r in &rows {
                f(&row(r)?)?;
            }
            if done {
                return Ok(());
            }
        }
    }
}

fn is_text(ty: &Type) -> bool {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::UNKNOWN,
    ]
    .contains(ty)
}

impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(v) if *ty == Type::INT8 => v.to_sql(ty, out),
            Arg::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Arg::Int(v) if *ty == Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
            Arg::Int(v) if *ty == Type::BOOL => (v != 0).to_sql(ty, out),
            Arg::Int(v) if *ty == Type::FLOAT8 => (v as f64).to_sql(ty, out),
            Arg::Int(v) if is_text(ty) => v.to_string().to_sql(&Type::TEXT, out),
            Arg::Real(v) if *ty == Type::FLOAT8 => v.to_sql(ty, out),
            Arg::Real(v) if *ty == Type::FLOAT4 => (v as f32).to_sql(ty, out),
            Arg::Text(s) if is_text(ty) => s.to_sql(&Type::TEXT, out),
            Arg::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            other => Err(format!("cannot pass {other:?} as a PostgreSQL {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match ty {
            t if *t == Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            t if *t == Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            t if *t == Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            t if *t == Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            t if *t == Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            t if *t == Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            t if *t == Type::BYTEA => Value::Blob(raw.to_vec()),
            t if is_text(t) || *t == Type::JSON => Value::Text(String::from_sql(&Type::TEXT, raw)?),
            other => return Err(format!("tem cannot read a PostgreSQL {other} column").into()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
