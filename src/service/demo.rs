//! Demo data: the cooperatives named in the OCOP news the brief cites, with
//! products, batches and stages, loaded from `assets/demo/demo.json`.
//! Loading is idempotent: what exists (same producer name, product name, lot
//! code) is left alone.

use serde::Deserialize;

use super::{ServiceResult, registry};
use crate::domain::{Actor, BatchInput, ProducerInput, ProductInput};
use crate::store::Store;

const DEMO_JSON: &str = include_str!("../../assets/demo/demo.json");
/// Who the demo data is recorded as, in the audit log.
const DEMO_ACTOR: &str = "tem demo";

#[derive(Deserialize)]
struct DemoFile {
    producers: Vec<DemoProducer>,
}

#[derive(Deserialize)]
struct DemoProducer {
    producer: ProducerInput,
    products: Vec<DemoProduct>,
}

#[derive(Deserialize)]
struct DemoProduct {
    /// A `ProductInput` without `producer_id`, which is filled in here.
    product: serde_json::Map<String, serde_json::Value>,
    batches: Vec<BatchInput>,
}

/// What `load` added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// Producers added.
    pub producers: usize,
    /// Products added.
    pub products: usize,
    /// Batches added.
    pub batches: usize,
    /// Every demo batch, whether added now or found.
    pub batch_ids: Vec<crate::domain::BatchId>,
}

/// Loads the demo data; what exists already is left alone.
#[tracing::instrument(skip_all)]
pub fn load(store: &dyn Store) -> ServiceResult<DemoReport> {
    let file: DemoFile = serde_json::from_str(DEMO_JSON)
        .map_err(|e| crate::domain::DomainError::new("assets/demo/demo.json", e.to_string()))?;
    let mut report = DemoReport::default();
    let existing = store.producers()?;
    for demo in file.producers {
        let producer = match existing.iter().find(|p| p.name == demo.producer.name) {
            Some(p) => p.clone(),
            None => {
                report.producers += 1;
                registry::create_producer(store, demo.producer, DEMO_ACTOR)?
            }
        };
        let products = store.products(Some(producer.id))?;
        for demo_product in demo.products {
            let mut fields = demo_product.product;
            fields.insert("producer_id".into(), producer.id.0.into());
            let input: ProductInput = serde_json::from_value(fields.into()).map_err(|e| {
                crate::domain::DomainError::new("assets/demo/demo.json", e.to_string())
            })?;
            let product = match products.iter().find(|p| p.name == input.name) {
                Some(p) => p.clone(),
                None => {
                    report.products += 1;
                    registry::create_product(store, input, &Actor::admin(DEMO_ACTOR))?
                }
            };
            let batches = store.batches(Some(product.id))?;
            for batch in demo_product.batches {
                if let Some(existing) = batches.iter().find(|b| b.lot_code == batch.lot_code) {
                    report.batch_ids.push(existing.id);
                    continue;
                }
                report.batches += 1;
                report.batch_ids.push(
                    registry::create_batch(store, product.id, batch, &Actor::admin(DEMO_ACTOR))?.id,
                );
            }
        }
    }
    Ok(report)
}

/// Stamps issued for each demo batch that has none.
const DEMO_STAMPS_PER_BATCH: u64 = 65;

/// What `load_and_issue` did besides loading.
#[derive(Debug, Default)]
pub struct DemoStart {
    /// What was loaded.
    pub report: DemoReport,
    /// The signing key generated because the key directory had none.
    pub generated_key: Option<crate::codes::Kid>,
    /// Stamps issued for demo batches that had none.
    pub issued: u64,
}

/// Loads the demo data, generates a signing key if there is none, and
/// issues a few stamps per demo batch without any, so there is something
/// to scan. `only_if_empty`: do nothing when the registry has producers
/// (`tem serve --demo` on a database in use).
pub fn load_and_issue(
    ctx: &super::Context,
    only_if_empty: bool,
) -> ServiceResult<Option<DemoStart>> {
    let store = ctx.store();
    if only_if_empty && !store.producers()?.is_empty() {
        return Ok(None);
    }
    let report = load(store)?;
    let generated_key = if ctx.keys()?.entries().is_empty() {
        Some(super::keys::generate(ctx.keys_dir(), store, DEMO_ACTOR)?)
    } else {
        None
    };
    let ring = ctx.keys()?;
    let mut issued = 0;
    for &id in &report.batch_ids {
        if store.stamp_counts(id)?.total == 0 && ring.active().is_some() {
            super::issue::issue(
                store,
                &ring,
                ctx.base_url(),
                super::issue::Order::plain(id, DEMO_STAMPS_PER_BATCH),
                &Actor::admin("demo"),
                &mut |_| Ok(()),
            )?;
            issued += DEMO_STAMPS_PER_BATCH;
        }
    }
    Ok(Some(DemoStart {
        report,
        generated_key,
        issued,
    }))
}
