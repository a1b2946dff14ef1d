//! The batch's lifecycle events as a GS1 EPCIS 2.0 document (JSON-LD), one
//! `ObjectEvent` per recorded event, written as a stream (a commissioning
//! event of a million stamps lists a million identifiers).
//!
//! Each stamp is named by the URI `{base_url}/stamp/{serial}` (tem stamps are
//! not GS1 SGTINs). What, when and why map to EPCIS fields and the Core
//! Business Vocabulary; who, the reason and tem's own details go into
//! extension fields in the `tem:` namespace.
//!
//! After the lifecycle events come the sales and claims: each sale at a
//! till (the stamps one shop sold in one request) is a `retail_selling`
//! event with disposition `retail_sold`; each buyer's claim decommissions
//! its stamp (`DELETE`, `decommissioning`), as a medicine pack is
//! decommissioned when dispensed.

use std::io::Write;

use serde_json::{Value, json};

use super::{ServiceError, ServiceResult, registry};
use crate::domain::{BatchId, EventAction};

use crate::store::{Event, StoreError};

const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";
const PAGE: u32 = 10_000;

/// EPCIS action, CBV business step and disposition for a tem event.
pub(super) fn vocabulary(
    action: EventAction,
) -> (&'static str, &'static str, Option<&'static str>) {
    match action {
        EventAction::Commission => ("ADD", "commissioning", Some("inactive")),
        // Printing the code onto a label is encoding it in a data carrier.
        EventAction::Print => ("OBSERVE", "encoding", Some("inactive")),
        // Stuck on a package and released for sale.
        EventAction::Activate => ("OBSERVE", "packing", Some("active")),
        EventAction::Void => ("DELETE", "decommissioning", None),
        EventAction::Recall => ("OBSERVE", "holding", Some("recalled")),
        EventAction::Lift => ("OBSERVE", "holding", Some("active")),
        EventAction::Alert => ("OBSERVE", "inspecting", None),
    }
}

pub(super) fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Store(StoreError::database(format!(
        "writing the EPCIS document: {e}"
    )))
}

/// Writes an EPCIS document's head (context, type, version, creation date
/// and `extra`) and opens its body with `open` (`{"eventList":[`…): the
/// events follow, then the closing brackets.
pub(super) fn write_head(
    out: &mut dyn Write,
    base: &str,
    doc_type: &str,
    extra: Option<(&str, Value)>,
    open: &str,
) -> ServiceResult<()> {
    let mut head = json!({
        "@context": [EPCIS_CONTEXT, { "tem": format!("{base}/ns/epcis#") }],
        "type": doc_type,
        "schemaVersion": "2.0",
        "creationDate": jiff::Timestamp::now().to_string(),
    });
    if let (Some((k, v)), Some(map)) = (extra, head.as_object_mut()) {
        map.insert(k.to_string(), v);
    }
    let head = serde_json::to_string(&head).map_err(|e| io(e.into()))?;
    // Everything but the closing brace, then the body.
    write!(out, "{},\"epcisBody\":{open}", &head[..head.len() - 1]).map_err(io)
}

/// Writes the EPCIS document of `batch` to `out`; returns the number of events.
#[tracing::instrument(skip_all)]
pub fn write(
    store: &dyn crate::store::Store,
    batch: BatchId,
    base_url: &str,
    out: &mut dyn Write,
) -> ServiceResult<usize> {
    let b = registry::batch(store, batch)?;
    let product = registry::product(store, b.product_id)?;
    let producer = registry::producer(store, product.producer_id)?;
    let events = store.events(batch)?;
    let base = base_url.trim_end_matches('/');
    let batch_info = json!({ "id": b.id, "lot_code": b.lot_code, "product": product.name, "producer": producer.name, "province": producer.province });
    write_head(
        out,
        base,
        "EPCISDocument",
        Some(("tem:batch", batch_info)),
        "{\"eventList\":[",
    )?;
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.write_all(b",").map_err(io)?;
        }
        write_event(store, e, base, &producer.province, &b.lot_code, out)?;
    }
    let (sales, claims) = store.sales_and_claims(batch)?;
    let mut written = events.len();
    for group in sales.chunk_by(|a, b| (a.sale.at, &a.sale.seller) == (b.sale.at, &b.sale.seller)) {
        let sale = &group[0].sale;
        let serials: Vec<String> = group.iter().map(|s| s.serial.to_string()).collect();
        let fields = sale_fields(base, batch, &b.lot_code, sale, group.len() as u64);
        write_extra(out, written, fields, base, &serials)?;
        written += 1;
    }
    for c in &claims {
        let place = c.province.as_deref().unwrap_or(&producer.province);
        let fields = claim_fields(base, batch, &b.lot_code, c.serial, &c.at, place);
        write_extra(out, written, fields, base, &[c.serial.to_string()])?;
        written += 1;
    }
    out.write_all(b"]}}\n").map_err(io)?;
    Ok(written)
}

/// A sale event's key in its ID (`{base}/sale/{batch}/{key}`): the first
/// 8 bytes of SHA-256 over its time and seller, in hex. Stable: the same
/// sale has the same ID in the export and in every query.
pub(super) fn sale_key(at: &jiff::Timestamp, seller: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{at}|{seller}").as_bytes());
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// A sale event's fields but its objects: one seller's request at a till.
/// Its ID is stable (`sale_key`): the same in every export and query.
pub(super) fn sale_fields(
    base: &str,
    batch: BatchId,
    lot: &str,
    sale: &crate::store::Sale,
    count: u64,
) -> Value {
    let key = sale_key(&sale.at, &sale.seller);
    json!({
        "eventTime": sale.at.to_string(), "eventID": format!("{base}/sale/{}/{key}", batch.0),
        "action": "OBSERVE", "bizStep": "retail_selling", "disposition": "retail_sold",
        "tem:action": "sold", "tem:actor": sale.seller, "tem:place": sale.shop, "tem:count": count,
        "tem:batch": batch, "tem:lot": lot,
    })
}

/// A claim event's fields but its object: a buyer claimed a stamp, which
/// decommissions it (as a medicine pack is when dispensed).
pub(super) fn claim_fields(
    base: &str,
    batch: BatchId,
    lot: &str,
    serial: crate::domain::Serial,
    at: &jiff::Timestamp,
    place: &str,
) -> Value {
    json!({
        "eventTime": at.to_string(), "eventID": format!("{base}/claim/{serial}"),
        "action": "DELETE", "bizStep": "decommissioning",
        "tem:action": "claimed", "tem:actor": "buyer", "tem:place": place, "tem:count": 1,
        "tem:batch": batch, "tem:lot": lot,
    })
}

/// Writes one sale or claim event: `fields` (an object) as an
/// `ObjectEvent` naming these stamps.
pub(super) fn write_extra(
    out: &mut dyn Write,
    index: usize,
    mut fields: Value,
    base: &str,
    serials: &[String],
) -> ServiceResult<()> {
    let map = fields.as_object_mut().expect("an object");
    map.insert("type".into(), json!("ObjectEvent"));
    map.insert("eventTimeZoneOffset".into(), json!("+07:00"));
    let list: Vec<String> = serials
        .iter()
        .map(|s| format!("{base}/stamp/{s}"))
        .collect();
    map.insert("epcList".into(), json!(list));
    if index > 0 {
        out.write_all(b",").map_err(io)?;
    }
    serde_json::to_writer(&mut *out, &fields).map_err(|e| io(e.into()))
}

fn write_event(
    store: &dyn crate::store::Store,
    e: &Event,
    base: &str,
    province: &str,
    lot: &str,
    out: &mut dyn Write,
) -> ServiceResult<()> {
    let fields = event_fields(e, base, province, lot);
    let text = serde_json::to_string(&Value::Object(fields)).map_err(|e| io(e.into()))?;
    write!(out, "{},\"epcList\":[", &text[..text.len() - 1]).map_err(io)?;
    write_epcs(store, e, base, out)?;
    out.write_all(b"]}").map_err(io)?;
    Ok(())
}

/// An event's fields but its objects: what, when, why, and tem's details
/// (`tem:`), as the export and the EPCIS query write them.
pub(super) fn event_fields(
    e: &Event,
    base: &str,
    province: &str,
    lot: &str,
) -> serde_json::Map<String, Value> {
    let (action, biz_step, disposition) = vocabulary(e.action);
    let mut fields = json!({
        "type": "ObjectEvent",
        "eventTime": e.at.to_string(),
        "eventTimeZoneOffset": "+07:00",
        "eventID": format!("{base}/event/{}", e.id),
        "action": action,
        "bizStep": biz_step,
        "tem:action": e.action,
        "tem:actor": e.actor,
        "tem:place": e.place.as_deref().unwrap_or(province),
        "tem:count": e.count,
        "tem:batch": e.batch_id,
        "tem:lot": lot,
    });
    let map = fields.as_object_mut().expect("an object");
    if let Some(d) = disposition {
        map.insert("disposition".into(), json!(d));
    }
    if let Some(r) = &e.reason {
        map.insert("tem:reason".into(), json!(r));
    }
    if let Some(d) = &e.detail {
        map.insert("tem:detail".into(), d.clone());
    }
    std::mem::take(map)
}

/// The stamps an event concerns, as EPC URIs separated by commas: a listed
/// print job, a range, or the whole batch, read a page at a time.
pub(super) fn write_epcs(
    store: &dyn crate::store::Store,
    e: &Event,
    base: &str,
    out: &mut dyn Write,
) -> ServiceResult<()> {
    let listed = listed_stamps(e);
    let (first, last) = (e.first_seq.unwrap_or(1), e.last_seq.unwrap_or(u32::MAX));
    let mut next = first;
    let mut written = 0u64;
    'pages: loop {
        let page = store.stamps(e.batch_id, next, PAGE)?;
        let Some(tail) = page.last() else { break };
        next = tail.seq + 1;
        for s in &page {
            if s.seq > last {
                break 'pages;
            }
            if listed
                .as_ref()
                .is_some_and(|l| l.binary_search(&s.seq).is_err())
            {
                continue;
            }
            if written > 0 {
                out.write_all(b",").map_err(io)?;
            }
            write!(out, "\"{base}/stamp/{}\"", s.serial).map_err(io)?;
            written += 1;
        }
    }
    Ok(())
}

/// The stamps a print job listed (sorted), when it did not print a range.
pub(super) fn listed_stamps(e: &Event) -> Option<Vec<u32>> {
    e.detail
        .as_ref()
        .and_then(|d| d.get("seqs"))
        .and_then(|s| serde_json::from_value::<Vec<u32>>(s.clone()).ok())
        .map(|mut l| {
            l.sort_unstable();
            l
        })
}
