//! The GS1 Digital Link resolver's use case: what tem knows about a GTIN,
//! one of its lots, or one item, for the links a GS1 resolver answers with
//! (docs/gs1.md).
//!
//! A Digital Link URI carries no signature: whatever it names, the answer
//! never says "genuine". An item is only matched to the stamp with the same
//! serial in the same product (and lot, when the URI names one), so the
//! page can show its lot; whether the pack in hand is genuine is the tem
//! stamp's to say.

use crate::domain::digital_link::{DigitalLink, Level};
use crate::domain::{Batch, Producer, Product, Serial};
use crate::store::{RecallRecord, Store};

use super::{ServiceResult, not_found};

/// What tem knows about a Digital Link URI.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The URI, canonical.
    pub link: DigitalLink,
    /// The product with the GTIN.
    pub product: Product,
    /// Its producer.
    pub producer: Producer,
    /// The lot, when the URI names one tem knows (or names a stamp of one).
    pub batch: Option<Batch>,
    /// A recall of the lot in force (the newest), if any.
    pub recall: Option<RecallRecord>,
    /// Whether the URI's serial is a tem stamp of this product (and lot).
    pub stamp_known: bool,
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

/// Looks up the product with the URI's GTIN (404 if none), then its lot and
/// serial.
pub fn resolve(store: &dyn Store, link: DigitalLink) -> ServiceResult<Resolution> {
    let product = store
        .product_by_gtin(&link.stored_forms())?
        .ok_or_else(|| not_found("product", link.gtin()))?;
    let producer = super::registry::producer(store, product.producer_id)?;
    let mut batch = match link.lot() {
        Some(lot) => store.batch_by_lot(product.id, lot)?,
        None => None,
    };
    let stamp = match link.serial().and_then(Serial::parse) {
        Some(serial) => store.stamp(serial)?,
        None => None,
    };
    let mut stamp_known = false;
    if let Some(stamp) = stamp {
        let in_lot = batch.as_ref().is_none_or(|b| b.id == stamp.batch);
        if in_lot && link.lot().is_none_or(|_| batch.is_some()) {
            let of_stamp = super::registry::batch(store, stamp.batch)?;
            if of_stamp.product_id == product.id {
                stamp_known = true;
                batch = Some(of_stamp);
            }
        }
    }
    let recall = match &batch {
        Some(b) => store
            .recalls(b.id)?
            .into_iter()
            .filter(|r| r.lifted_at.is_none())
            .max_by_key(|r| r.created_at),
        None => None,
    };
    Ok(Resolution {
        link,
        product,
        producer,
        batch,
        recall,
        stamp_known,
    })
}
