//! The GS1 Digital Link resolver's use case: what tem knows about a GTIN,
//! one of its lots, or one item, for the links a GS1 resolver answers with
//! (docs/gs1.md).
//!
//! A Digital Link URI carries no signature: whatever it names, the answer
//! never says "genuine". An item is only matched to the stamp with the same
//! serial in the same product (and lot, when the URI names one), so the
//! page can show its lot; whether the pack in hand is genuine is the tem
//! stamp's to say.
//!
//! Resolvers are asked often and the registry changes rarely, so what a
//! URI names (product, producer, lot, the stamp's batch) is kept for
//! [`REGISTRY_TTL`], as the scan page keeps it. Recalls are not: the
//! recalls in force are read again at most [`RECALLS_TTL`] after they were
//! last read, and at once after a recall or lift made by this process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mini_moka::sync::Cache;

use crate::domain::digital_link::{DigitalLink, Level};
use crate::domain::{Batch, BatchId, Producer, Product, ProductId, Serial};
use crate::store::{RecallRecord, Store, StoreError};

use super::{ServiceError, ServiceResult, not_found};

/// How long what a URI names is kept (product edits show within this).
pub const REGISTRY_TTL: Duration = Duration::from_secs(30);
/// How long the recalls in force are kept when no recall or lift was made
/// here (a recall made on another node shows within this).
pub const RECALLS_TTL: Duration = Duration::from_secs(1);
/// Entries each cache holds at most (10,000 products, 200,000 lots and
/// stamps: tens of MB at most).
const PRODUCTS_MAX: u64 = 10_000;
const LOTS_MAX: u64 = 200_000;

/// Bumped by every recall and lift this process makes.
static RECALLS_CHANGED: AtomicU64 = AtomicU64::new(0);

/// Tells the resolvers of this process to read the recalls again.
pub(super) fn recalls_changed() {
    RECALLS_CHANGED.fetch_add(1, Ordering::Release);
}

/// What tem knows about a Digital Link URI.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The URI, canonical.
    pub link: DigitalLink,
    /// The product with the GTIN.
    pub product: Arc<Product>,
    /// Its producer.
    pub producer: Arc<Producer>,
    /// The lot, when the URI names one tem knows (or names a stamp of one).
    pub batch: Option<Arc<Batch>>,
    /// A recall of the lot in force (the newest), if any.
    pub recall: Option<RecallRecord>,
    /// Whether the URI's serial is a tem stamp of this product (and lot).
    pub stamp_known: bool,
    /// That stamp's state as read just now (`Resolver::item` only).
    pub stamp_state: Option<crate::domain::StampState>,
}

impl Resolution {
    /// The deepest level tem has data for: a lot tem does not know answers
    /// with its product's links (the standard's walk up the levels).
    pub fn known_level(&self) -> Level {
        match (self.link.level(), &self.batch) {
            (Level::Serial, _) => Level::Serial,
            (Level::Lot, Some(_)) => Level::Lot,
            _ => Level::Gtin,
        }
    }
}

type Named = Option<(Arc<Product>, Arc<Producer>)>;

/// The newest recall in force of each recalled batch, as last read.
#[derive(Default)]
struct Recalls {
    read_at: Option<Instant>,
    generation: u64,
    by_batch: Arc<HashMap<BatchId, RecallRecord>>,
}

/// The resolver: the registry, and what it last read of it.
pub struct Resolver {
    store: Arc<dyn Store>,
    products: Cache<String, Named>,
    lots: Cache<(ProductId, String), Option<Arc<Batch>>>,
    stamps: Cache<String, Option<Arc<Batch>>>,
    recalls: Mutex<Recalls>,
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver over `store`, with empty caches.
    pub fn new(store: Arc<dyn Store>) -> Resolver {
        Resolver {
            store,
            products: registry_cache(PRODUCTS_MAX),
            lots: registry_cache(LOTS_MAX),
            stamps: registry_cache(LOTS_MAX),
            recalls: Mutex::default(),
            refreshing: tokio::sync::Mutex::const_new(()),
        }
    }

    /// Looks up the product with the URI's GTIN (404 if none), then its lot
    /// and serial. Only what is not cached is read, on the blocking pool.
    pub async fn resolve(&self, link: DigitalLink) -> ServiceResult<Resolution> {
        let parts = match self.cached(&link) {
            Some(parts) => parts,
            None => {
                let store = self.store.clone();
                let asked = link.clone();
                let parts = blocking(move || read(&*store, &asked)).await?;
                self.remember(&link, &parts);
                parts
            }
        };
        let (product, producer) = parts
            .named
            .ok_or_else(|| not_found("product", link.gtin()))?;
        let mut batch = parts.lot;
        let mut stamp_known = false;
        if let Some(of_stamp) = parts.stamp_batch {
            let in_lot = batch.as_ref().is_none_or(|b| b.id == of_stamp.id);
            if in_lot
                && link.lot().is_none_or(|_| batch.is_some())
                && of_stamp.product_id == product.id
            {
                stamp_known = true;
                batch = Some(of_stamp);
            }
        }
        let recall = match &batch {
            Some(b) => self.recalls_in_force().await?.get(&b.id).cloned(),
            None => None,
        };
        Ok(Resolution {
            link,
            product,
            producer,
            batch,
            recall,
            stamp_known,
            stamp_state: None,
        })
    }

    /// `resolve`, and for an item tem issued its stamp's state read fresh:
    /// the page's answer to "is this identifier one of tem's, and in use?"
    /// (a voided stamp must say so at once).
    pub async fn item(&self, link: DigitalLink) -> ServiceResult<Resolution> {
        let mut r = self.resolve(link).await?;
        if let (true, Some(serial)) = (r.stamp_known, stamp_serial(&r.link)) {
            let store = self.store.clone();
            let stamp = blocking(move || {
                Ok(match Serial::parse(&serial) {
                    Some(s) => store.stamp(s)?,
                    None => None,
                })
            })
            .await?;
            r.stamp_state = stamp.map(|s| s.state);
        }
        Ok(r)
    }

    /// Everything `link` needs, if all of it is cached.
    fn cached(&self, link: &DigitalLink) -> Option<Parts> {
        let named = self.products.get(&link.gtin().to_string())?;
        let Some((product, _)) = &named else {
            return Some(Parts::default());
        };
        let lot = match link.lot() {
            Some(lot) => self.lots.get(&(product.id, lot.to_string()))?,
            None => None,
        };
        let stamp_batch = match stamp_serial(link) {
            Some(serial) => self.stamps.get(&serial)?,
            None => None,
        };
        Some(Parts {
            named,
            lot,
            stamp_batch,
        })
    }

    fn remember(&self, link: &DigitalLink, parts: &Parts) {
        self.products
            .insert(link.gtin().to_string(), parts.named.clone());
        let Some((product, _)) = &parts.named else {
            return;
        };
        if let Some(lot) = link.lot() {
            self.lots
                .insert((product.id, lot.to_string()), parts.lot.clone());
        }
        if let Some(serial) = stamp_serial(link) {
            self.stamps.insert(serial, parts.stamp_batch.clone());
        }
    }

    /// The newest recall in force of each batch, read again when
    /// [`RECALLS_TTL`] has passed or this process recalled or lifted.
    async fn recalls_in_force(&self) -> ServiceResult<Arc<HashMap<BatchId, RecallRecord>>> {
        if let Some(fresh) = self.fresh_recalls() {
            return Ok(fresh);
        }
        // One reader at a time; the others then find its answer fresh.
        let _one = self.refreshing.lock().await;
        if let Some(fresh) = self.fresh_recalls() {
            return Ok(fresh);
        }
        let generation = RECALLS_CHANGED.load(Ordering::Acquire);
        let store = self.store.clone();
        let by_batch = blocking(move || {
            let mut by_batch = HashMap::new();
            for (batch, recall) in store.recalls_in_force()? {
                by_batch.insert(batch, recall);
            }
            Ok(by_batch)
        })
        .await?;
        let by_batch = Arc::new(by_batch);
        *self.recalls.lock().unwrap_or_else(|e| e.into_inner()) = Recalls {
            read_at: Some(Instant::now()),
            generation,
            by_batch: by_batch.clone(),
        };
        Ok(by_batch)
    }

    fn fresh_recalls(&self) -> Option<Arc<HashMap<BatchId, RecallRecord>>> {
        let r = self.recalls.lock().unwrap_or_else(|e| e.into_inner());
        let read_at = r.read_at?;
        (read_at.elapsed() < RECALLS_TTL && r.generation == RECALLS_CHANGED.load(Ordering::Acquire))
            .then(|| r.by_batch.clone())
    }
}

fn registry_cache<K, V>(max: u64) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(max)
        .time_to_live(REGISTRY_TTL)
        .build()
}

/// What a URI names, as read from the registry.
#[derive(Debug, Clone, Default)]
struct Parts {
    /// The product with the GTIN and its producer (`None`: no such GTIN).
    named: Named,
    /// The lot the URI names, if the product has it.
    lot: Option<Arc<Batch>>,
    /// The batch of the stamp with the URI's serial, if tem issued one.
    stamp_batch: Option<Arc<Batch>>,
}

/// The URI's serial when it could be a tem stamp's.
fn stamp_serial(link: &DigitalLink) -> Option<String> {
    link.serial()
        .filter(|s| Serial::parse(s).is_some())
        .map(str::to_string)
}

fn read(store: &dyn Store, link: &DigitalLink) -> ServiceResult<Parts> {
    let Some(product) = store.product_by_gtin(&link.stored_forms())? else {
        return Ok(Parts::default());
    };
    let producer = super::registry::producer(store, product.producer_id)?;
    let lot = match link.lot() {
        Some(lot) => store.batch_by_lot(product.id, lot)?.map(Arc::new),
        None => None,
    };
    let stamp_batch = match link.serial().and_then(Serial::parse) {
        Some(serial) => match store.stamp(serial)? {
            Some(stamp) => Some(Arc::new(super::registry::batch(store, stamp.batch)?)),
            None => None,
        },
        None => None,
    };
    Ok(Parts {
        named: Some((Arc::new(product), Arc::new(producer))),
        lot,
        stamp_batch,
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ServiceResult<T> + Send + 'static,
) -> ServiceResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Store(StoreError::database(e.to_string())))?
}
