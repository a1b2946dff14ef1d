//! Pictures (product photos, inspection photos) stored under their content-hash
//! names, and service-wide settings.

use super::StoreResult;
use super::backend::{Backend, now};
use super::conn::{Conn, args};

// The SQL of this file, named, so that rustfmt formats the code around it.
const PING: &str = "SELECT 1";
const INSERT_SETTING_ONCE: &str =
    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";
const MEDIA_BY_NAME: &str = "SELECT content_type, bytes FROM media WHERE name = ?1";
const INSERT_MEDIA: &str =
    "INSERT INTO media (name, content_type, bytes, created_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (name) DO NOTHING";

/// Stored pictures, service-wide settings, and the database's own state.
pub trait MediaStore {
    /// Checks that the database answers.
    fn ping(&self) -> StoreResult<()>;
    /// Whether other tem nodes may share this database (PostgreSQL): what
    /// one node keeps in memory is then not the whole count.
    fn shared(&self) -> bool;
    /// A service-wide value; `make` creates it the first time (atomically).
    fn setting(&self, key: &str, make: &dyn Fn() -> String) -> StoreResult<String>;
    /// Stores an uploaded image under its name (idempotent).
    fn put_media(&self, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()>;
    /// An image: its content type and bytes.
    fn media(&self, name: &str) -> StoreResult<Option<(String, Vec<u8>)>>;
}

impl<B: Backend> MediaStore for B {
    fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row(PING, args![], |_| Ok(())))
    }

    fn shared(&self) -> bool {
        Self::SHARED
    }

    fn setting(&self, key: &str, make: &dyn Fn() -> String) -> StoreResult<String> {
        let select = "SELECT value FROM settings WHERE key = ?1";
        if let Some(v) = self.read(|c| c.query_opt(select, args![key], |r| r.get(0)))? {
            return Ok(v);
        }
        self.write(|tx| {
            tx.execute(INSERT_SETTING_ONCE, args![key, make()])?;
            tx.query_row(select, args![key], |r| r.get(0))
        })
    }

    fn put_media(&self, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
        self.write(|tx| {
            insert_media(
                tx,
                &[crate::domain::Media {
                    name: name.into(),
                    content_type: content_type.into(),
                    bytes: bytes.to_vec(),
                }],
            )
        })
    }

    fn media(&self, name: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        self.read(|c| c.query_opt(MEDIA_BY_NAME, args![name], |r| Ok((r.get(0)?, r.get(1)?))))
    }
}

/// Stores pictures by their content-hash names (one already there stays).
pub(super) fn insert_media(tx: &dyn Conn, media: &[crate::domain::Media]) -> StoreResult<()> {
    for m in media {
        tx.execute(INSERT_MEDIA, args![m.name, m.content_type, m.bytes, now()])?;
    }
    Ok(())
}
