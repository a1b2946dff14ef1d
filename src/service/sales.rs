//! Sold at the till: a shop (role `seller`, or an admin) scans the stamps of
//! the packs it sells; later scans say "sold on DATE by SHOP". A sale is
//! undone only by the seller who made it, within ten days. Each code must
//! verify and be exactly the stamp tem issued; the seller must sell for its
//! producer; voided, unprinted and recalled stamps are not sold.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceResult, not_found};
use crate::codes::{CodeVerdict, Verifier};
use crate::domain::{Actor, BatchId, DomainError, ProducerId, Role, ShortCode, StampState};
use crate::store::{Seller, SoldStamp, Store, StoredStamp, Undo};

/// The most codes one request may carry (a carton at the till).
pub const MAX_CODES: usize = 500;

/// What happened to one code of a sale (or an undo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SaleLine {
    /// The code as sent.
    pub code: String,
    /// The stamp's serial, when the code is one of tem's stamps.
    pub serial: Option<String>,
    /// sold, already-sold, undone, not-sold, other-seller, too-late,
    /// not-genuine, not-registered, not-yours, not-printed, voided or recalled.
    pub result: &'static str,
    /// When it was sold (sold, already-sold).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sold_at: Option<jiff::Timestamp>,
    /// By which shop (sold, already-sold).
    pub shop: Option<String>,
}

impl SaleLine {
    fn refused(code: &str, serial: Option<String>, result: &'static str) -> SaleLine {
        SaleLine {
            code: code.to_string(),
            serial,
            result,
            sold_at: None,
            shop: None,
        }
    }
}

/// The seller an actor is: its records name and its shop.
fn seller(by: &Actor) -> ServiceResult<Seller> {
    let shop = match by.grant.role {
        Role::Seller => by.grant.shop.clone(),
        Role::Admin => Some(by.name.clone()),
        Role::Producer | Role::Inspector => None,
    }
    .ok_or_else(|| DomainError::new("role", "only sellers mark stamps sold"))?;
    Ok(Seller {
        actor: by.name.clone(),
        shop,
    })
}

/// The codes a request carries, within the limit.
fn checked(codes: &[String]) -> ServiceResult<()> {
    if codes.is_empty() || codes.len() > MAX_CODES {
        return Err(DomainError::new(
            "codes",
            format!("give 1 to {MAX_CODES} stamp codes or URLs"),
        )
        .into());
    }
    Ok(())
}

/// Resolves each code to its stamp, or to why it cannot be sold.
struct Resolver<'a> {
    store: &'a dyn Store,
    verifier: Verifier,
    producers: HashMap<BatchId, ProducerId>,
    /// Each batch's recalls, read once per request.
    recalls: HashMap<BatchId, Vec<crate::store::RecallRecord>>,
}

impl<'a> Resolver<'a> {
    fn new(ctx: &'a super::Context) -> ServiceResult<Resolver<'a>> {
        Ok(Resolver {
            store: ctx.store(),
            verifier: Verifier::new(&ctx.key_set()?),
            producers: HashMap::new(),
            recalls: HashMap::new(),
        })
    }

    /// "recalled" when a recall in force covers the stamp.
    fn recalled(&mut self, stamp: &StoredStamp) -> ServiceResult<Option<&'static str>> {
        if !self.recalls.contains_key(&stamp.batch) {
            let read = self.store.recalls(stamp.batch)?;
            self.recalls.insert(stamp.batch, read);
        }
        let covered = self.recalls[&stamp.batch].iter().any(|r| {
            r.lifted_at.is_none()
                && match (r.first_seq, r.last_seq) {
                    (Some(f), Some(l)) => (f..=l).contains(&stamp.seq),
                    _ => true,
                }
        });
        Ok(covered.then_some("recalled"))
    }

    fn stamp(&mut self, by: &Actor, code: &str) -> ServiceResult<Result<StoredStamp, SaleLine>> {
        let stamp = match ShortCode::parse(code.trim()) {
            // Typed from the label: the seller holds the pack; the stamp is
            // the registry's, whose own code must still verify.
            Some(short) => match self.store.stamp(short.serial())? {
                Some(s) if self.verifier.check_code(&s.code()).verdict == CodeVerdict::Genuine => s,
                Some(s) => {
                    let serial = Some(s.serial.to_string());
                    return Ok(Err(SaleLine::refused(code, serial, "not-genuine")));
                }
                None => return Ok(Err(SaleLine::refused(code, None, "not-registered"))),
            },
            None => {
                let check = self.verifier.check(code);
                let serial = check.code.map(|c| c.serial.to_string());
                let Some(parsed) = check.code.filter(|_| check.verdict == CodeVerdict::Genuine)
                else {
                    return Ok(Err(SaleLine::refused(code, serial, "not-genuine")));
                };
                match self.store.stamp(parsed.serial)? {
                    Some(s) if s.is_text(code, &parsed, check.kid) => s,
                    _ => return Ok(Err(SaleLine::refused(code, serial, "not-registered"))),
                }
            }
        };
        let serial = Some(stamp.serial.to_string());
        let producer = match self.producers.get(&stamp.batch) {
            Some(p) => *p,
            None => {
                let batch = self
                    .store
                    .batch(stamp.batch)?
                    .ok_or_else(|| not_found("batch", stamp.batch))?;
                let product = self
                    .store
                    .product(batch.product_id)?
                    .ok_or_else(|| not_found("product", batch.product_id))?;
                self.producers.insert(stamp.batch, product.producer_id);
                product.producer_id
            }
        };
        if !by.grant.sells_for(producer) {
            return Ok(Err(SaleLine::refused(code, serial, "not-yours")));
        }
        Ok(Ok(stamp))
    }
}

/// Marks the stamps of `codes` sold by `by`'s shop: one line per code, in order.
pub fn mark_sold(
    ctx: &super::Context,
    by: &Actor,
    codes: &[String],
) -> ServiceResult<Vec<SaleLine>> {
    checked(codes)?;
    let seller = seller(by)?;
    let store = ctx.store();
    let mut resolver = Resolver::new(ctx)?;
    let mut lines: Vec<Option<SaleLine>> = Vec::with_capacity(codes.len());
    let mut to_sell: Vec<(usize, SoldStamp)> = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let stamp = match resolver.stamp(by, code)? {
            Ok(stamp) => stamp,
            Err(line) => {
                lines.push(Some(line));
                continue;
            }
        };
        let serial = Some(stamp.serial.to_string());
        let refused = match stamp.state {
            StampState::Issued => Some("not-printed"),
            StampState::Voided => Some("voided"),
            StampState::Printed | StampState::Activated => None,
        };
        let refused = match refused {
            Some(r) => Some(r),
            None => resolver.recalled(&stamp)?,
        };
        if let Some(result) = refused {
            lines.push(Some(SaleLine::refused(code, serial, result)));
            continue;
        }
        lines.push(None);
        let sold = SoldStamp {
            serial: stamp.serial,
            batch: stamp.batch,
            seq: stamp.seq,
        };
        to_sell.push((i, sold));
    }
    let stamps: Vec<SoldStamp> = to_sell.iter().map(|(_, s)| *s).collect();
    let recorded = if stamps.is_empty() {
        Vec::new()
    } else {
        store.mark_sold(&stamps, &seller)?
    };
    for ((i, stamp), (sale, new)) in to_sell.into_iter().zip(recorded) {
        lines[i] = Some(SaleLine {
            code: codes[i].clone(),
            serial: Some(stamp.serial.to_string()),
            result: if new { "sold" } else { "already-sold" },
            sold_at: Some(sale.at),
            shop: Some(sale.shop),
        });
    }
    Ok(lines.into_iter().flatten().collect())
}

/// Undoes `by`'s sales of the stamps of `codes` (within ten days).
pub fn undo(ctx: &super::Context, by: &Actor, codes: &[String]) -> ServiceResult<Vec<SaleLine>> {
    checked(codes)?;
    let seller = seller(by)?;
    let store = ctx.store();
    let mut resolver = Resolver::new(ctx)?;
    let mut lines = Vec::with_capacity(codes.len());
    for code in codes {
        let stamp = match resolver.stamp(by, code)? {
            Ok(stamp) => stamp,
            Err(line) => {
                lines.push(line);
                continue;
            }
        };
        let sold = SoldStamp {
            serial: stamp.serial,
            batch: stamp.batch,
            seq: stamp.seq,
        };
        let result = match store.undo_sales(&[sold], &seller.actor)?.first() {
            Some(Undo::Undone) => "undone",
            Some(Undo::OtherSeller) => "other-seller",
            Some(Undo::TooLate) => "too-late",
            Some(Undo::NotSold) | None => "not-sold",
        };
        lines.push(SaleLine::refused(
            code,
            Some(stamp.serial.to_string()),
            result,
        ));
    }
    Ok(lines)
}

/// The till's form: the codes typed (one per line) and those read in the
/// photos are marked sold, or, with `undo`, their sales undone.
pub fn at_till(
    ctx: &super::Context,
    by: &Actor,
    typed: &str,
    photos: &[(String, Vec<u8>)],
    undo_them: bool,
) -> ServiceResult<Vec<SaleLine>> {
    let codes = codes_found(typed, photos)?;
    if undo_them {
        undo(ctx, by, &codes)
    } else {
        mark_sold(ctx, by, &codes)
    }
}

/// The codes of a till's form: one per line of `typed` (URLs or codes),
/// then every QR code read in each photo, each once. A photo that cannot be
/// read is refused, naming it.
fn codes_found(typed: &str, photos: &[(String, Vec<u8>)]) -> ServiceResult<Vec<String>> {
    let mut codes: Vec<String> = typed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    for (name, bytes) in photos {
        let found = crate::codes::photo::decode_bytes(name, bytes)
            .map_err(|e| DomainError::new("photos", e.to_string()))?;
        if found.is_empty() {
            return Err(DomainError::new("photos", format!("{name}: no QR code found")).into());
        }
        codes.extend(found);
    }
    let mut seen = std::collections::HashSet::new();
    codes.retain(|c| seen.insert(c.clone()));
    Ok(codes)
}
