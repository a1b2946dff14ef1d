//! What a database adds to the store's queries: connections, transactions and
//! their locking. Every method of the store's traits is one transaction on it.

use super::StoreResult;
use super::conn::{Conn, Dialect};

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
