//! Producers, products, batches and stages: create, read, list.

use tracing::instrument;

use super::{ServiceResult, not_found};
use crate::domain::{
    Actor, Batch, BatchId, BatchInput, DomainError, Grant, NewBatch, NewProducer, NewProduct,
    NewStage, Producer, ProducerId, ProducerInput, Product, ProductId, ProductInput, Stage,
    StageInput,
};
pub use crate::store::BatchSummary;
use crate::store::Store;

/// Registers a producer (admins).
#[instrument(skip_all, fields(producer.name = %input.name))]
pub fn create_producer(
    store: &dyn Store,
    input: ProducerInput,
    actor: &str,
) -> ServiceResult<Producer> {
    let new = NewProducer::try_from(input)?;
    let producer = store.create_producer(&new, actor)?;
    tracing::info!(producer.id = %producer.id, "producer created");
    Ok(producer)
}

/// A producer by id.
pub fn producer(store: &dyn Store, id: ProducerId) -> ServiceResult<Producer> {
    store.producer(id)?.ok_or_else(|| not_found("producer", id))
}

/// Every producer.
pub fn producers(store: &dyn Store) -> ServiceResult<Vec<Producer>> {
    Ok(store.producers()?)
}

/// Registers a product, for someone who may see its producer.
#[instrument(skip_all, fields(product.name = %input.name, producer.id = input.producer_id))]
pub fn create_product(
    store: &dyn Store,
    input: ProductInput,
    by: &Actor,
) -> ServiceResult<Product> {
    super::access::producer(store, &by.grant, ProducerId(input.producer_id))?;
    create_product_with_photo(store, input, None, &by.name)
}

/// A product with a photo uploaded with it (the dashboard's form): the
/// photo is stored in the product's transaction and is its first image.
#[tracing::instrument(skip_all)]
pub fn create_product_with_photo(
    store: &dyn Store,
    input: ProductInput,
    photo: Option<crate::domain::Media>,
    actor: &str,
) -> ServiceResult<Product> {
    let mut new = NewProduct::try_from(input)?;
    if let Some(photo) = photo {
        new.images.insert(0, photo.name.clone());
        new.media.push(photo);
    }
    let product = store.create_product(&new, actor)?;
    tracing::info!(product.id = %product.id, "product created");
    Ok(product)
}

/// Changes a product's name, OCOP group, description and photo (from the
/// dashboard); its rating, GTIN and certifications stay as they are. A new
/// photo is stored in the product's transaction.
#[tracing::instrument(skip_all)]
pub fn edit_product(
    store: &dyn Store,
    id: ProductId,
    name: &str,
    ocop_group: Option<String>,
    description: Option<String>,
    photo: Option<crate::domain::Media>,
    actor: &str,
) -> ServiceResult<Product> {
    let current = product(store, id)?;
    let checked = NewProduct::try_from(ProductInput {
        producer_id: current.producer_id.0,
        name: name.to_string(),
        ocop_group,
        description,
        ..Default::default()
    })?;
    let new = NewProduct {
        ocop: current.ocop,
        gtin: current.gtin,
        images: photo
            .as_ref()
            .map_or(current.images, |m| vec![m.name.clone()]),
        certifications: current.certifications,
        media: photo.into_iter().collect(),
        ..checked
    };
    let updated = store.update_product(id, &new, actor)?;
    tracing::info!(product.id = %id, "product updated");
    Ok(updated)
}

/// What the dashboard's product form gives: the fields it edits, and the
/// photo file when one was chosen (normalised here, `photos`).
#[derive(Debug, Clone, Default)]
pub struct ProductForm {
    /// Its name.
    pub name: String,
    /// Its OCOP group, as chosen.
    pub ocop_group: Option<String>,
    /// What buyers should know.
    pub description: Option<String>,
    /// A photo, as uploaded (normalised before it is stored).
    pub photo: Option<Vec<u8>>,
}

/// Creates a product of `producer` from the dashboard's form, when `grant`
/// may add products for that producer (otherwise the form's producer field
/// is wrong, whoever it names).
pub fn create_product_from_form(
    store: &dyn Store,
    grant: &Grant,
    producer: ProducerId,
    form: ProductForm,
    actor: &str,
) -> ServiceResult<Product> {
    super::access::producer(store, grant, producer)
        .map_err(|_| DomainError::new("producer_id", "choose a producer"))?;
    let photo = form
        .photo
        .as_deref()
        .map(super::photos::product_photo)
        .transpose()?;
    let input = ProductInput {
        producer_id: producer.0,
        name: form.name,
        ocop_group: form.ocop_group,
        description: form.description,
        ..Default::default()
    };
    create_product_with_photo(store, input, photo, actor)
}

/// Changes a product from the dashboard's form, when `grant` may see it.
pub fn edit_product_from_form(
    store: &dyn Store,
    grant: &Grant,
    id: ProductId,
    form: ProductForm,
    actor: &str,
) -> ServiceResult<Product> {
    super::access::product(store, grant, id)?;
    let photo = form
        .photo
        .as_deref()
        .map(super::photos::product_photo)
        .transpose()?;
    edit_product(
        store,
        id,
        &form.name,
        form.ocop_group,
        form.description,
        photo,
        actor,
    )
}

/// A product by id.
pub fn product(store: &dyn Store, id: ProductId) -> ServiceResult<Product> {
    store.product(id)?.ok_or_else(|| not_found("product", id))
}

/// Products, of one producer or all.
pub fn products(store: &dyn Store, producer: Option<ProducerId>) -> ServiceResult<Vec<Product>> {
    if let Some(p) = producer {
        self::producer(store, p)?;
    }
    Ok(store.products(producer)?)
}

/// Registers a batch of a product `by` may see.
#[instrument(skip_all, fields(product.id = %product, batch.lot_code = %input.lot_code))]
pub fn create_batch(
    store: &dyn Store,
    product: ProductId,
    input: BatchInput,
    by: &Actor,
) -> ServiceResult<Batch> {
    super::access::product(store, &by.grant, product)?;
    let new = NewBatch::from_input(product, input)?;
    let batch = store.create_batch(&new, &by.name)?;
    tracing::info!(batch.id = %batch.id, "batch created");
    Ok(batch)
}

/// A batch by id.
pub fn batch(store: &dyn Store, id: BatchId) -> ServiceResult<Batch> {
    store.batch(id)?.ok_or_else(|| not_found("batch", id))
}

/// Batches, of one product or all.
pub fn batches(store: &dyn Store, product: Option<ProductId>) -> ServiceResult<Vec<BatchSummary>> {
    if let Some(p) = product {
        self::product(store, p)?;
    }
    Ok(store.batches(product)?)
}

/// Adds a stage to a batch `by` may see.
#[tracing::instrument(skip_all)]
pub fn add_stage(
    store: &dyn Store,
    batch: BatchId,
    input: StageInput,
    by: &Actor,
) -> ServiceResult<Stage> {
    super::access::batch(store, &by.grant, batch)?;
    let new = NewStage::try_from(input)?;
    Ok(store.add_stage(batch, &new, &by.name)?)
}
