//! A page as an EPCIS 2.0 query document (JSON-LD), written as it goes:
//! each event as the export writes it, or, for the public subset, without
//! who, why or the stamps' serials.

use std::io::Write;

use serde_json::{Value, json};

use super::select::{Item, Page};
use crate::domain::digital_link::DigitalLink;
use crate::service::ServiceResult;
use crate::service::epcis::{
    claim_fields, event_fields, io, sale_fields, write_epcs, write_extra, write_head,
};
use crate::store::{EventOf, Sale, Store};

/// Writes the page as an EPCIS 2.0 query document (JSON-LD).
pub fn write(store: &dyn Store, base: &str, page: &Page, out: &mut dyn Write) -> ServiceResult<()> {
    write_head(
        out,
        base,
        "EPCISQueryDocument",
        None,
        "{\"queryResults\":{\"queryName\":\"SimpleEventQuery\",\"resultsBody\":{\"eventList\":[",
    )?;
    for (i, item) in page.items.iter().enumerate() {
        match item {
            Item::Life(r) => {
                if i > 0 {
                    out.write_all(b",").map_err(io)?;
                }
                if page.public {
                    let fields = public_fields(r, base);
                    serde_json::to_writer(&mut *out, &fields).map_err(|e| io(e.into()))?;
                } else {
                    let fields = event_fields(&r.event, base, &r.province, &r.lot_code);
                    let text =
                        serde_json::to_string(&Value::Object(fields)).map_err(|e| io(e.into()))?;
                    write!(out, "{},\"epcList\":[", &text[..text.len() - 1]).map_err(io)?;
                    write_epcs(store, &r.event, base, out)?;
                    out.write_all(b"]}").map_err(io)?;
                }
            }
            Item::Sale(s) => {
                let sale = Sale {
                    at: s.at,
                    seller: s.seller.clone(),
                    shop: s.shop.clone(),
                };
                let fields = sale_fields(base, s.batch, &s.lot_code, &sale, s.count);
                let serials: Vec<String> = store
                    .sale_serials(&s.cursor)?
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                write_extra(out, i, fields, base, &serials)?;
            }
            Item::Claim(c) => {
                let fields = claim_fields(base, c.batch, &c.lot_code, c.serial, &c.at, &c.place);
                write_extra(out, i, fields, base, &[c.serial.to_string()])?;
            }
        }
    }
    out.write_all(b"]}}}}\n").map_err(io)?;
    Ok(())
}

/// An event as the public subset shows it: what, when and where, its lot
/// and how many stamps; not who, not why, not the serials.
fn public_fields(r: &EventOf, base: &str) -> Value {
    let e = &r.event;
    let mut map = event_fields(e, base, &r.province, &r.lot_code);
    for private in ["tem:actor", "tem:reason", "tem:detail"] {
        map.remove(private);
    }
    map.insert("tem:place".into(), json!(r.province));
    map.insert(
        "quantityList".into(),
        json!([{ "epcClass": lot_class(r, base), "quantity": e.count }]),
    );
    if let Some(notice) = e.detail.as_ref().and_then(|d| d.get("notice")) {
        map.insert("tem:notice".into(), notice.clone());
    }
    Value::Object(map)
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
