//! Sales at a till and buyers' claims as events across batches, filtered
//! and paged, for the EPCIS query (`service::epcis_query`): the same events
//! the export writes. A sale event is one request of one seller (the stamps
//! it sold share its time); a claim event is one stamp.

use super::StoreResult;
use super::backend::Backend;
use super::conn::{Row, ToArg, Value, args};
use super::event_query::{Clauses, EventFilter};
use super::rows::timestamp;
use crate::domain::{BatchId, ProducerId, Serial};

/// Where a page of sale events ended: (time as stored, batch, seller).
pub type SaleCursor = (String, u32, String);

/// One sale event: the stamps one seller sold of one batch in one request.
#[derive(Debug, Clone)]
pub struct SaleEvent {
    /// Its position in the order pages follow.
    pub cursor: SaleCursor,
    /// When.
    pub at: jiff::Timestamp,
    /// The batch.
    pub batch: BatchId,
    /// Who sold (the token's name) and at which shop.
    pub seller: String,
    /// The shop.
    pub shop: String,
    /// How many stamps.
    pub count: u64,
    /// The batch's lot code.
    pub lot_code: String,
    /// Its producer.
    pub producer: ProducerId,
}

/// One claim event: a buyer claimed one stamp.
#[derive(Debug, Clone)]
pub struct ClaimEvent {
    /// The stamp.
    pub serial: Serial,
    /// When.
    pub at: jiff::Timestamp,
    /// The batch.
    pub batch: BatchId,
    /// The province the buyer gave, or the producer's.
    pub place: String,
    /// The batch's lot code.
    pub lot_code: String,
}

/// Sales and claims across batches.
pub trait TradeEventStore {
    /// Sale events `filter` lets through, after `after`, in cursor order.
    fn query_sales(&self, filter: &EventFilter, after: &SaleCursor) -> StoreResult<Vec<SaleEvent>>;
    /// The serials of one sale event, in number order.
    fn sale_serials(&self, sale: &SaleCursor) -> StoreResult<Vec<Serial>>;
    /// Claim events `filter` (and `ids`, the serials of claim events
    /// asked for) lets through, after serial key `after` (if given), in
    /// serial order.
    fn query_claims(
        &self,
        filter: &EventFilter,
        ids: Option<&[Serial]>,
        after: Option<i64>,
    ) -> StoreResult<Vec<ClaimEvent>>;
}

const JOINS: &str = "JOIN batches b ON b.id = x.batch_id JOIN products p ON p.id = b.product_id
     JOIN producers pr ON pr.id = p.producer_id";

const SALE_SERIALS: &str =
    "SELECT serial FROM sales WHERE sold_at = ?1 AND batch_id = ?2 AND seller = ?3 ORDER BY seq";

impl<B: Backend> TradeEventStore for B {
    fn query_sales(&self, f: &EventFilter, after: &SaleCursor) -> StoreResult<Vec<SaleEvent>> {
        if nothing(f) || f.sale_batches.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let mut q = Clauses::new(&format!(
            "SELECT x.sold_at, x.batch_id, x.seller, MIN(x.shop), COUNT(*), b.lot_code, pr.id
             FROM sales x {JOINS}"
        ));
        let (t, b, s) = (
            q.mark(Value::Text(after.0.clone())),
            q.mark(Value::Int(i64::from(after.1))),
            q.mark(Value::Text(after.2.clone())),
        );
        q.sql.push_str(&format!(
            " AND (x.sold_at > {t} OR (x.sold_at = {t} AND (x.batch_id > {b} OR (x.batch_id = {b} AND x.seller > {s}))))"
        ));
        q.common(f, "x.sold_at");
        if let Some(batches) = &f.sale_batches {
            q.list(
                "x.batch_id",
                batches.iter().map(|b| Value::Int(i64::from(b.0))),
            );
        }
        if let Some(serials) = &f.serials {
            let marks: Vec<String> = serials
                .iter()
                .map(|s| q.mark(Value::Int(s.0 as i64)))
                .collect();
            q.sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM sales y WHERE y.sold_at = x.sold_at AND y.batch_id = x.batch_id
                  AND y.seller = x.seller AND y.serial IN ({}))",
                marks.join(", ")
            ));
        }
        q.sql
            .push_str(" GROUP BY x.sold_at, x.batch_id, x.seller, b.lot_code, pr.id");
        let (sql, values) = q.finish("x.sold_at, x.batch_id, x.seller", f.limit);
        let args: Vec<&dyn ToArg> = values.iter().map(|v| v as &dyn ToArg).collect();
        self.read(|c| c.query_map(&sql, &args, sale_event))
    }

    fn sale_serials(&self, sale: &SaleCursor) -> StoreResult<Vec<Serial>> {
        self.read(|c| {
            c.query_map(SALE_SERIALS, args![sale.0, sale.1, sale.2], |r| {
                Ok(Serial(r.get::<i64>(0)? as u64))
            })
        })
    }

    fn query_claims(
        &self,
        f: &EventFilter,
        ids: Option<&[Serial]>,
        after: Option<i64>,
    ) -> StoreResult<Vec<ClaimEvent>> {
        if nothing(f) || ids.is_some_and(<[Serial]>::is_empty) {
            return Ok(Vec::new());
        }
        let mut q = Clauses::new(&format!(
            "SELECT x.serial, x.claimed_at, x.batch_id, COALESCE(x.province, pr.province), b.lot_code
             FROM claims x {JOINS}"
        ));
        q.sql.push_str(" AND x.claimed_at IS NOT NULL");
        if let Some(after) = after {
            q.and("x.serial > {}", Value::Int(after));
        }
        q.common(f, "x.claimed_at");
        for wanted in [f.serials.as_deref(), ids].into_iter().flatten() {
            q.list("x.serial", wanted.iter().map(|s| Value::Int(s.0 as i64)));
        }
        let (sql, values) = q.finish("x.serial", f.limit);
        let args: Vec<&dyn ToArg> = values.iter().map(|v| v as &dyn ToArg).collect();
        self.read(|c| c.query_map(&sql, &args, claim_event))
    }
}

/// Whether the filter's lists rule every event out.
fn nothing(f: &EventFilter) -> bool {
    [
        f.producers.as_ref().map(Vec::len),
        f.lots.as_ref().map(Vec::len),
        f.serials.as_ref().map(Vec::len),
    ]
    .contains(&Some(0))
}

fn sale_event(r: &Row) -> StoreResult<SaleEvent> {
    let at: String = r.get(0)?;
    let batch: u32 = r.get(1)?;
    let seller: String = r.get(2)?;
    Ok(SaleEvent {
        at: timestamp(&at)?,
        batch: BatchId(batch),
        shop: r.get(3)?,
        count: r.get::<i64>(4)?.max(0) as u64,
        lot_code: r.get(5)?,
        producer: ProducerId(r.get(6)?),
        seller: seller.clone(),
        cursor: (at, batch, seller),
    })
}

fn claim_event(r: &Row) -> StoreResult<ClaimEvent> {
    Ok(ClaimEvent {
        serial: Serial(r.get::<i64>(0)? as u64),
        at: timestamp(&r.get::<String>(1)?)?,
        batch: BatchId(r.get(2)?),
        place: r.get(3)?,
        lot_code: r.get(4)?,
    })
}
