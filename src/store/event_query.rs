//! Lifecycle events across batches, filtered and paged: what an EPCIS
//! query (`service::epcis_query`) reads. One statement per page, built
//! from the filters given; every value is a bound parameter.

use super::StoreResult;
use super::backend::Backend;
use super::conn::{Row, ToArg, Value};
use super::lifecycle::{Event, event_row};
use crate::domain::{BatchId, EventAction, ProducerId};

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

/// The statement and its values, numbered in order.
fn statement(f: &EventFilter) -> (String, Vec<Value>) {
    let mut values = vec![Value::Int(f.after)];
    let mut sql = format!("{SELECT} WHERE e.id > ?1");
    let mut list = |sql: &mut String, column: &str, items: Vec<Value>| {
        let marks: Vec<String> = items
            .into_iter()
            .map(|v| {
                values.push(v);
                format!("?{}", values.len())
            })
            .collect();
        sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
    };
    let actions = f.actions.iter().map(|a| Value::Text(a.as_str().into()));
    list(&mut sql, "e.action", actions.collect());
    if let Some(p) = &f.producers {
        list(
            &mut sql,
            "pr.id",
            p.iter().map(|p| Value::Int(p.0)).collect(),
        );
    }
    if let Some(lots) = &f.lots {
        list(
            &mut sql,
            "b.lot_code",
            lots.iter().map(|l| Value::Text(l.clone())).collect(),
        );
    }
    if let Some(ids) = &f.ids {
        list(
            &mut sql,
            "e.id",
            ids.iter().map(|i| Value::Int(*i)).collect(),
        );
    }
    if let Some(since) = &f.since_second {
        values.push(Value::Text(since.clone()));
        sql.push_str(&format!(" AND substr(e.at, 1, 19) >= ?{}", values.len()));
    }
    if let Some(until) = &f.until_second {
        values.push(Value::Text(until.clone()));
        sql.push_str(&format!(" AND substr(e.at, 1, 19) <= ?{}", values.len()));
    }
    if let Some(stamps) = &f.stamps {
        let mut any = Vec::new();
        for (batch, seq) in stamps {
            values.push(Value::Int(i64::from(batch.0)));
            values.push(Value::Int(i64::from(*seq)));
            let (b, s) = (values.len() - 1, values.len());
            any.push(format!(
                "(e.batch_id = ?{b} AND (e.first_seq IS NULL OR ?{s} BETWEEN e.first_seq AND e.last_seq))"
            ));
        }
        sql.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    values.push(Value::Int(i64::from(f.limit)));
    sql.push_str(&format!(" ORDER BY e.id LIMIT ?{}", values.len()));
    (sql, values)
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
