//! Link previews and crawler fetches of stamp URLs, counted per batch and
//! robot family apart from scans (`domain::robots`).

use super::StoreResult;
use super::backend::{Backend, now};
use super::conn::args;
use crate::domain::BatchId;

const COUNT_PREVIEW: &str =
    "INSERT INTO previews (batch_id, family, n, last_at) VALUES (?1, ?2, 1, ?3)
     ON CONFLICT (batch_id, family) DO UPDATE SET n = previews.n + 1, last_at = excluded.last_at";
const PREVIEWS: &str = "SELECT family, n FROM previews WHERE batch_id = ?1 ORDER BY n DESC, family";

/// How many times robots fetched a batch's stamp URLs.
pub trait PreviewStore {
    /// Counts one fetch of a stamp URL of `batch` by a robot of `family`.
    fn count_preview(&self, batch: BatchId, family: &str) -> StoreResult<()>;
    /// A batch's fetches per robot family, most first.
    fn previews(&self, batch: BatchId) -> StoreResult<Vec<(String, u64)>>;
}

impl<B: Backend> PreviewStore for B {
    fn count_preview(&self, batch: BatchId, family: &str) -> StoreResult<()> {
        self.counter_write(|tx| {
            tx.execute(COUNT_PREVIEW, args![batch.0, family, now()])?;
            Ok(())
        })
    }

    fn previews(&self, batch: BatchId) -> StoreResult<Vec<(String, u64)>> {
        self.read(|c| {
            c.query_map(PREVIEWS, args![batch.0], |r| {
                Ok((r.get(0)?, r.get::<i64>(1)?.max(0) as u64))
            })
        })
    }
}
