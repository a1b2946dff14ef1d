//! Lifecycle events across batches, filtered and paged: what an EPCIS
//! query (`service::epcis_query`) reads. One statement per page, built
//! from the filters given; every value is a bound parameter.

use super::StoreResult;
use super::backend::Backend;
use super::conn::{Row, ToArg, Value};
use super::lifecycle::{Event, event_row};
use crate::domain::{BatchId, EventAction, ProducerId, Serial};

/// Which events a query wants. `None` is "any"; an empty list matches
/// nothing.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events of these producers' batches (`None`: every producer).
    pub producers: Option<Vec<ProducerId>>,
    /// Only these kinds of event.
    pub actions: Vec<EventAction>,
    /// Only events at or after this second (`YYYY-MM-DDTHH:MM:SS`, UTC);
    /// the caller checks the exact time.
    pub since_second: Option<String>,
    /// Only events at or before this second (UTC); exact time as above.
    pub until_second: Option<String>,
    /// Only events of batches with one of these lot codes.
    pub lots: Option<Vec<String>>,
    /// Only these events.
    pub ids: Option<Vec<i64>>,
    /// Only events that cover one of these stamps (batch, number in it);
    /// a print job's listed stamps are checked by the caller.
    pub stamps: Option<Vec<(BatchId, u32)>>,
    /// The stamps' serials, for sales and claims (the same stamps as
    /// `stamps`).
    pub serials: Option<Vec<Serial>>,
    /// Only sales of these batches (the batches of the sale events asked
    /// for by ID).
    pub sale_batches: Option<Vec<BatchId>>,
    /// Only events after this id (the page before ended there).
    pub after: i64,
    /// At most this many events.
    pub limit: u32,
}

/// An event with what an EPCIS event names of its batch.
#[derive(Debug, Clone)]
pub struct EventOf {
    /// The event.
    pub event: Event,
    /// Its batch's lot code.
    pub lot_code: String,
    /// Its product's GTIN, if it has one.
    pub gtin: Option<String>,
    /// Its producer.
    pub producer: ProducerId,
    /// Its producer's province.
    pub province: String,
}

/// Events across batches.
pub trait EventQueryStore {
    /// The events `filter` lets through, oldest (lowest id) first.
    fn query_events(&self, filter: &EventFilter) -> StoreResult<Vec<EventOf>>;
}

const SELECT: &str = "SELECT e.id, e.at, e.action, e.first_seq, e.last_seq, e.count, e.actor, e.place, e.reason, e.detail, e.batch_id, b.lot_code, p.gtin, pr.id, pr.province
     FROM events e JOIN batches b ON b.id = e.batch_id JOIN products p ON p.id = b.product_id
     JOIN producers pr ON pr.id = p.producer_id";

impl<B: Backend> EventQueryStore for B {
    fn query_events(&self, f: &EventFilter) -> StoreResult<Vec<EventOf>> {
        if f.actions.is_empty()
            || [
                f.producers.as_ref().map(Vec::len),
                f.lots.as_ref().map(Vec::len),
            ]
            .contains(&Some(0))
            || f.ids.as_ref().is_some_and(Vec::is_empty)
            || f.stamps.as_ref().is_some_and(Vec::is_empty)
        {
            return Ok(Vec::new());
        }
        let (sql, values) = statement(f);
        let args: Vec<&dyn ToArg> = values.iter().map(|v| v as &dyn ToArg).collect();
        self.read(|c| c.query_map(&sql, &args, event_of))
    }
}

/// A `WHERE` clause under construction: conditions and their values,
/// numbered in order.
pub(super) struct Clauses {
    pub sql: String,
    pub values: Vec<Value>,
}

impl Clauses {
    pub fn new(select: &str) -> Clauses {
        Clauses {
            sql: format!("{select} WHERE 1 = 1"),
            values: Vec::new(),
        }
    }

    /// The next parameter's mark (`?n`) for `v`.
    pub fn mark(&mut self, v: Value) -> String {
        self.values.push(v);
        format!("?{}", self.values.len())
    }

    /// `AND {column} IN (…)`.
    pub fn list(&mut self, column: &str, items: impl IntoIterator<Item = Value>) {
        let marks: Vec<String> = items.into_iter().map(|v| self.mark(v)).collect();
        self.sql
            .push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
    }

    /// `AND {condition}` where `{}` in it stands for the mark of `v`.
    pub fn and(&mut self, condition: &str, v: Value) {
        let mark = self.mark(v);
        self.sql
            .push_str(&format!(" AND {}", condition.replace("{}", &mark)));
    }

    /// The filters every kind of event shares: producer, lot, time window
    /// (on `at`, a text column of RFC 3339 times).
    pub fn common(&mut self, f: &EventFilter, at: &str) {
        if let Some(p) = &f.producers {
            self.list("pr.id", p.iter().map(|p| Value::Int(p.0)));
        }
        if let Some(lots) = &f.lots {
            self.list("b.lot_code", lots.iter().map(|l| Value::Text(l.clone())));
        }
        if let Some(since) = &f.since_second {
            self.and(
                &format!("substr({at}, 1, 19) >= {{}}"),
                Value::Text(since.clone()),
            );
        }
        if let Some(until) = &f.until_second {
            self.and(
                &format!("substr({at}, 1, 19) <= {{}}"),
                Value::Text(until.clone()),
            );
        }
    }

    /// `ORDER BY {order} LIMIT n`, and the statement with its values.
    pub fn finish(mut self, order: &str, limit: u32) -> (String, Vec<Value>) {
        let mark = self.mark(Value::Int(i64::from(limit)));
        self.sql
            .push_str(&format!(" ORDER BY {order} LIMIT {mark}"));
        (self.sql, self.values)
    }
}

/// The statement and its values.
fn statement(f: &EventFilter) -> (String, Vec<Value>) {
    let mut q = Clauses::new(SELECT);
    q.and("e.id > {}", Value::Int(f.after));
    let actions = f.actions.iter().map(|a| Value::Text(a.as_str().into()));
    q.list("e.action", actions);
    q.common(f, "e.at");
    if let Some(ids) = &f.ids {
        q.list("e.id", ids.iter().map(|i| Value::Int(*i)));
    }
    if let Some(stamps) = &f.stamps {
        let mut any = Vec::new();
        for (batch, seq) in stamps {
            let b = q.mark(Value::Int(i64::from(batch.0)));
            let s = q.mark(Value::Int(i64::from(*seq)));
            any.push(format!(
                "(e.batch_id = {b} AND (e.first_seq IS NULL OR {s} BETWEEN e.first_seq AND e.last_seq))"
            ));
        }
        q.sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    q.finish("e.id", f.limit)
}

fn event_of(r: &Row) -> StoreResult<EventOf> {
    Ok(EventOf {
        event: event_row(r, BatchId(r.get(10)?))?,
        lot_code: r.get(11)?,
        gtin: r.get(12)?,
        producer: ProducerId(r.get(13)?),
        province: r.get(14)?,
    })
}
