//! What every use case runs against: the registry, the key directory and the
//! base URL printed in stamps. `tem serve` builds one for its handlers and
//! each CLI command one for itself, so neither names a store type: they hand
//! the context (or its store) to a service function and show what comes back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ServiceResult;
use crate::codes::{KeyRing, KeySet};
use crate::config::Database;
use crate::store::{PgStore, SqliteStore, Store};

/// The registry, keys and base URL, shared by every request (cheap to clone).
#[derive(Clone)]
pub struct Context {
    store: Arc<dyn Store>,
    keys_dir: PathBuf,
    base_url: String,
}

impl Context {
    /// A context over an open store.
    pub fn new(store: Arc<dyn Store>, keys_dir: PathBuf, base_url: String) -> Context {
        Context {
            store,
            keys_dir,
            base_url,
        }
    }

    /// Opens the configured database (SQLite file or PostgreSQL URL).
    pub fn open(db: &Database, keys_dir: PathBuf, base_url: String) -> ServiceResult<Context> {
        Ok(Context::new(open_store(db)?, keys_dir, base_url))
    }

    /// The registry.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The registry, for a job that outlives the caller (a blocking task,
    /// a background thread).
    pub fn shared_store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The key directory as it is now (read on each call, so `tem keys
    /// rotate` takes effect without a restart).
    pub fn keys(&self) -> ServiceResult<KeyRing> {
        Ok(KeyRing::open(&self.keys_dir)?)
    }

    /// The public keys verifiers need, from the key directory as it is now.
    pub fn key_set(&self) -> ServiceResult<KeySet> {
        Ok(KeySet::load(&self.keys_dir)?)
    }

    /// Where the keys live (for messages and key management).
    pub fn keys_dir(&self) -> &Path {
        &self.keys_dir
    }

    /// The base URL printed in stamps.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether the database answers (health checks).
    pub fn ping(&self) -> ServiceResult<()> {
        Ok(self.store.ping()?)
    }
}

/// Opens a database by its configured name.
pub fn open_store(db: &Database) -> ServiceResult<Arc<dyn Store>> {
    Ok(match db {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        Database::Postgres(url) => Arc::new(PgStore::open(url)?),
    })
}
