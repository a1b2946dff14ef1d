//! SQL on either database. The store's queries (`sql.rs`) are written once,
//! against `Conn`; `sqlite.rs` and `postgres.rs` run them. Queries use
//! SQLite's numbered parameters (`?1`, `?2`…), which the PostgreSQL side
//! rewrites to `$1`, `$2`… when it prepares them; both sides cache prepared
//! statements per connection.
//!
//! Values cross as SQLite's five storage classes (`Arg`, `Value`), which
//! every column of tem's schema maps onto: integers, reals, text (times are
//! stored as RFC 3339 text on both, so audit entries hash the same bytes
//! wherever they are read), blobs and NULL.

use super::{StoreError, StoreResult};

/// Which SQL dialect a connection speaks, for the few queries that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// SQL for the text of member `key` of the JSON object in text column `column`.
    pub fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("(CAST({column} AS json) ->> '{key}')"),
        }
    }
}

/// A query parameter, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be passed as a query parameter.
pub trait ToArg {
    fn arg(&self) -> Arg<'_>;
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn arg(&self) -> Arg<'_> {
                Arg::Int(i64::from(*self))
            }
        }
    )*};
}
int_arg!(i64, i32, u32, u16, u8, bool);

impl ToArg for f64 {
    fn arg(&self) -> Arg<'_> {
        Arg::Real(*self)
    }
}
impl ToArg for str {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}
impl ToArg for String {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}
impl ToArg for [u8] {
    fn arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}
impl ToArg for Vec<u8> {
    fn arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}
impl<T: ToArg + ?Sized> ToArg for &T {
    fn arg(&self) -> Arg<'_> {
        (**self).arg()
    }
}
impl<T: ToArg> ToArg for Option<T> {
    fn arg(&self) -> Arg<'_> {
        match self {
            Some(v) => v.arg(),
            None => Arg::Null,
        }
    }
}

/// Query parameters, like rusqlite's `params!`.
macro_rules! args {
    () => {
        &[] as &[&dyn $crate::store::conn::ToArg]
    };
    ($($e:expr),+ $(,)?) => {
        &[$(&$e as &dyn $crate::store::conn::ToArg),+] as &[&dyn $crate::store::conn::ToArg]
    };
}
pub(crate) use args;

/// A column value as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A value read from one database can be passed to another (`migrate`).
impl ToArg for Value {
    fn arg(&self) -> Arg<'_> {
        match self {
            Value::Null => Arg::Null,
            Value::Int(i) => Arg::Int(*i),
            Value::Real(r) => Arg::Real(*r),
            Value::Text(t) => Arg::Text(t),
            Value::Blob(b) => Arg::Blob(b),
        }
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// A result row, read in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `idx` as a `T`; a stored value of another type is an error.
    pub fn get<T: FromValue>(&self, idx: usize) -> StoreResult<T> {
        let v = self
            .0
            .get(idx)
            .ok_or_else(|| StoreError::database(format!("query has no column {idx}")))?;
        T::from_value(v).ok_or_else(|| {
            StoreError::database(format!(
                "column {idx} holds {}, not {}",
                v.kind(),
                T::EXPECTED
            ))
        })
    }

    /// Column `idx` as text, without copying it.
    pub fn str(&self, idx: usize) -> StoreResult<&str> {
        match self.0.get(idx) {
            Some(Value::Text(s)) => Ok(s),
            Some(v) => Err(StoreError::database(format!(
                "column {idx} holds {}, not text",
                v.kind()
            ))),
            None => Err(StoreError::database(format!("query has no column {idx}"))),
        }
    }
}

/// What a column can be read as.
pub trait FromValue: Sized {
    const EXPECTED: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const EXPECTED: &'static str = stringify!($t);
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_value!(i64, i32, u32, u16, u8, u64);

impl FromValue for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    const EXPECTED: &'static str = "a real";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    const EXPECTED: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "a blob";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A stamp row to insert during issuance.
#[derive(Debug, Clone, Copy)]
pub struct StampRow<'a> {
    pub serial: i64,
    pub batch: u32,
    pub seq: u32,
    pub issuance: i64,
    pub signature: &'a [u8],
}

/// A connection inside a transaction (or, for reads, a snapshot).
pub trait Conn {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns how many rows it changed.
    fn execute(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<u64>;
    /// Runs an INSERT into a table with an `id` key; returns the new id.
    fn insert(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<i64>;
    /// Runs a query and hands each row to `f`. Rows may be read ahead in
    /// chunks, so `f` may run other statements on the same connection, and
    /// a large result is never held whole.
    fn each(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: &mut dyn FnMut(&Row) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// Inserts stamps, skipping any whose serial already exists; returns
    /// how many were inserted. The one bulk write, which each database does
    /// its own fastest way (a million rows per issuance).
    fn insert_stamps(&self, rows: &[StampRow<'_>]) -> StoreResult<u64>;
    /// Every row of a query, read at once (one round trip on PostgreSQL).
    fn all(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<Vec<Row>> {
        let mut out = Vec::new();
        self.each(sql, args, &mut |r| {
            out.push(r.clone());
            Ok(())
        })?;
        Ok(out)
    }
}

impl dyn Conn + '_ {
    /// Every row of a query.
    pub fn rows(&self, sql: &str, args: &[&dyn ToArg]) -> StoreResult<Vec<Row>> {
        self.all(sql, args)
    }

    /// The first row of a query, through `f`; `None` when there is none.
    /// For queries of one row (a key, `LIMIT 1`, an aggregate).
    pub fn query_opt<T>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnOnce(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.all(sql, args)?.first().map(f).transpose()
    }

    /// The first row of a query that always returns one, through `f`.
    pub fn query_row<T>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnOnce(&Row) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.query_opt(sql, args, f)?
            .ok_or_else(|| StoreError::database(format!("query returned no row: {sql}")))
    }

    /// Every row of a query, through `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        args: &[&dyn ToArg],
        f: impl FnMut(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.all(sql, args)?.iter().map(f).collect()
    }
}

/// `?1`, `?2`… rewritten as `$1`, `$2`… outside quoted text.
pub fn numbered_to_dollar(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for ch in sql.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            numbered_to_dollar("SELECT '?1', x FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b = $12"
        );
    }

    #[test]
    fn values_convert_only_to_what_they_hold() {
        let row = Row(vec![
            Value::Int(-1),
            Value::Text("x".into()),
            Value::Null,
            Value::Int(7),
        ]);
        assert!(row.get::<u32>(0).is_err(), "a negative number is no u32");
        assert_eq!(row.get::<i64>(0).unwrap(), -1);
        assert!(row.get::<i64>(1).is_err());
        assert_eq!(row.get::<Option<String>>(2).unwrap(), None);
        assert!(row.get::<String>(2).is_err());
        assert_eq!(row.get::<u8>(3).unwrap(), 7);
        assert!(row.get::<i64>(9).is_err());
    }
}
