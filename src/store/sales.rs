//! Stamps sold at the till (role `seller`): marked by a shop, undone only by
//! the same seller within `UNDO_DAYS`; each change is an audit-log entry, so
//! batch verification can check the sold state like every other.

use super::backend::Backend;
use super::conn::{Conn, args};
use super::journal::audit_append;
use super::rows::timestamp;
use super::stamps::serial_key;
use super::{StoreError, StoreResult};
use crate::domain::{BatchId, Serial};

/// A sale can be undone this many days after it, by its seller only.
pub const UNDO_DAYS: i64 = 10;

const SALE: &str = "SELECT sold_at, seller, shop FROM sales WHERE serial = ?1";
const INSERT_SALE: &str = "INSERT INTO sales (serial, batch_id, seq, sold_at, seller, shop)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (serial) DO NOTHING";
const DELETE_SALE: &str = "DELETE FROM sales WHERE serial = ?1";
const SOLD_IN_BATCH: &str = "SELECT COUNT(*) FROM sales WHERE batch_id = ?1";
const CLAIMED_IN_BATCH: &str =
    "SELECT COUNT(*) FROM claims WHERE batch_id = ?1 AND claimed_at IS NOT NULL";
const SOLD_SEQS: &str = "SELECT seq FROM sales WHERE batch_id = ?1 ORDER BY seq";
const CLAIMED_SEQS: &str = "SELECT s.seq FROM claims c JOIN stamps s ON s.serial = c.serial
     WHERE c.batch_id = ?1 AND c.claimed_at IS NOT NULL ORDER BY s.seq";

/// A stamp to mark sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoldStamp {
    /// Its serial.
    pub serial: Serial,
    /// Its batch.
    pub batch: BatchId,
    /// Its number in the batch.
    pub seq: u32,
}

/// Who sells: the actor's name (who alone may undo) and the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    /// The actor's name in the records ("token 12 (seller)").
    pub actor: String,
    /// The shop, as later scans show it.
    pub shop: String,
}

/// A recorded sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    /// When.
    pub at: jiff::Timestamp,
    /// By whom (the actor's name).
    pub seller: String,
    /// The shop.
    pub shop: String,
}

/// What undoing a sale came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    /// The stamp is unsold again.
    Undone,
    /// It was not sold.
    NotSold,
    /// Another seller sold it: only they may undo it.
    OtherSeller,
    /// Sold more than `UNDO_DAYS` days ago.
    TooLate,
}

/// Sales of stamps.
pub trait SaleStore {
    /// Marks stamps sold in one transaction; for each, the sale now on
    /// record (this one, or an earlier one that stands).
    fn mark_sold(&self, stamps: &[SoldStamp], seller: &Seller) -> StoreResult<Vec<(Sale, bool)>>;
    /// Undoes sales made by `seller_actor` within `UNDO_DAYS`, in one
    /// transaction.
    fn undo_sales(&self, stamps: &[SoldStamp], seller_actor: &str) -> StoreResult<Vec<Undo>>;
    /// A stamp's sale, if it was sold.
    fn sale(&self, serial: Serial) -> StoreResult<Option<Sale>>;
    /// How many stamps of a batch were sold and claimed.
    fn sold_and_claimed(&self, batch: BatchId) -> StoreResult<(u64, u64)>;
    /// The numbers of a batch's sold and of its claimed stamps, in order.
    fn sold_and_claimed_seqs(&self, batch: BatchId) -> StoreResult<(Vec<u32>, Vec<u32>)>;
}

fn sale_row(c: &dyn Conn, serial: i64) -> StoreResult<Option<Sale>> {
    let row: Option<(String, String, String)> = c.query_opt(SALE, args![serial], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    row.map(|(at, seller, shop)| {
        Ok(Sale {
            at: timestamp(&at)?,
            seller,
            shop,
        })
    })
    .transpose()
}

impl<B: Backend> SaleStore for B {
    fn mark_sold(&self, stamps: &[SoldStamp], seller: &Seller) -> StoreResult<Vec<(Sale, bool)>> {
        self.write(|tx| {
            let at = jiff::Timestamp::now();
            let mut out = Vec::with_capacity(stamps.len());
            let mut newly: Vec<(BatchId, String)> = Vec::new();
            for s in stamps {
                let key = serial_key(s.serial);
                let inserted = tx.execute(
                    INSERT_SALE,
                    args![
                        key,
                        s.batch.0,
                        s.seq,
                        at.to_string(),
                        seller.actor,
                        seller.shop
                    ],
                )? > 0;
                let sale = sale_row(tx, key)?
                    .ok_or_else(|| StoreError::database("the sale was not written"))?;
                if inserted {
                    newly.push((s.batch, s.serial.to_string()));
                }
                out.push((sale, inserted));
            }
            audit_by_batch(tx, &seller.actor, "stamp.sold", &newly, Some(&seller.shop))?;
            Ok(out)
        })
    }

    fn undo_sales(&self, stamps: &[SoldStamp], seller_actor: &str) -> StoreResult<Vec<Undo>> {
        self.write(|tx| {
            let limit = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * UNDO_DAYS);
            let mut out = Vec::with_capacity(stamps.len());
            let mut undone: Vec<(BatchId, String)> = Vec::new();
            for s in stamps {
                let key = serial_key(s.serial);
                let result = match sale_row(tx, key)? {
                    None => Undo::NotSold,
                    Some(sale) if sale.seller != seller_actor => Undo::OtherSeller,
                    Some(sale) if sale.at < limit => Undo::TooLate,
                    Some(_) => {
                        tx.execute(DELETE_SALE, args![key])?;
                        undone.push((s.batch, s.serial.to_string()));
                        Undo::Undone
                    }
                };
                out.push(result);
            }
            audit_by_batch(tx, seller_actor, "stamp.unsold", &undone, None)?;
            Ok(out)
        })
    }

    fn sale(&self, serial: Serial) -> StoreResult<Option<Sale>> {
        self.read(|c| sale_row(c, serial_key(serial)))
    }

    fn sold_and_claimed(&self, batch: BatchId) -> StoreResult<(u64, u64)> {
        self.read(|c| {
            let sold: i64 = c.query_row(SOLD_IN_BATCH, args![batch.0], |r| r.get(0))?;
            let claimed: i64 = c.query_row(CLAIMED_IN_BATCH, args![batch.0], |r| r.get(0))?;
            Ok((sold as u64, claimed as u64))
        })
    }

    fn sold_and_claimed_seqs(&self, batch: BatchId) -> StoreResult<(Vec<u32>, Vec<u32>)> {
        self.read(|c| {
            let sold = c.query_map(SOLD_SEQS, args![batch.0], |r| r.get(0))?;
            let claimed = c.query_map(CLAIMED_SEQS, args![batch.0], |r| r.get(0))?;
            Ok((sold, claimed))
        })
    }
}

/// One audit entry per batch for the stamps changed in it: the log says
/// which serials were sold (or unsold), by whom and at which shop.
fn audit_by_batch(
    tx: &dyn Conn,
    actor: &str,
    action: &str,
    changed: &[(BatchId, String)],
    shop: Option<&str>,
) -> StoreResult<()> {
    let mut batches: Vec<BatchId> = changed.iter().map(|(b, _)| *b).collect();
    batches.sort_by_key(|b| b.0);
    batches.dedup();
    for batch in batches {
        let serials: Vec<&str> = changed
            .iter()
            .filter(|(b, _)| *b == batch)
            .map(|(_, s)| s.as_str())
            .collect();
        let after = serde_json::json!({ "serials": serials, "shop": shop });
        audit_append(
            tx,
            actor,
            action,
            &format!("batch:{}", batch.0),
            None,
            Some(after),
        )?;
    }
    Ok(())
}
