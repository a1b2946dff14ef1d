//! The EPCIS 2.0 query interface (GS1 EPCIS 2.0 REST binding, `GET
//! /events` and `GET /events/{eventID}`): the batch lifecycle events the
//! export writes, filtered with the binding's common parameters and paged
//! with `nextPageToken`, for the callers allowed to see them.
//!
//! A token sees the events of the producers its grant sees (an inspector
//! every producer, or those of its provinces; a producer its own). The
//! public subset, when the server opens it, is commissioning and recalls
//! only, without who did it or why, and names each event's objects as its
//! lot and a quantity (`quantityList`) rather than listing the serials of
//! the stamps.

use std::io::Write;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::epcis::{EPCIS_CONTEXT, event_fields, io, listed_stamps, vocabulary, write_epcs};
use super::{ServiceResult, access, not_found};
use crate::domain::digital_link::DigitalLink;
use crate::domain::{DomainError, EventAction, Grant, Role, Serial};
use crate::store::{EventFilter, EventOf, Store};

/// Events per page when the client does not say (`perPage`), and at most.
pub const PER_PAGE: u32 = 30;
/// The most events one page holds, whatever `perPage` asks.
pub const PER_PAGE_MAX: u32 = 1000;
/// The most values one list parameter (`MATCH_epc`…) may hold.
const LIST_MAX: usize = 100;
/// The actions the public subset shows.
const PUBLIC: [EventAction; 2] = [EventAction::Commission, EventAction::Recall];
const BIZ_STEP: &str = "https://ref.gs1.org/cbv/BizStep-";
const DISPOSITION: &str = "https://ref.gs1.org/cbv/Disp-";

/// Who asks: a token's grant, or anyone (the public subset).
#[derive(Debug, Clone)]
pub enum Audience {
    /// A caller with a token.
    Grant(Grant),
    /// Anyone, on a server that opened the public subset.
    Public,
}

/// A query's parameters, checked.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// `eventType` allows `ObjectEvent` (tem writes no other type).
    object_events: bool,
    since: Option<Timestamp>,
    before: Option<Timestamp>,
    actions: Vec<EventAction>,
    epcs: Option<Vec<String>>,
    lots: Option<Vec<String>>,
    ids: Option<Vec<i64>>,
    per_page: u32,
    after: i64,
    /// The parameters as given but `nextPageToken`, for the next page's link.
    passed_on: Vec<(String, String)>,
}

impl EventQuery {
    /// Reads a query string. An unknown parameter is refused (a filter
    /// quietly ignored would answer more than was asked).
    pub fn parse(query: &str, base: &str) -> Result<EventQuery, DomainError> {
        let mut q = EventQuery {
            object_events: true,
            actions: EventAction::ALL.to_vec(),
            per_page: PER_PAGE,
            ..EventQuery::default()
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            q.apply(&name, &value, base)?;
            if name != "nextPageToken" {
                q.passed_on.push((name, value));
            }
        }
        Ok(q)
    }

    fn apply(&mut self, name: &str, value: &str, base: &str) -> Result<(), DomainError> {
        let bad = |why: &str| DomainError::new(name.to_string(), why.to_string());
        let list = || -> Result<Vec<String>, DomainError> {
            let items: Vec<String> = value.split('|').map(str::to_string).collect();
            if items.len() > LIST_MAX || items.iter().any(String::is_empty) {
                return Err(bad(&format!("1 to {LIST_MAX} values separated by |")));
            }
            Ok(items)
        };
        let time = || {
            value
                .parse::<Timestamp>()
                .map_err(|_| bad("a date and time with its offset, e.g. 2026-11-01T00:00:00+07:00"))
        };
        match name {
            "eventType" => self.object_events &= list()?.iter().any(|t| t == "ObjectEvent"),
            "GE_eventTime" => self.since = Some(time()?),
            "LT_eventTime" => self.before = Some(time()?),
            "EQ_action" => {
                let wanted = list()?;
                self.keep(|a| wanted.iter().any(|w| w == vocabulary(a).0));
            }
            "EQ_bizStep" => {
                let wanted: Vec<String> = list()?.into_iter().map(|s| bare(s, BIZ_STEP)).collect();
                self.keep(|a| wanted.iter().any(|w| w == vocabulary(a).1));
            }
            "EQ_disposition" => {
                let wanted: Vec<String> =
                    list()?.into_iter().map(|s| bare(s, DISPOSITION)).collect();
                self.keep(|a| {
                    vocabulary(a)
                        .2
                        .is_some_and(|d| wanted.iter().any(|w| w == d))
                });
            }
            "MATCH_epc" | "MATCH_anyEPC" => self.epcs = Some(and(self.epcs.take(), list()?)),
            "EQ_tem:lot" => self.lots = Some(and(self.lots.take(), list()?)),
            "EQ_eventID" => {
                let ids = list()?.iter().map(|i| event_id(i, base)).collect();
                self.ids = Some(and(self.ids.take(), ids));
            }
            "perPage" => {
                self.per_page = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=PER_PAGE_MAX).contains(n))
                    .ok_or_else(|| bad(&format!("a whole number from 1 to {PER_PAGE_MAX}")))?;
            }
            "nextPageToken" => {
                self.after =
                    read_token(value).ok_or_else(|| bad("not a token this server gave"))?;
            }
            _ => {
                return Err(DomainError::new(
                    "query",
                    format!(
                        "tem does not support the parameter {name:?}; it supports eventType, \
                         GE_eventTime, LT_eventTime, EQ_action, EQ_bizStep, EQ_disposition, \
                         MATCH_epc, MATCH_anyEPC, EQ_tem:lot, EQ_eventID, perPage, nextPageToken"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn keep(&mut self, wanted: impl Fn(EventAction) -> bool) {
        self.actions.retain(|a| wanted(*a));
    }

    /// The query for one event, by its ID (`{base}/event/{n}`, or `n`).
    pub fn one(event: &str, base: &str) -> EventQuery {
        EventQuery {
            object_events: true,
            actions: EventAction::ALL.to_vec(),
            ids: Some(vec![event_id(event, base)]),
            per_page: 1,
            ..EventQuery::default()
        }
    }
}

/// A value given as a full CBV URI, as its bare word.
fn bare(value: String, prefix: &str) -> String {
    value
        .strip_prefix(prefix)
        .map(str::to_string)
        .unwrap_or(value)
}

/// Two lists of a filter given twice: what both allow.
fn and<T: PartialEq>(before: Option<Vec<T>>, now: Vec<T>) -> Vec<T> {
    match before {
        None => now,
        Some(b) => now.into_iter().filter(|x| b.contains(x)).collect(),
    }
}

/// An event's number from its ID; an ID tem did not write names no event
/// (-1).
fn event_id(id: &str, base: &str) -> i64 {
    let n = id
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix("/event/"))
        .unwrap_or(id);
    n.parse::<i64>().ok().filter(|n| *n > 0).unwrap_or(-1)
}

/// `nextPageToken`: where the next page starts, opaque to clients.
fn token(after: i64) -> String {
    data_encoding::BASE64URL_NOPAD.encode(format!("tem-epcis:{after}").as_bytes())
}

fn read_token(t: &str) -> Option<i64> {
    let bytes = data_encoding::BASE64URL_NOPAD.decode(t.as_bytes()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("tem-epcis:")?
        .parse()
        .ok()
        .filter(|n| *n >= 0)
}

/// One page of events.
#[derive(Debug)]
pub struct Page {
    events: Vec<EventOf>,
    next: Option<String>,
    public: bool,
    passed_on: Vec<(String, String)>,
}

impl Page {
    /// How many events the page holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the page holds none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The query string of the next page, if there is one (the same
    /// parameters and its `nextPageToken`).
    pub fn next_query(&self) -> Option<String> {
        let token = self.next.as_ref()?;
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.passed_on {
            q.append_pair(k, v);
        }
        q.append_pair("nextPageToken", token);
        Some(q.finish())
    }
}

/// The events `query` asks for that `audience` may see, one page.
pub fn events(
    store: &dyn Store,
    base: &str,
    audience: &Audience,
    query: EventQuery,
) -> ServiceResult<Page> {
    let public = matches!(audience, Audience::Public);
    let mut actions = query.actions.clone();
    if public {
        actions.retain(|a| PUBLIC.contains(a));
    }
    if !query.object_events {
        actions.clear();
    }
    let filter = EventFilter {
        producers: match audience {
            Audience::Public => None,
            Audience::Grant(g) => visible_producers(store, g)?,
        },
        actions,
        since_second: query.since.map(second),
        until_second: query.before.map(second),
        lots: query.lots.clone(),
        ids: query.ids.clone(),
        stamps: match &query.epcs {
            None => None,
            Some(epcs) => Some(stamps_named(store, epcs, base)?),
        },
        after: query.after,
        limit: query.per_page,
    };
    let rows = store.query_events(&filter)?;
    let full = rows.len() == query.per_page as usize;
    let next = full
        .then(|| rows.last().map(|r| token(r.event.id)))
        .flatten();
    let stamps = filter.stamps.unwrap_or_default();
    let events = rows
        .into_iter()
        .filter(|r| query.since.is_none_or(|t| r.event.at >= t))
        .filter(|r| query.before.is_none_or(|t| r.event.at < t))
        .filter(|r| query.epcs.is_none() || covers_one(r, &stamps))
        .collect();
    Ok(Page {
        events,
        next,
        public,
        passed_on: query.passed_on,
    })
}

/// One event by its ID (404 when the audience may not see it).
pub fn event(store: &dyn Store, base: &str, audience: &Audience, id: &str) -> ServiceResult<Page> {
    let page = events(store, base, audience, EventQuery::one(id, base))?;
    if page.is_empty() {
        return Err(not_found("event", id));
    }
    Ok(page)
}

/// The producers a grant sees; `None` for all of them.
fn visible_producers(
    store: &dyn Store,
    grant: &Grant,
) -> ServiceResult<Option<Vec<crate::domain::ProducerId>>> {
    let everyone =
        grant.role == Role::Admin || (grant.role == Role::Inspector && grant.provinces.is_empty());
    if everyone {
        return Ok(None);
    }
    Ok(Some(
        access::producers(store, grant)?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    ))
}

/// The stamps the EPC URIs name (`{base}/stamp/{serial}`, or a Digital
/// Link URI with a serial): batch and number of each tem issued.
fn stamps_named(
    store: &dyn Store,
    epcs: &[String],
    base: &str,
) -> ServiceResult<Vec<(crate::domain::BatchId, u32)>> {
    let mut out = Vec::new();
    for epc in epcs {
        let serial = epc
            .strip_prefix(base)
            .and_then(|r| r.strip_prefix("/stamp/"))
            .map(str::to_string)
            .or_else(|| {
                let path = epc.split_once("://")?.1.split_once('/')?.1;
                let link = DigitalLink::parse_path(&format!("/{path}")).ok()?;
                link.serial().map(str::to_string)
            });
        if let Some(stamp) = serial.as_deref().and_then(Serial::parse)
            && let Some(s) = store.stamp(stamp)?
        {
            out.push((s.batch, s.seq));
        }
    }
    Ok(out)
}

/// Whether a listed print job printed one of the stamps (a range event
/// was matched by the database already).
fn covers_one(r: &EventOf, stamps: &[(crate::domain::BatchId, u32)]) -> bool {
    match listed_stamps(&r.event) {
        None => true,
        Some(listed) => stamps
            .iter()
            .any(|(b, seq)| *b == r.event.batch_id && listed.binary_search(seq).is_ok()),
    }
}

/// A time's second, as the events table's text begins (UTC).
fn second(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Writes the page as an EPCIS 2.0 query document (JSON-LD).
pub fn write(store: &dyn Store, base: &str, page: &Page, out: &mut dyn Write) -> ServiceResult<()> {
    let head = json!({
        "@context": [EPCIS_CONTEXT, { "tem": format!("{base}/ns/epcis#") }],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": Timestamp::now().to_string(),
    });
    let head = serde_json::to_string(&head).map_err(|e| io(e.into()))?;
    write!(
        out,
        "{},\"epcisBody\":{{\"queryResults\":{{\"queryName\":\"SimpleEventQuery\",\"resultsBody\":{{\"eventList\":[",
        &head[..head.len() - 1]
    )
    .map_err(io)?;
    for (i, r) in page.events.iter().enumerate() {
        if i > 0 {
            out.write_all(b",").map_err(io)?;
        }
        if page.public {
            let fields = public_fields(r, base);
            serde_json::to_writer(&mut *out, &fields).map_err(|e| io(e.into()))?;
        } else {
            let fields = event_fields(&r.event, base, &r.province, &r.lot_code);
            let text = serde_json::to_string(&Value::Object(fields)).map_err(|e| io(e.into()))?;
            write!(out, "{},\"epcList\":[", &text[..text.len() - 1]).map_err(io)?;
            write_epcs(store, &r.event, base, out)?;
            out.write_all(b"]}").map_err(io)?;
        }
    }
    out.write_all(b"]}}}}\n").map_err(io)?;
    Ok(())
}

/// An event as the public subset shows it: what, when and where, its lot
/// and how many stamps; not who, not why, not the serials.
fn public_fields(r: &EventOf, base: &str) -> Value {
    let e = &r.event;
    let (action, biz_step, disposition) = vocabulary(e.action);
    let mut fields = json!({
        "type": "ObjectEvent",
        "eventTime": e.at.to_string(),
        "eventTimeZoneOffset": "+07:00",
        "eventID": format!("{base}/event/{}", e.id),
        "action": action,
        "bizStep": biz_step,
        "quantityList": [{ "epcClass": lot_class(r, base), "quantity": e.count }],
        "tem:action": e.action,
        "tem:place": r.province,
        "tem:count": e.count,
        "tem:lot": r.lot_code,
    });
    let map = fields.as_object_mut().expect("an object");
    if let Some(d) = disposition {
        map.insert("disposition".into(), json!(d));
    }
    if let Some(notice) = e.detail.as_ref().and_then(|d| d.get("notice")) {
        map.insert("tem:notice".into(), notice.clone());
    }
    fields
}

/// The lot as a class of objects: its Digital Link URI on this resolver
/// when the product has a GTIN (and the lot code fits one), else tem's
/// name for the batch.
fn lot_class(r: &EventOf, base: &str) -> String {
    r.gtin
        .as_deref()
        .and_then(|g| DigitalLink::new(g, Some(&r.lot_code), None).ok())
        .map(|l| format!("{base}{}", l.path()))
        .unwrap_or_else(|| format!("{base}/batch/{}", r.event.batch_id))
}
