//! The EPCIS 2.0 query interface (GS1 EPCIS 2.0 REST binding, `GET
//! /events` and `GET /events/{eventID}`): the events the export writes (the
//! batches' lifecycle events, sales at a till, buyers' claims), filtered
//! with the binding's common parameters and paged with `nextPageToken`,
//! for the callers allowed to see them. Pages run through the lifecycle
//! events, then the sales, then the claims (`select`); `write` writes a
//! page as an EPCIS query document.
//!
//! A token sees the events of the producers its grant sees (an inspector
//! every producer, or those of its provinces; a producer its own). The
//! public subset, when the server opens it, is commissioning and recalls
//! only, without who did it or why, and names each event's objects as its
//! lot and a quantity (`quantityList`) rather than listing the serials of
//! the stamps.

use jiff::Timestamp;

use super::epcis::{sale_key, vocabulary};
use crate::domain::{DomainError, EventAction, Grant, Serial};

/// Events per page when the client does not say (`perPage`), and at most.
pub const PER_PAGE: u32 = 30;
/// The most events one page holds, whatever `perPage` asks.
pub const PER_PAGE_MAX: u32 = 1000;
/// The most values one list parameter (`MATCH_epc`…) may hold.
const LIST_MAX: usize = 100;
/// The actions the public subset shows.
const PUBLIC: [EventAction; 2] = [EventAction::Commission, EventAction::Recall];

mod select;
mod write;

pub use select::{Page, event, events};
pub use write::write;

/// A kind of event tem writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A batch's lifecycle event.
    Life(EventAction),
    /// Stamps sold at a till.
    Sale,
    /// A stamp claimed by its buyer.
    Claim,
}

impl Kind {
    fn all() -> Vec<Kind> {
        let mut all: Vec<Kind> = EventAction::ALL.into_iter().map(Kind::Life).collect();
        all.extend([Kind::Sale, Kind::Claim]);
        all
    }

    /// EPCIS action, CBV business step and disposition.
    fn vocabulary(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Kind::Life(a) => vocabulary(a),
            Kind::Sale => ("OBSERVE", "retail_selling", Some("retail_sold")),
            Kind::Claim => ("DELETE", "decommissioning", None),
        }
    }
}

/// The events `EQ_eventID` names, by kind.
#[derive(Debug, Clone, Default)]
struct Ids {
    events: Vec<i64>,
    /// (batch, the sale's key: `sale_key`).
    sales: Vec<(u32, String)>,
    claims: Vec<Serial>,
}

impl Ids {
    fn read(ids: &[String], base: &str) -> Ids {
        let mut out = Ids::default();
        for id in ids {
            let rest = id.strip_prefix(base).unwrap_or(id);
            if let Some(n) = rest.strip_prefix("/sale/") {
                if let Some((b, key)) = n.split_once('/')
                    && let Ok(b) = b.parse::<u32>()
                {
                    out.sales.push((b, key.to_string()));
                }
            } else if let Some(s) = rest.strip_prefix("/claim/") {
                out.claims.extend(Serial::parse(s));
            } else {
                let n = rest.strip_prefix("/event/").unwrap_or(rest);
                out.events.extend(n.parse::<i64>().ok().filter(|n| *n > 0));
            }
        }
        out
    }

    /// What both lists name (`EQ_eventID` given twice).
    fn and(self, other: Ids) -> Ids {
        Ids {
            events: and(Some(self.events), other.events),
            sales: and(Some(self.sales), other.sales),
            claims: and(Some(self.claims), other.claims),
        }
    }
}

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
    kinds: Vec<Kind>,
    epcs: Option<Vec<String>>,
    lots: Option<Vec<String>>,
    ids: Option<Ids>,
    per_page: u32,
    /// Stamps one page may name (`select::PAGE_EPCS` unless set).
    epc_budget: u64,
    after: select::Cursor,
    /// The parameters as given but `nextPageToken`, for the next page's link.
    passed_on: Vec<(String, String)>,
}

impl EventQuery {
    /// Reads a query string. An unknown parameter is refused (a filter
    /// quietly ignored would answer more than was asked).
    pub fn parse(query: &str, base: &str) -> Result<EventQuery, DomainError> {
        let mut q = EventQuery {
            object_events: true,
            kinds: Kind::all(),
            per_page: PER_PAGE,
            epc_budget: select::PAGE_EPCS,
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
                self.keep(|k| wanted.iter().any(|w| w == k.vocabulary().0));
            }
            "EQ_bizStep" => {
                let wanted: Vec<String> = list()?.into_iter().map(|s| bare(s, BIZ_STEP)).collect();
                self.keep(|k| wanted.iter().any(|w| w == k.vocabulary().1));
            }
            "EQ_disposition" => {
                let wanted: Vec<String> =
                    list()?.into_iter().map(|s| bare(s, DISPOSITION)).collect();
                self.keep(|k| {
                    k.vocabulary()
                        .2
                        .is_some_and(|d| wanted.iter().any(|w| w == d))
                });
            }
            "MATCH_epc" | "MATCH_anyEPC" => self.epcs = Some(and(self.epcs.take(), list()?)),
            "EQ_tem:lot" => self.lots = Some(and(self.lots.take(), list()?)),
            "EQ_eventID" => {
                let ids = Ids::read(&list()?, base);
                self.ids = Some(match self.ids.take() {
                    None => ids,
                    Some(before) => before.and(ids),
                });
            }
            "perPage" => {
                self.per_page = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=PER_PAGE_MAX).contains(n))
                    .ok_or_else(|| bad(&format!("a whole number from 1 to {PER_PAGE_MAX}")))?;
            }
            "nextPageToken" => {
                self.after = select::Cursor::read(value)
                    .ok_or_else(|| bad("not a token this server gave"))?;
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

    /// The same query with pages ending once they name `n` stamps (at
    /// least one event a page); `PAGE_EPCS` by default.
    pub fn with_epc_budget(mut self, n: u64) -> EventQuery {
        self.epc_budget = n;
        self
    }

    fn keep(&mut self, wanted: impl Fn(Kind) -> bool) {
        self.kinds.retain(|k| wanted(*k));
    }

    /// The query for one event, by its ID (`{base}/event/{n}`, `n`,
    /// `{base}/sale/{batch}/{key}` or `{base}/claim/{serial}`).
    pub fn one(event: &str, base: &str) -> EventQuery {
        EventQuery {
            object_events: true,
            kinds: Kind::all(),
            ids: Some(Ids::read(&[event.to_string()], base)),
            // A sale's ID is found among its batch's sales: room for them.
            per_page: PER_PAGE_MAX,
            epc_budget: select::PAGE_EPCS,
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
