//! The audit log served as a tiled transparency log (C2SP tlog-tiles):
//! `{base}/log/checkpoint`, a signed note of the tree as it is now, and
//! `{base}/log/tile/…`, the tree's hashes and the entries, read from the
//! leaves and subtree hashes the store keeps as the log grows (nothing is
//! rebuilt). Any tlog client (Go's sumdb/tlog and its ports, Sigstore's and
//! Tessera's tools) can check them with the log's verifier key.

use crate::audit::merkle;
use crate::audit::tiles::{self, TILE_HEIGHT, TILE_WIDTH, TilePath};
use crate::codes::{KeySet, KeyStatus};
use crate::domain::DomainError;
use crate::store::Store;

use super::{Context, ServiceResult, not_found};

/// The checkpoint's origin and note key name: the base URL without its
/// scheme, then `/log` (`tem.travinh.gov.vn/log`).
pub fn origin(base_url: &str) -> String {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, r)| r)
        .trim_end_matches('/');
    format!("{rest}/log")
}

/// The log's verifier key (`name+id+key`): the active key of `set`;
/// `None` without one.
pub fn verifier_key(set: &KeySet, base_url: &str) -> Option<String> {
    verifier_key_named(set, &origin(base_url))
}

/// The verifier key of `set`'s active key under the note key name `name`
/// (a log's origin, as its checkpoint's first line says).
pub fn verifier_key_named(set: &KeySet, name: &str) -> Option<String> {
    set.decoded()
        .find(|(_, _, status)| *status == KeyStatus::Active)
        .map(|(_, key, _)| tiles::verifier_key(name, &key.to_bytes()))
}

/// The public key set as `/.well-known/tem-keys.json` publishes it, with
/// the log's verifier key (`log_verifier_key`) beside the keys.
pub fn published_keys(ctx: &Context) -> ServiceResult<serde_json::Value> {
    let set = ctx.key_set()?;
    let log_key = verifier_key(&set, ctx.base_url());
    let mut json = serde_json::to_value(&set)
        .map_err(|e| crate::store::StoreError::database(e.to_string()))?;
    if let (Some(map), Some(k)) = (json.as_object_mut(), log_key) {
        map.insert("log_verifier_key".into(), k.into());
    }
    Ok(json)
}

/// The signed checkpoint of the log as it is now, signed by the active
/// key (Ed25519 is deterministic: every node answers the same note for the
/// same tree).
pub fn checkpoint(ctx: &Context) -> ServiceResult<String> {
    let store = ctx.store();
    let size = store.audit_size()?;
    let root = merkle::range_hash(&mut { store }, 0, size)?;
    let name = origin(ctx.base_url());
    let text = tiles::checkpoint_text(&name, size, &root);
    let signer = ctx.keys()?.signer()?;
    let signature = signer
        .sign_note(&text)
        .ok_or_else(|| DomainError::new("base_url", "cannot be a checkpoint's origin"))?;
    Ok(format!(
        "{text}\n{}",
        tiles::signature_line(&name, &signer.public_key(), &signature)
    ))
}

/// Full tiles and bundles, once read: they never change, so they are
/// kept (up to `FULL_TILES_BYTES`) and answered without the database.
pub struct TileCache {
    store: std::sync::Arc<dyn Store>,
    full: mini_moka::sync::Cache<String, bytes::Bytes>,
}

/// Bytes of full tiles kept in memory: 4,096 hash tiles, or fewer bundles.
pub const FULL_TILES_BYTES: u64 = 32 << 20;

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache").finish_non_exhaustive()
    }
}

impl TileCache {
    /// An empty cache over `store`.
    pub fn new(store: std::sync::Arc<dyn Store>) -> TileCache {
        TileCache {
            store,
            full: mini_moka::sync::Cache::builder()
                .weigher(|k: &String, v: &bytes::Bytes| {
                    u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX)
                })
                .max_capacity(FULL_TILES_BYTES)
                .build(),
        }
    }

    /// The tile `path` names (see `tile`), from memory when it is a full
    /// one read before; read on the blocking pool otherwise.
    pub async fn get(&self, path: String) -> ServiceResult<bytes::Bytes> {
        if let Some(bytes) = self.full.get(&path) {
            return Ok(bytes);
        }
        let store = self.store.clone();
        let p = path.clone();
        let bytes = tokio::task::spawn_blocking(move || tile(&*store, &p))
            .await
            .map_err(|e| crate::store::StoreError::database(e.to_string()))??;
        let bytes = bytes::Bytes::from(bytes);
        if !path.contains(".p/") {
            self.full.insert(path, bytes.clone());
        }
        Ok(bytes)
    }
}

/// The bytes of the tile `path` names (`tile/0/x001/234`): 32-byte hashes,
/// or entries each after its big-endian 16-bit length. A full tile once its
/// last entry is in; a partial one of any width the tree has reached (an
/// older checkpoint's tree needs the narrower one). 404 otherwise.
pub fn tile(store: &dyn Store, path: &str) -> ServiceResult<Vec<u8>> {
    let missing = || not_found("tile", path);
    let t = TilePath::parse(path).ok_or_else(missing)?;
    let size = store.audit_size()?;
    let (level, index, width) = match t {
        TilePath::Hashes {
            level,
            index,
            width,
        } => (u32::from(level), index, width),
        TilePath::Entries { index, width } => (0, index, width),
    };
    // Leaves a tile's hashes each span, and how many of them the tree has.
    let span = 1u128 << (TILE_HEIGHT * level).min(127);
    let whole = (u128::from(size) / span) as u64;
    let first = index.checked_mul(TILE_WIDTH).ok_or_else(missing)?;
    let have = whole.saturating_sub(first).min(TILE_WIDTH);
    if width > have {
        return Err(missing());
    }
    Ok(match t {
        TilePath::Hashes { .. } => store
            .audit_perfect_range(level * TILE_HEIGHT, first, width)?
            .concat(),
        TilePath::Entries { .. } => entries(store, first, width)?,
    })
}

/// Entries `first..first+width` (0-based) as an entry bundle.
fn entries(store: &dyn Store, first: u64, width: u64) -> ServiceResult<Vec<u8>> {
    let mut out = Vec::new();
    for (entry, _) in store.audit_entries(first + 1, width)? {
        let data = entry.canonical();
        let len = u16::try_from(data.len()).map_err(|_| {
            crate::store::StoreError::database(format!(
                "audit entry {} is {} bytes, more than an entry bundle holds",
                entry.seq,
                data.len()
            ))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&data);
    }
    Ok(out)
}
