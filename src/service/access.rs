//! What a grant may see. Every object a caller names is loaded through
//! these functions; one it may not see is answered exactly like one that
//! does not exist (`NotFound`), so ids cannot be probed.

use super::{ServiceResult, not_found, registry};
use crate::domain::{Batch, BatchId, Grant, Producer, ProducerId, Product, ProductId};
use crate::store::{BatchSummary, Store, StoredStamp};

/// A producer the grant may see (others are "not found").
pub fn producer(store: &dyn Store, grant: &Grant, id: ProducerId) -> ServiceResult<Producer> {
    let p = registry::producer(store, id)?;
    if grant.sees(&p) {
        Ok(p)
    } else {
        Err(not_found("producer", id))
    }
}

/// A product the grant may see.
pub fn product(store: &dyn Store, grant: &Grant, id: ProductId) -> ServiceResult<Product> {
    let p = registry::product(store, id)?;
    producer(store, grant, p.producer_id).map_err(|_| not_found("product", id))?;
    Ok(p)
}

/// A batch the grant may see.
pub fn batch(store: &dyn Store, grant: &Grant, id: BatchId) -> ServiceResult<Batch> {
    let b = registry::batch(store, id)?;
    product(store, grant, b.product_id).map_err(|_| not_found("batch", id))?;
    Ok(b)
}

/// Stamps `from`.., at most `limit`, of a batch the grant may see.
pub fn stamps(
    store: &dyn Store,
    grant: &Grant,
    id: BatchId,
    from: u32,
    limit: u32,
) -> ServiceResult<Vec<StoredStamp>> {
    batch(store, grant, id)?;
    Ok(store.stamps(id, from, limit)?)
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

/// A batch with its stamps by state, for lists.
pub struct BatchRow {
    /// The batch.
    pub b: BatchSummary,
    /// Its stamps by state.
    pub c: crate::domain::StampCounts,
}

/// The stamp counts of each batch, in one read.
pub fn with_counts(store: &dyn Store, batches: Vec<BatchSummary>) -> ServiceResult<Vec<BatchRow>> {
    let ids: Vec<BatchId> = batches.iter().map(|b| b.id).collect();
    let counts = store.stamp_counts_by_batch(&ids)?;
    Ok(batches
        .into_iter()
        .map(|b| BatchRow {
            c: counts.get(&b.id).copied().unwrap_or_default(),
            b,
        })
        .collect())
}

/// What the dashboard's start page lists: the products `grant` sees and
/// its latest batches (at most `latest`), newest first, with stamp counts.
pub fn start_page(
    store: &dyn Store,
    grant: &Grant,
    latest: usize,
) -> ServiceResult<(Vec<Product>, Vec<BatchRow>)> {
    let products = products(store, grant, None)?;
    let mut batches = batches(store, grant, None)?;
    batches.sort_by_key(|b| std::cmp::Reverse(b.id.0));
    batches.truncate(latest);
    Ok((products, with_counts(store, batches)?))
}

/// A product with a page of its batches, newest first.
pub struct ProductPage {
    /// The product.
    pub product: Product,
    /// Its producer.
    pub producer: Producer,
    /// The page's batches, with their stamp counts.
    pub batches: Vec<BatchRow>,
    /// All of the product's batches (for paging).
    pub total: usize,
}

/// Page `page` (from 0, `per_page` batches each) of a product `grant` may see.
pub fn product_page(
    store: &dyn Store,
    grant: &Grant,
    id: ProductId,
    page: usize,
    per_page: usize,
) -> ServiceResult<ProductPage> {
    let product = self::product(store, grant, id)?;
    let producer = registry::producer(store, product.producer_id)?;
    let mut batches = registry::batches(store, Some(product.id))?;
    let total = batches.len();
    batches.sort_by_key(|b| std::cmp::Reverse(b.id.0));
    let batches: Vec<_> = batches
        .into_iter()
        .skip(page * per_page)
        .take(per_page)
        .collect();
    Ok(ProductPage {
        product,
        producer,
        batches: with_counts(store, batches)?,
        total,
    })
}
