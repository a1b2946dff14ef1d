//! What a grant may see. Every object a caller names is loaded through
//! these functions; one it may not see is answered exactly like one that
//! does not exist (`NotFound`), so ids cannot be probed.

use super::{ServiceResult, not_found, registry};
use crate::domain::{Batch, BatchId, Grant, Producer, ProducerId, Product, ProductId};
use crate::store::{BatchSummary, Store};

pub fn producer(store: &dyn Store, grant: &Grant, id: ProducerId) -> ServiceResult<Producer> {
    let p = registry::producer(store, id)?;
    if grant.sees(&p) {
        Ok(p)
    } else {
        Err(not_found("producer", id))
    }
}

pub fn product(store: &dyn Store, grant: &Grant, id: ProductId) -> ServiceResult<Product> {
    let p = registry::product(store, id)?;
    producer(store, grant, p.producer_id).map_err(|_| not_found("product", id))?;
    Ok(p)
}

pub fn batch(store: &dyn Store, grant: &Grant, id: BatchId) -> ServiceResult<Batch> {
    let b = registry::batch(store, id)?;
    product(store, grant, b.product_id).map_err(|_| not_found("batch", id))?;
    Ok(b)
}

/// The producers a grant sees.
pub fn producers(store: &dyn Store, grant: &Grant) -> ServiceResult<Vec<Producer>> {
    Ok(registry::producers(store)?
        .into_iter()
        .filter(|p| grant.sees(p))
        .collect())
}

/// Products a grant sees, of one producer or of all it sees.
pub fn products(
    store: &dyn Store,
    grant: &Grant,
    of: Option<ProducerId>,
) -> ServiceResult<Vec<Product>> {
    if let Some(p) = of {
        producer(store, grant, p)?;
        return registry::products(store, Some(p));
    }
    let visible: std::collections::HashSet<ProducerId> =
        producers(store, grant)?.into_iter().map(|p| p.id).collect();
    Ok(registry::products(store, None)?
        .into_iter()
        .filter(|p| visible.contains(&p.producer_id))
        .collect())
}

/// Batches a grant sees, of one product or of all it sees.
pub fn batches(
    store: &dyn Store,
    grant: &Grant,
    of: Option<ProductId>,
) -> ServiceResult<Vec<BatchSummary>> {
    if let Some(p) = of {
        product(store, grant, p)?;
        return registry::batches(store, Some(p));
    }
    let visible: std::collections::HashSet<ProducerId> =
        producers(store, grant)?.into_iter().map(|p| p.id).collect();
    Ok(registry::batches(store, None)?
        .into_iter()
        .filter(|b| visible.contains(&b.producer_id))
        .collect())
}
