//! Issuance: sign N fresh serials for a batch and store them, all or nothing.
//!
//! Signing runs on every core; the store writes on the calling thread inside
//! one transaction, pulling signed chunks from a bounded queue. Memory stays
//! bounded (a few chunks in flight) for any N, and a crash or kill before
//! the commit leaves no stamp behind.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use rand::Rng;
use tracing::instrument;

use super::ServiceResult;
use crate::codes::format::gs1::gtin14;
use crate::codes::format::qr_bits;
use crate::codes::{KeyRing, Kid, Signer, StampCode, StampForm};
use crate::domain::{Actor, BatchId, DomainError, Serial};
use crate::store::{IssueReceipt, NewIssuance, StampFeed, Store};

/// The most stamps one issuance may create. A province's yearly need is in
/// the tens of thousands; a million keeps one transaction under ~20 s here.
pub const MAX_PER_ISSUANCE: u32 = 1_000_000;
/// Stamps per chunk handed from signers to the writer.
const CHUNK: u32 = 2_048;

/// What `issue` reports back.
#[derive(Debug, Clone)]
pub struct IssueSummary {
    /// What was stored.
    pub receipt: IssueReceipt,
    /// The key that signed.
    pub kid: Kid,
    /// The QR version (at error-correction level M) of this batch's stamps
    /// under the configured base URL.
    pub qr_version: i16,
    /// How the stamps' URLs are written.
    pub form: StampForm,
    /// How long it took.
    pub elapsed: Duration,
}

/// Sees each chunk of stored stamps with their sequence numbers; an error
/// aborts (and rolls back) the issuance.
pub type OnWritten<'a> = &'a mut dyn FnMut(&[(u32, StampCode)]) -> Result<(), String>;

/// What to issue.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// The batch.
    pub batch: BatchId,
    /// How many stamps (1 to `MAX_PER_ISSUANCE`).
    pub count: u64,
    /// Whether each stamp gets a claim code (`codes::claim`) for a
    /// scratch-off panel.
    pub claim_codes: bool,
    /// Whether the stamps' URLs are GS1 Digital Link URIs with the
    /// product's GTIN (`codes::format::gs1`); the product needs a GTIN.
    pub gs1: bool,
}

impl Order {
    /// `count` stamps of `batch`, without claim codes.
    pub fn plain(batch: BatchId, count: u64) -> Order {
        Order {
            batch,
            count,
            claim_codes: false,
            gs1: false,
        }
    }
}

/// Issues with the active key of the context's key directory (the API and
/// the dashboard; the CLI calls `issue` with the ring it reads the signing
/// key from, to print it and write it in its CSV).
pub fn issue_for(ctx: &super::Context, order: Order, by: &Actor) -> ServiceResult<IssueSummary> {
    let keys = ctx.keys()?;
    issue(ctx.store(), &keys, ctx.base_url(), order, by, &mut |_| {
        Ok(())
    })
}

/// Checks a requested stamp count.
pub fn validate_count(count: u64) -> Result<u32, DomainError> {
    match u32::try_from(count) {
        Ok(n) if (1..=MAX_PER_ISSUANCE).contains(&n) => Ok(n),
        _ => Err(DomainError::new(
            "count",
            format!("must be between 1 and {MAX_PER_ISSUANCE} (got {count})"),
        )),
    }
}

/// Issues `order`. `on_written` sees every stored stamp with its sequence
/// number, chunk by chunk, while the transaction is open: an error from it
/// rolls the whole issuance back. Stamps with claim codes make the key
/// directory's claim key first, if it has none.
#[instrument(skip(store, keys, base_url, on_written), fields(batch.id = %order.batch))]
pub fn issue(
    store: &dyn Store,
    keys: &KeyRing,
    base_url: &str,
    order: Order,
    by: &Actor,
    on_written: OnWritten<'_>,
) -> ServiceResult<IssueSummary> {
    let Order {
        batch,
        count,
        claim_codes,
        gs1,
    } = order;
    let count = validate_count(count)?;
    let b = super::access::batch(store, &by.grant, batch)?;
    let form = stamp_form(store, &b, gs1)?;
    let signer = keys.signer()?;
    if claim_codes {
        let _lock = KeyRing::lock(keys.dir())?;
        crate::codes::claim::ClaimKey::open_or_create(keys.dir())?;
    }
    let started = Instant::now();
    let threads = crate::parallel::cores();
    let claimed = AtomicU32::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Vec<StampCode>>(threads * 2);

    let receipt = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (signer, claimed, stop) = (&signer, &claimed, &stop);
            scope.spawn(move || sign_chunks(signer, batch, count, claimed, stop, tx));
        }
        drop(tx);
        let mut feed = Feed {
            rx,
            signer: &signer,
            batch,
            on_written,
        };
        let new = NewIssuance {
            batch,
            kid: signer.kid(),
            public_key: &signer.public_key(),
            count,
            claim_codes,
            gs1_gtin: match &form {
                StampForm::Gs1 { gtin } => Some(gtin.as_str()),
                StampForm::Tem => None,
            },
        };
        let result = store.issue_stamps(&new, &by.name, &mut feed);
        // Unblock and stop the signers whatever happened.
        stop.store(true, Ordering::Relaxed);
        drop(feed);
        result
    })?;

    let example = signer.sign(Serial(0), batch);
    let qr_version = qr_bits(&example.segments(base_url, &form), qrcode::EcLevel::M)
        .map(|b| match b.version() {
            qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
        })
        .unwrap_or(0);
    let summary = IssueSummary {
        receipt,
        kid: signer.kid(),
        qr_version,
        form,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        stamps = summary.receipt.count,
        issuance = %summary.receipt.issuance,
        duration_ms = summary.elapsed.as_millis() as u64,
        "stamps issued"
    );
    Ok(summary)
}

/// The form of a batch's new stamps: tem's own, or the GS1 form with its
/// product's GTIN (14 digits; 400 if the product has none).
pub fn stamp_form(
    store: &dyn Store,
    batch: &crate::domain::Batch,
    gs1: bool,
) -> ServiceResult<StampForm> {
    if !gs1 {
        return Ok(StampForm::Tem);
    }
    let product = super::registry::product(store, batch.product_id)?;
    let gtin = product
        .gtin
        .as_ref()
        .and_then(|g| gtin14(g.as_str()))
        .ok_or_else(|| {
            DomainError::new(
                "gs1",
                "GS1-form stamps need the product's GTIN: add it to the product, or issue tem's own form",
            )
        })?;
    Ok(StampForm::Gs1 { gtin })
}

fn fresh(signer: &Signer, batch: BatchId, rng: &mut impl Rng) -> StampCode {
    signer.sign(Serial(rng.next_u64()), batch)
}

fn sign_chunks(
    signer: &Signer,
    batch: BatchId,
    count: u32,
    claimed: &AtomicU32,
    stop: &AtomicBool,
    tx: SyncSender<Vec<StampCode>>,
) {
    let mut rng = rand::rng();
    while !stop.load(Ordering::Relaxed) {
        let start = claimed.fetch_add(CHUNK, Ordering::Relaxed);
        if start >= count {
            return;
        }
        let n = CHUNK.min(count - start);
        let chunk: Vec<StampCode> = (0..n).map(|_| fresh(signer, batch, &mut rng)).collect();
        if tx.send(chunk).is_err() {
            return;
        }
    }
}

struct Feed<'a> {
    rx: Receiver<Vec<StampCode>>,
    signer: &'a Signer,
    batch: BatchId,
    on_written: OnWritten<'a>,
}

impl StampFeed for Feed<'_> {
    fn next_chunk(&mut self) -> Option<Vec<StampCode>> {
        self.rx.recv().ok()
    }

    fn replacement(&mut self) -> StampCode {
        fresh(self.signer, self.batch, &mut rand::rng())
    }

    fn written(&mut self, stamps: &[(u32, StampCode)]) -> Result<(), String> {
        (self.on_written)(stamps)
    }
}
