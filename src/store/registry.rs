//! Producers, products, their batches and production stages: the registry a
//! stamp points into.

use super::backend::{Backend, now};
use super::conn::{Conn, Row, args};
use super::journal::audit_append;
use super::lookups::batch_exists;
use super::lookups::counts;
use super::media::insert_media;
use super::rows::{bad_value, day, not_found, opt_day, ts};
use super::{StoreError, StoreResult};
use crate::domain::{
    Batch, BatchId, Certification, Gtin, NewBatch, NewProducer, NewProduct, NewStage, OcopGroup,
    OcopRating, Producer, ProducerId, ProducerKind, Product, ProductId, Stage, StageTime,
    StampCounts,
};

// The SQL of this file, named, so that rustfmt formats the code around it.
const INSERT_PRODUCER: &str = "INSERT INTO producers (kind, name, registration_no, street, commune, district, province, phone, email, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const INSERT_PRODUCT: &str = "INSERT INTO products (producer_id, name, ocop_group, ocop_stars, ocop_decision_no, ocop_decision_date, gtin, description, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const UPDATE_PRODUCT: &str = "UPDATE products SET name = ?2, ocop_group = ?3, ocop_stars = ?4, ocop_decision_no = ?5, ocop_decision_date = ?6,
     gtin = ?7, description = ?8 WHERE id = ?1";
const DELETE_PRODUCT_IMAGES: &str = "DELETE FROM product_images WHERE product_id = ?1";
const DELETE_CERTIFICATIONS: &str = "DELETE FROM certifications WHERE product_id = ?1";
const BATCH_BY_LOT: &str = "SELECT id FROM batches WHERE product_id = ?1 AND lot_code = ?2";
const INSERT_BATCH: &str = "INSERT INTO batches (product_id, lot_code, production_date, expiry_date, shelf_life_days, quantity, unit, raw_material_area, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const BATCH_SUMMARIES: &str = "SELECT b.id, b.lot_code, b.product_id, p.name, p.producer_id, pr.name, b.production_date, b.expiry_date, b.quantity,
     (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM batch_stamp_counts WHERE batch_id = b.id)
     FROM batches b JOIN products p ON p.id = b.product_id JOIN producers pr ON pr.id = p.producer_id
     WHERE CAST(?1 AS BIGINT) IS NULL OR b.product_id = ?1 ORDER BY b.id";
const NEXT_STAGE_POSITION: &str =
    "SELECT COALESCE(MAX(position), 0) + 1 FROM stages WHERE batch_id = ?1";
const INSERT_PRODUCT_IMAGE: &str =
    "INSERT INTO product_images (product_id, position, ref) VALUES (?1, ?2, ?3)";
const INSERT_CERTIFICATION: &str = "INSERT INTO certifications (product_id, position, name, issuer, number, valid_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const PRODUCT_IMAGES: &str =
    "SELECT ref FROM product_images WHERE product_id = ?1 ORDER BY position";
const CERTIFICATIONS: &str = "SELECT name, issuer, number, valid_until FROM certifications WHERE product_id = ?1 ORDER BY position";
const STAGES: &str =
    "SELECT position, name, place, time, note FROM stages WHERE batch_id = ?1 ORDER BY position";
const INSERT_STAGE: &str = "INSERT INTO stages (batch_id, position, name, place, time, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Summary of a batch in listings.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BatchSummary {
    /// The batch.
    pub id: BatchId,
    /// Its lot code.
    pub lot_code: String,
    /// Its product.
    pub product_id: ProductId,
    /// The product's name.
    pub product_name: String,
    /// The producer.
    pub producer_id: ProducerId,
    /// The producer's name.
    pub producer_name: String,
    /// When it was made.
    #[schema(value_type = String, format = Date)]
    pub production_date: jiff::civil::Date,
    /// Best before, if any.
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry_date: Option<jiff::civil::Date>,
    /// How many packages.
    pub quantity: u32,
    /// Stamps issued for it.
    pub stamps_issued: u64,
}

/// The registry: producers, their products, and the batches stamps are issued for.
pub trait RegistryStore {
    /// `actor` (who, for the audit log) here and in every change below.
    fn create_producer(&self, new: &NewProducer, actor: &str) -> StoreResult<Producer>;
    /// A producer by id.
    fn producer(&self, id: ProducerId) -> StoreResult<Option<Producer>>;
    /// Every producer.
    fn producers(&self) -> StoreResult<Vec<Producer>>;
    /// Stores a product (and the photos that came with it).
    fn create_product(&self, new: &NewProduct, actor: &str) -> StoreResult<Product>;
    /// A product by id.
    fn product(&self, id: ProductId) -> StoreResult<Option<Product>>;
    /// Replaces a product's details (same producer), with an audit entry
    /// holding it before and after.
    fn update_product(&self, id: ProductId, new: &NewProduct, actor: &str) -> StoreResult<Product>;
    /// Products, of one producer or all.
    fn products(&self, producer: Option<ProducerId>) -> StoreResult<Vec<Product>>;
    /// Stores a batch and its stages.
    fn create_batch(&self, new: &NewBatch, actor: &str) -> StoreResult<Batch>;
    /// A batch by id.
    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>>;
    /// Batches, of one product or all, newest first.
    fn batches(&self, product: Option<ProductId>) -> StoreResult<Vec<BatchSummary>>;
    /// Adds a stage to a batch.
    fn add_stage(&self, batch: BatchId, stage: &NewStage, actor: &str) -> StoreResult<Stage>;
    /// The product with a GTIN stored in any of `forms` (a GTIN keeps the
    /// length it was given in: `DigitalLink::stored_forms`); the oldest if
    /// several have it.
    fn product_by_gtin(&self, forms: &[String]) -> StoreResult<Option<Product>>;
    /// A product's batch with this lot code.
    fn batch_by_lot(&self, product: ProductId, lot: &str) -> StoreResult<Option<Batch>>;
}

impl<B: Backend> RegistryStore for B {
    fn create_producer(&self, p: &NewProducer, actor: &str) -> StoreResult<Producer> {
        self.write(|tx| {
            let id = ProducerId(tx.insert(
                INSERT_PRODUCER,
                args![
                    p.kind.as_str(),
                    p.name,
                    p.registration_no,
                    p.street,
                    p.commune,
                    p.district,
                    p.province,
                    p.phone,
                    p.email,
                    now()
                ],
            )?);
            let p = load_producer(tx, id)?.ok_or_else(|| not_found("producer", id))?;
            audit_append(
                tx,
                actor,
                "producer.create",
                &format!("producer:{id}"),
                None,
                serde_json::to_value(&p).ok(),
            )?;
            Ok(p)
        })
    }

    fn producer(&self, id: ProducerId) -> StoreResult<Option<Producer>> {
        self.read(|c| load_producer(c, id))
    }

    fn producers(&self) -> StoreResult<Vec<Producer>> {
        self.read(|c| {
            c.query_map(
                &format!("SELECT {PRODUCER_COLUMNS} FROM producers ORDER BY id"),
                args![],
                producer_row,
            )
        })
    }

    fn create_product(&self, p: &NewProduct, actor: &str) -> StoreResult<Product> {
        self.write(|tx| {
            if load_producer(tx, p.producer_id)?.is_none() {
                return Err(not_found("producer", p.producer_id));
            }
            let id = ProductId(tx.insert(
                INSERT_PRODUCT,
                args![
                    p.producer_id.0,
                    p.name,
                    p.ocop_group.map(OcopGroup::as_str),
                    p.ocop.as_ref().map(|o| o.stars),
                    p.ocop.as_ref().map(|o| o.decision_no.as_str()),
                    p.ocop.as_ref().map(|o| o.decision_date.to_string()),
                    p.gtin.as_ref().map(Gtin::as_str),
                    p.description,
                    now()
                ],
            )?);
            insert_media(tx, &p.media)?;
            insert_product_parts(tx, id, p)?;
            let product = load_product(tx, id)?.ok_or_else(|| not_found("product", id))?;
            audit_append(
                tx,
                actor,
                "product.create",
                &format!("product:{id}"),
                None,
                serde_json::to_value(&product).ok(),
            )?;
            Ok(product)
        })
    }

    fn product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        self.read(|c| load_product(c, id))
    }

    fn update_product(&self, id: ProductId, p: &NewProduct, actor: &str) -> StoreResult<Product> {
        self.write(|tx| {
            let before = load_product(tx, id)?.ok_or_else(|| not_found("product", id))?;
            if before.producer_id != p.producer_id {
                return Err(StoreError::Conflict(
                    "a product stays with its producer".into(),
                ));
            }
            tx.execute(
                UPDATE_PRODUCT,
                args![
                    id.0,
                    p.name,
                    p.ocop_group.map(OcopGroup::as_str),
                    p.ocop.as_ref().map(|o| o.stars),
                    p.ocop.as_ref().map(|o| o.decision_no.as_str()),
                    p.ocop.as_ref().map(|o| o.decision_date.to_string()),
                    p.gtin.as_ref().map(Gtin::as_str),
                    p.description,
                ],
            )?;
            tx.execute(DELETE_PRODUCT_IMAGES, args![id.0])?;
            tx.execute(DELETE_CERTIFICATIONS, args![id.0])?;
            insert_media(tx, &p.media)?;
            insert_product_parts(tx, id, p)?;
            let after = load_product(tx, id)?.ok_or_else(|| not_found("product", id))?;
            audit_append(
                tx,
                actor,
                "product.update",
                &format!("product:{id}"),
                serde_json::to_value(&before).ok(),
                serde_json::to_value(&after).ok(),
            )?;
            Ok(after)
        })
    }

    fn products(&self, producer: Option<ProducerId>) -> StoreResult<Vec<Product>> {
        self.read(|c| {
            let rows = c.query_map(
                &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE CAST(?1 AS BIGINT) IS NULL OR producer_id = ?1 ORDER BY id"),
                args![producer.map(|p| p.0)],
                product_row,
            )?;
            rows.into_iter().map(|r| finish_product(c, r)).collect()
        })
    }

    fn create_batch(&self, b: &NewBatch, actor: &str) -> StoreResult<Batch> {
        self.write(|tx| {
            if load_product(tx, b.product_id)?.is_none() {
                return Err(not_found("product", b.product_id));
            }
            let taken = tx.query_opt(BATCH_BY_LOT, args![b.product_id.0, b.lot_code], |r| {
                r.get::<u32>(0)
            })?;
            if let Some(other) = taken {
                return Err(StoreError::Conflict(format!(
                    "lot code {:?} is already used by batch {other} of product {}",
                    b.lot_code, b.product_id
                )));
            }
            let id = tx.insert(
                INSERT_BATCH,
                args![
                    b.product_id.0,
                    b.lot_code,
                    b.production_date.to_string(),
                    b.expiry_date.map(|d| d.to_string()),
                    b.shelf_life_days,
                    b.quantity,
                    b.unit,
                    b.raw_material_area,
                    now()
                ],
            )?;
            let id = BatchId(
                u32::try_from(id)
                    .map_err(|_| StoreError::database("batch ids are exhausted (32 bits)"))?,
            );
            for (i, s) in b.stages.iter().enumerate() {
                insert_stage(tx, id, (i + 1) as u32, s)?;
            }
            let batch = load_batch(tx, id)?.ok_or_else(|| not_found("batch", id))?;
            audit_append(
                tx,
                actor,
                "batch.create",
                &format!("batch:{id}"),
                None,
                serde_json::to_value(&batch).ok(),
            )?;
            Ok(batch)
        })
    }

    fn batch(&self, id: BatchId) -> StoreResult<Option<Batch>> {
        self.read(|c| load_batch(c, id))
    }

    fn product_by_gtin(&self, forms: &[String]) -> StoreResult<Option<Product>> {
        let form = |i: usize| forms.get(i).or(forms.first()).cloned().unwrap_or_default();
        self.read(|c| {
            let row = c.query_opt(
                &format!(
                    "SELECT {PRODUCT_COLUMNS} FROM products WHERE gtin IN (?1, ?2, ?3, ?4) ORDER BY id LIMIT 1"
                ),
                args![form(0), form(1), form(2), form(3)],
                product_row,
            )?;
            row.map(|r| finish_product(c, r)).transpose()
        })
    }

    fn batch_by_lot(&self, product: ProductId, lot: &str) -> StoreResult<Option<Batch>> {
        self.read(|c| {
            let id = c.query_opt(BATCH_BY_LOT, args![product.0, lot.to_string()], |r| {
                r.get::<u32>(0)
            })?;
            match id {
                Some(id) => load_batch(c, BatchId(id)),
                None => Ok(None),
            }
        })
    }

    fn batches(&self, product: Option<ProductId>) -> StoreResult<Vec<BatchSummary>> {
        self.read(|c| {
            c.query_map(BATCH_SUMMARIES, args![product.map(|p| p.0)], |r| {
                Ok(BatchSummary {
                    id: BatchId(r.get(0)?),
                    lot_code: r.get(1)?,
                    product_id: ProductId(r.get(2)?),
                    product_name: r.get(3)?,
                    producer_id: ProducerId(r.get(4)?),
                    producer_name: r.get(5)?,
                    production_date: day(r, 6)?,
                    expiry_date: opt_day(r, 7)?,
                    quantity: r.get(8)?,
                    stamps_issued: r.get::<i64>(9)?.max(0) as u64,
                })
            })
        })
    }

    fn add_stage(&self, batch: BatchId, stage: &NewStage, actor: &str) -> StoreResult<Stage> {
        self.write(|tx| {
            if !batch_exists(tx, batch)? {
                return Err(not_found("batch", batch));
            }
            let next: u32 = tx.query_row(NEXT_STAGE_POSITION, args![batch.0], |r| r.get(0))?;
            if next > 50 {
                return Err(StoreError::Conflict(format!(
                    "batch {batch} already has 50 stages"
                )));
            }
            let stage = insert_stage(tx, batch, next, stage)?;
            audit_append(
                tx,
                actor,
                "stage.add",
                &format!("batch:{batch}"),
                None,
                serde_json::to_value(&stage).ok(),
            )?;
            Ok(stage)
        })
    }
}

/// A product's images and certifications, in order.
pub(super) fn insert_product_parts(
    tx: &dyn Conn,
    id: ProductId,
    p: &NewProduct,
) -> StoreResult<()> {
    for (i, img) in p.images.iter().enumerate() {
        tx.execute(INSERT_PRODUCT_IMAGE, args![id.0, i as i64, img])?;
    }
    for (i, c) in p.certifications.iter().enumerate() {
        tx.execute(
            INSERT_CERTIFICATION,
            args![
                id.0,
                i as i64,
                c.name,
                c.issuer,
                c.number,
                c.valid_until.map(|d| d.to_string())
            ],
        )?;
    }
    Ok(())
}

pub(super) const PRODUCER_COLUMNS: &str = "id, kind, name, registration_no, street, commune, district, province, phone, email, created_at";

pub(super) fn producer_row(row: &Row) -> StoreResult<Producer> {
    let kind: String = row.get(1)?;
    Ok(Producer {
        id: ProducerId(row.get(0)?),
        kind: ProducerKind::parse("kind", &kind).map_err(|_| bad_value("producer kind", &kind))?,
        name: row.get(2)?,
        registration_no: row.get(3)?,
        street: row.get(4)?,
        commune: row.get(5)?,
        district: row.get(6)?,
        province: row.get(7)?,
        phone: row.get(8)?,
        email: row.get(9)?,
        created_at: ts(row, 10)?,
    })
}

pub(super) fn load_producer(conn: &dyn Conn, id: ProducerId) -> StoreResult<Option<Producer>> {
    conn.query_opt(
        &format!("SELECT {PRODUCER_COLUMNS} FROM producers WHERE id = ?1"),
        args![id.0],
        producer_row,
    )
}

pub(super) const PRODUCT_COLUMNS: &str = "id, producer_id, name, ocop_group, ocop_stars, ocop_decision_no, \
     ocop_decision_date, gtin, description, created_at";

pub(super) struct ProductRow {
    id: i64,
    producer_id: i64,
    name: String,
    ocop_group: Option<String>,
    ocop_stars: Option<u8>,
    ocop_decision_no: Option<String>,
    ocop_decision_date: Option<jiff::civil::Date>,
    gtin: Option<String>,
    description: Option<String>,
    created_at: jiff::Timestamp,
}

pub(super) fn product_row(row: &Row) -> StoreResult<ProductRow> {
    Ok(ProductRow {
        id: row.get(0)?,
        producer_id: row.get(1)?,
        name: row.get(2)?,
        ocop_group: row.get(3)?,
        ocop_stars: row.get(4)?,
        ocop_decision_no: row.get(5)?,
        ocop_decision_date: opt_day(row, 6)?,
        gtin: row.get(7)?,
        description: row.get(8)?,
        created_at: ts(row, 9)?,
    })
}

pub(super) fn finish_product(conn: &dyn Conn, r: ProductRow) -> StoreResult<Product> {
    let ocop = match (r.ocop_stars, r.ocop_decision_no, r.ocop_decision_date) {
        (Some(stars), Some(no), Some(d)) => {
            Some(OcopRating::new(stars, no, d).map_err(|e| StoreError::database(e.to_string()))?)
        }
        _ => None,
    };
    let ocop_group = r
        .ocop_group
        .as_deref()
        .map(|g| OcopGroup::parse("ocop_group", g).map_err(|_| bad_value("OCOP group", g)))
        .transpose()?;
    let gtin = r
        .gtin
        .as_deref()
        .map(|g| Gtin::parse("gtin", g).map_err(|_| bad_value("GTIN", g)))
        .transpose()?;
    let images = conn.query_map(PRODUCT_IMAGES, args![r.id], |row| row.get(0))?;
    let certifications = conn.query_map(CERTIFICATIONS, args![r.id], |row| {
        Ok(Certification {
            name: row.get(0)?,
            issuer: row.get(1)?,
            number: row.get(2)?,
            valid_until: opt_day(row, 3)?,
        })
    })?;
    Ok(Product {
        id: ProductId(r.id),
        producer_id: ProducerId(r.producer_id),
        name: r.name,
        ocop_group,
        ocop,
        gtin,
        description: r.description,
        images,
        certifications,
        created_at: r.created_at,
    })
}

pub(super) fn load_product(conn: &dyn Conn, id: ProductId) -> StoreResult<Option<Product>> {
    let row = conn.query_opt(
        &format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1"),
        args![id.0],
        product_row,
    )?;
    row.map(|r| finish_product(conn, r)).transpose()
}

pub(super) const BATCH_COLUMNS: &str = "id, product_id, lot_code, production_date, expiry_date, shelf_life_days, \
     quantity, unit, raw_material_area, created_at";

pub(super) fn load_batch(conn: &dyn Conn, id: BatchId) -> StoreResult<Option<Batch>> {
    let batch = conn.query_opt(
        &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
        args![id.0],
        |r| {
            Ok(Batch {
                id,
                product_id: ProductId(r.get(1)?),
                lot_code: r.get(2)?,
                production_date: day(r, 3)?,
                expiry_date: opt_day(r, 4)?,
                shelf_life_days: r.get(5)?,
                quantity: r.get(6)?,
                unit: r.get(7)?,
                raw_material_area: r.get(8)?,
                stages: Vec::new(),
                stamps: StampCounts::default(),
                created_at: ts(r, 9)?,
            })
        },
    )?;
    let Some(mut batch) = batch else {
        return Ok(None);
    };
    batch.stages = load_stages(conn, id)?;
    batch.stamps = counts(conn, id)?;
    Ok(Some(batch))
}

pub(super) fn load_stages(conn: &dyn Conn, batch: BatchId) -> StoreResult<Vec<Stage>> {
    conn.query_map(STAGES, args![batch.0], |r| {
        Ok(Stage {
            position: r.get(0)?,
            name: r.get(1)?,
            place: r.get(2)?,
            time: StageTime::from_stored(r.get(3)?),
            note: r.get(4)?,
        })
    })
}

pub(super) fn insert_stage(
    tx: &dyn Conn,
    batch: BatchId,
    position: u32,
    s: &NewStage,
) -> StoreResult<Stage> {
    tx.execute(
        INSERT_STAGE,
        args![batch.0, position, s.name, s.place, s.time.as_str(), s.note],
    )?;
    Ok(Stage {
        position,
        name: s.name.clone(),
        place: s.place.clone(),
        time: s.time.clone(),
        note: s.note.clone(),
    })
}
