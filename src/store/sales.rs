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
const SALES_OF_BATCH: &str =
    "SELECT seq, serial, sold_at, seller, shop FROM sales WHERE batch_id = ?1
     ORDER BY sold_at, seq";
const CLAIMS_OF_BATCH: &str = "SELECT s.seq, c.serial, c.claimed_at, c.province FROM claims c
     JOIN stamps s ON s.serial = c.serial
     WHERE c.batch_id = ?1 AND c.claimed_at IS NOT NULL ORDER BY c.claimed_at, s.seq";

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

/// A sold stamp of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    /// Its number in the batch.
    pub seq: u32,
    /// Its serial.
    pub serial: Serial,
    /// The sale.
    pub sale: Sale,
}

/// A claimed stamp of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    /// Its number in the batch.
    pub seq: u32,
    /// Its serial.
    pub serial: Serial,
    /// When its buyer claimed it.
    pub at: jiff::Timestamp,
    /// Where, if the buyer said.
    pub province: Option<String>,
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
    /// A batch's sold and claimed stamps, oldest first.
    fn sales_and_claims(&self, batch: BatchId) -> StoreResult<(Vec<SaleRecord>, Vec<ClaimRecord>)>;
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

    fn sales_and_claims(&self, batch: BatchId) -> StoreResult<(Vec<SaleRecord>, Vec<ClaimRecord>)> {
        self.read(|c| sales_and_claims(c, batch))
    }
}

/// A batch's sold and claimed stamps, oldest first, on `c`'s snapshot.
pub(super) fn sales_and_claims(
    c: &dyn Conn,
    batch: BatchId,
) -> StoreResult<(Vec<SaleRecord>, Vec<ClaimRecord>)> {
    let sales = c.query_map(SALES_OF_BATCH, args![batch.0], |r| {
        Ok(SaleRecord {
            seq: r.get(0)?,
            serial: Serial(r.get::<i64>(1)? as u64),
            sale: Sale {
                at: timestamp(&r.get::<String>(2)?)?,
                seller: r.get(3)?,
                shop: r.get(4)?,
            },
        })
    })?;
    let claims = c.query_map(CLAIMS_OF_BATCH, args![batch.0], |r| {
        Ok(ClaimRecord {
            seq: r.get(0)?,
            serial: Serial(r.get::<i64>(1)? as u64),
            at: timestamp(&r.get::<String>(2)?)?,
            province: r.get(3)?,
        })
    })?;
    Ok((sales, claims))
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
