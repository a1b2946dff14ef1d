//! One page of a query: the lifecycle events, then the sales, then the
//! claims, each section read after the cursor the previous page ended at,
//! until the page is full.

use jiff::Timestamp;

use super::{Audience, EventQuery, Kind, PUBLIC, sale_key};
use crate::domain::digital_link::DigitalLink;
use crate::domain::{BatchId, Grant, ProducerId, Role, Serial};
use crate::service::epcis::listed_stamps;
use crate::service::{ServiceResult, access, not_found};
use crate::store::{ClaimEvent, EventFilter, EventOf, SaleCursor, SaleEvent, Store};

/// Where a page starts: a section and the last key read in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum Cursor {
    /// After lifecycle event id n.
    Life(i64),
    /// After this sale event.
    Sale(SaleCursor),
    /// After this claim (serial key); `None`: from the first.
    Claim(Option<i64>),
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor::Life(0)
    }
}

impl Cursor {
    /// `nextPageToken`: opaque to clients, read back strictly.
    fn token(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        data_encoding::BASE64URL_NOPAD.encode(&json)
    }

    pub(super) fn read(token: &str) -> Option<Cursor> {
        if token.len() > 1024 {
            return None;
        }
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(token.as_bytes())
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// One event of a page.
#[derive(Debug)]
pub(super) enum Item {
    Life(EventOf),
    Sale(SaleEvent),
    Claim(ClaimEvent),
}

impl Item {
    /// How many stamps the event names (for the page's budget).
    fn epcs(&self) -> u64 {
        match self {
            Item::Life(r) => r.event.count,
            Item::Sale(s) => s.count,
            Item::Claim(_) => 1,
        }
    }
}

/// One page of events.
#[derive(Debug)]
pub struct Page {
    pub(super) items: Vec<Item>,
    next: Option<Cursor>,
    pub(super) public: bool,
    passed_on: Vec<(String, String)>,
}

impl Page {
    /// How many events the page holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the page holds none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The query string of the next page, if there is one (the same
    /// parameters and its `nextPageToken`).
    pub fn next_query(&self) -> Option<String> {
        let token = self.next.as_ref()?.token();
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.passed_on {
            q.append_pair(k, v);
        }
        q.append_pair("nextPageToken", &token);
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
    let mut kinds = query.kinds.clone();
    if public {
        kinds.retain(|k| matches!(k, Kind::Life(a) if PUBLIC.contains(a)));
    }
    if !query.object_events {
        kinds.clear();
    }
    let mut filter = filter_for(store, base, audience, &query, &kinds)?;
    let (mut items, next) = fill(store, &mut filter, &query, &kinds, public)?;
    items.retain(|i| {
        let at = match i {
            Item::Life(r) => r.event.at,
            Item::Sale(s) => s.at,
            Item::Claim(c) => c.at,
        };
        query.since.is_none_or(|t| at >= t) && query.before.is_none_or(|t| at < t)
    });
    Ok(Page {
        items,
        next,
        public,
        passed_on: query.passed_on,
    })
}

/// What the store is asked for, from the query and the caller's grant.
fn filter_for(
    store: &dyn Store,
    base: &str,
    audience: &Audience,
    query: &EventQuery,
    kinds: &[Kind],
) -> ServiceResult<EventFilter> {
    let (stamps, serials) = match &query.epcs {
        None => (None, None),
        Some(epcs) => {
            let named = stamps_named(store, epcs, base)?;
            let serials = named.iter().map(|(s, _, _)| *s).collect();
            let stamps = named.into_iter().map(|(_, b, q)| (b, q)).collect();
            (Some(stamps), Some(serials))
        }
    };
    Ok(EventFilter {
        producers: match audience {
            Audience::Public => None,
            Audience::Grant(g) => visible_producers(store, g)?,
        },
        actions: kinds
            .iter()
            .filter_map(|k| match k {
                Kind::Life(a) => Some(*a),
                _ => None,
            })
            .collect(),
        since_second: query.since.map(second),
        until_second: query.before.map(second),
        lots: query.lots.clone(),
        ids: query.ids.as_ref().map(|i| i.events.clone()),
        stamps,
        serials,
        sale_batches: query
            .ids
            .as_ref()
            .map(|i| i.sales.iter().map(|(b, _)| BatchId(*b)).collect()),
        after: 0,
        limit: query.per_page,
    })
}

/// The most stamps one page names: past it the page ends early (an EPCIS
/// server may answer fewer events than `perPage`), so that one request
/// cannot stream a whole registry. A single larger event still fits.
pub const PAGE_EPCS: u64 = 1_000_000;

/// Reads the sections from the query's cursor on until the page is full;
/// the page's events and where the next page starts, if anything is left.
/// Each section is read one row further than the page has room for: that
/// row, if it comes, says a next page exists (and is not shown).
fn fill(
    store: &dyn Store,
    filter: &mut EventFilter,
    query: &EventQuery,
    kinds: &[Kind],
    public: bool,
) -> ServiceResult<(Vec<Item>, Option<Cursor>)> {
    let mut items: Vec<Item> = Vec::new();
    let mut section = query.after.clone();
    let (mut taken, mut epcs) = (0usize, 0u64);
    loop {
        let room = query.per_page as usize - taken;
        filter.limit = room as u32 + 1;
        // Where the next page starts if this one ends before a row: after
        // the last row read, or where this section starts.
        let mut resume = section.clone();
        for (n, (key, item)) in read_section(store, filter, query, kinds, &section)?
            .into_iter()
            .enumerate()
        {
            // The public subset names a quantity, not each stamp.
            let weight = match &item {
                Some(_) if public => 1,
                Some(i) => i.epcs(),
                None => 0,
            };
            if n == room || (!items.is_empty() && epcs + weight > query.epc_budget) {
                return Ok((items, Some(resume)));
            }
            epcs += weight;
            items.extend(item);
            resume = key;
            taken += 1;
        }
        section = match section {
            Cursor::Life(_) => Cursor::Sale((String::new(), 0, String::new())),
            Cursor::Sale(_) => Cursor::Claim(None),
            Cursor::Claim(_) => return Ok((items, None)),
        };
    }
}

/// One section's rows after `section`, in order: each row's cursor, and its
/// event unless the query leaves it out.
fn read_section(
    store: &dyn Store,
    filter: &mut EventFilter,
    query: &EventQuery,
    kinds: &[Kind],
    section: &Cursor,
) -> ServiceResult<Vec<(Cursor, Option<Item>)>> {
    Ok(match section {
        Cursor::Life(after) => {
            filter.after = *after;
            let stamps = filter.stamps.clone().unwrap_or_default();
            store
                .query_events(filter)?
                .into_iter()
                .map(|r| {
                    let key = Cursor::Life(r.event.id);
                    let keep = query.epcs.is_none() || covers_one(&r, &stamps);
                    (key, keep.then_some(Item::Life(r)))
                })
                .collect()
        }
        Cursor::Sale(after)
            if kinds.contains(&Kind::Sale)
                && query.ids.as_ref().is_none_or(|i| !i.sales.is_empty()) =>
        {
            let wanted = query.ids.as_ref().map(|i| &i.sales);
            store
                .query_sales(filter, after)?
                .into_iter()
                .map(|r| {
                    let key = Cursor::Sale(r.cursor.clone());
                    let keep =
                        wanted.is_none_or(|w| w.contains(&(r.batch.0, sale_key(&r.at, &r.seller))));
                    (key, keep.then_some(Item::Sale(r)))
                })
                .collect()
        }
        Cursor::Claim(after) if kinds.contains(&Kind::Claim) => {
            let ids = query.ids.as_ref().map(|i| i.claims.as_slice());
            store
                .query_claims(filter, ids, *after)?
                .into_iter()
                .map(|r| (Cursor::Claim(Some(r.serial.0 as i64)), Some(Item::Claim(r))))
                .collect()
        }
        _ => Vec::new(),
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
fn visible_producers(store: &dyn Store, grant: &Grant) -> ServiceResult<Option<Vec<ProducerId>>> {
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
/// Link URI with a serial): serial, batch and number of each tem issued.
fn stamps_named(
    store: &dyn Store,
    epcs: &[String],
    base: &str,
) -> ServiceResult<Vec<(Serial, BatchId, u32)>> {
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
            out.push((s.serial, s.batch, s.seq));
        }
    }
    Ok(out)
}

/// Whether a listed print job printed one of the stamps (a range event
/// was matched by the database already).
fn covers_one(r: &EventOf, stamps: &[(BatchId, u32)]) -> bool {
    match listed_stamps(&r.event) {
        None => true,
        Some(listed) => stamps
            .iter()
            .any(|(b, seq)| *b == r.event.batch_id && listed.binary_search(seq).is_ok()),
    }
}

/// A time's second, as the tables' text begins (UTC).
fn second(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}
