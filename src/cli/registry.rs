//! `tem producer`, `tem product`, `tem batch` and `tem demo`.
//!
//! Every `add` takes flags for the usual fields, or `--input FILE` with the
//! same JSON the HTTP API accepts (for certifications and other lists).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::domain::{
    Batch, BatchId, BatchInput, OcopRatingInput, ProducerId, ProducerInput, Product, ProductId,
    ProductInput, StageInput,
};
use crate::service::registry;

#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per run")]
pub enum ProducerCommand {
    /// Register a producer.
    Add {
        /// JSON file with the producer (the API's body); flags are then ignored.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "name"])]
        input: Option<PathBuf>,
        /// household | cooperative | cooperative-group | enterprise
        #[arg(long, required_unless_present = "input")]
        kind: Option<String>,
        #[arg(long, required_unless_present = "input")]
        name: Option<String>,
        /// Business registration or tax number.
        #[arg(long)]
        registration_no: Option<String>,
        #[arg(long)]
        street: Option<String>,
        /// Commune (xã/phường).
        #[arg(long, required_unless_present = "input")]
        commune: Option<String>,
        /// District (huyện), where it still applies.
        #[arg(long)]
        district: Option<String>,
        /// Province (tỉnh/thành phố).
        #[arg(long, required_unless_present = "input")]
        province: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Print the stored producer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List producers.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProductCommand {
    /// Register a product of a producer.
    Add {
        /// JSON file with the product (the API's body); flags are then ignored.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["producer", "name"])]
        input: Option<PathBuf>,
        #[arg(long, required_unless_present = "input")]
        producer: Option<i64>,
        #[arg(long, required_unless_present = "input")]
        name: Option<String>,
        /// food | beverages | herbal | textiles | souvenirs | tourism
        #[arg(long)]
        ocop_group: Option<String>,
        /// OCOP stars (3, 4 or 5); needs --decision-no and --decision-date.
        #[arg(long, requires_all = ["decision_no", "decision_date"])]
        stars: Option<u8>,
        #[arg(long)]
        decision_no: Option<String>,
        /// YYYY-MM-DD
        #[arg(long)]
        decision_date: Option<String>,
        /// GTIN-8/12/13/14 (check digit is verified).
        #[arg(long)]
        gtin: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Image path or https URL; repeat for several.
        #[arg(long)]
        image: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List products, optionally of one producer.
    List {
        #[arg(long)]
        producer: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Register a batch (lot) of a product.
    Add {
        /// JSON file with the batch (the API's body, stages included).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["lot_code"])]
        input: Option<PathBuf>,
        #[arg(long)]
        product: i64,
        #[arg(long = "lot", required_unless_present = "input")]
        lot_code: Option<String>,
        /// YYYY-MM-DD
        #[arg(long, required_unless_present = "input")]
        production_date: Option<String>,
        /// YYYY-MM-DD
        #[arg(long)]
        expiry_date: Option<String>,
        #[arg(long)]
        shelf_life_days: Option<u32>,
        #[arg(long, required_unless_present = "input")]
        quantity: Option<u32>,
        /// e.g. "túi 5 kg"
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        raw_material_area: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List batches (JSON objects have id, lot_code, product_id, product_name, producer_id).
    List {
        #[arg(long)]
        product: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Show one batch with its stages and stamp counts.
    Show {
        id: u32,
        #[arg(long)]
        json: bool,
    },
    /// Append a production stage to a batch.
    Stage {
        #[arg(long)]
        batch: u32,
        /// What happened: "Thu hoạch", "Đóng gói"…
        #[arg(long)]
        name: String,
        #[arg(long)]
        place: Option<String>,
        /// YYYY-MM-DD or YYYY-MM-DDTHH:MM
        #[arg(long)]
        time: String,
        #[arg(long)]
        note: Option<String>,
    },
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid input", path.display()))
}

pub fn producer(config: &Config, cmd: ProducerCommand) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    match cmd {
        ProducerCommand::Add {
            input,
            kind,
            name,
            registration_no,
            street,
            commune,
            district,
            province,
            phone,
            email,
            json,
        } => {
            let input = match input {
                Some(path) => read_json(&path)?,
                None => ProducerInput {
                    kind: kind.unwrap_or_default(),
                    name: name.unwrap_or_default(),
                    registration_no,
                    street,
                    commune: commune.unwrap_or_default(),
                    district,
                    province: province.unwrap_or_default(),
                    phone,
                    email,
                },
            };
            let p = registry::create_producer(store, input, &super::cli_actor())?;
            if json {
                super::print_json(&p)?;
            } else {
                println!("producer {} created: {}", p.id, p.name);
            }
        }
        ProducerCommand::List { json } => {
            let all = registry::producers(store)?;
            if json {
                super::print_json(&all)?;
            } else {
                for p in all {
                    println!(
                        "{:>5}  {:<18}  {}  ({}, {})",
                        p.id,
                        p.kind.as_str(),
                        p.name,
                        p.commune,
                        p.province
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn product(config: &Config, cmd: ProductCommand) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    match cmd {
        ProductCommand::Add {
            input,
            producer,
            name,
            ocop_group,
            stars,
            decision_no,
            decision_date,
            gtin,
            description,
            image,
            json,
        } => {
            let input = match input {
                Some(path) => read_json(&path)?,
                None => ProductInput {
                    producer_id: producer.unwrap_or_default(),
                    name: name.unwrap_or_default(),
                    ocop_group,
                    ocop: stars.map(|stars| OcopRatingInput {
                        stars,
                        decision_no: decision_no.unwrap_or_default(),
                        decision_date: decision_date.unwrap_or_default(),
                    }),
                    gtin,
                    description,
                    images: image,
                    certifications: Vec::new(),
                },
            };
            let p = registry::create_product(store, input, &super::cli_as())?;
            if json {
                super::print_json(&p)?;
            } else {
                println!("product {} created: {}", p.id, p.name);
            }
        }
        ProductCommand::List { producer, json } => {
            let all = registry::products(store, producer.map(ProducerId))?;
            if json {
                super::print_json(&all)?;
            } else {
                for p in all {
                    let stars = p
                        .ocop
                        .as_ref()
                        .map(|o| format!("  OCOP {}★", o.stars))
                        .unwrap_or_default();
                    println!(
                        "{:>5}  producer {:<4}  {}{}",
                        p.id, p.producer_id, p.name, stars
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn batch(config: &Config, cmd: BatchCommand) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let store = ctx.store();
    match cmd {
        BatchCommand::Add {
            input,
            product,
            lot_code,
            production_date,
            expiry_date,
            shelf_life_days,
            quantity,
            unit,
            raw_material_area,
            json,
        } => {
            let input = match input {
                Some(path) => read_json(&path)?,
                None => BatchInput {
                    lot_code: lot_code.unwrap_or_default(),
                    production_date: production_date.unwrap_or_default(),
                    expiry_date,
                    shelf_life_days,
                    quantity: quantity.unwrap_or_default(),
                    unit,
                    raw_material_area,
                    stages: Vec::new(),
                },
            };
            let b = registry::create_batch(store, ProductId(product), input, &super::cli_as())?;
            if json {
                super::print_json(&b)?;
            } else {
                println!("batch {} created: lot {}", b.id, b.lot_code);
            }
        }
        BatchCommand::List { product, json } => {
            let all = registry::batches(store, product.map(ProductId))?;
            if json {
                super::print_json(&all)?;
            } else {
                print_batches(&all);
            }
        }
        BatchCommand::Show { id, json } => {
            let b = registry::batch(store, BatchId(id))?;
            if json {
                super::print_json(&b)?;
            } else {
                let product = registry::product(store, b.product_id)?;
                print_batch(&b, &product);
            }
        }
        BatchCommand::Stage {
            batch,
            name,
            place,
            time,
            note,
        } => {
            let s = registry::add_stage(
                store,
                BatchId(batch),
                StageInput {
                    name,
                    place,
                    time,
                    note,
                },
                &super::cli_as(),
            )?;
            println!("stage {} added to batch {batch}: {}", s.position, s.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tem batch list` as a table.
fn print_batches(all: &[registry::BatchSummary]) {
    println!(
        "{:>5}  {:<18}  {:<10}  {:>9}  PRODUCT",
        "ID", "LOT", "PRODUCED", "STAMPS"
    );
    for b in all {
        println!(
            "{:>5}  {:<18}  {:<10}  {:>9}  {} ({})",
            b.id, b.lot_code, b.production_date, b.stamps_issued, b.product_name, b.producer_name
        );
    }
}

/// `tem batch show`: the batch, its stamps by state and its stages.
fn print_batch(b: &Batch, product: &Product) {
    println!(
        "batch {} — lot {} of {} (product {})",
        b.id, b.lot_code, product.name, product.id
    );
    println!(
        "  produced {}, expires {}",
        b.production_date,
        b.expiry_date.map_or("-".into(), |d| d.to_string())
    );
    println!(
        "  quantity {} {}",
        b.quantity,
        b.unit.as_deref().unwrap_or("")
    );
    println!(
        "  stamps: {} issued in all ({} not printed, {} printed, {} activated, {} voided)",
        b.stamps.total, b.stamps.issued, b.stamps.printed, b.stamps.activated, b.stamps.voided
    );
    for s in &b.stages {
        println!(
            "  {}. {} — {} {}",
            s.position,
            s.time.as_str(),
            s.name,
            s.place.as_deref().unwrap_or("")
        );
    }
}

/// `tem demo`: loads the demo data, generates a key if there is none, and
/// issues a few stamps per demo batch so there is something to verify.
pub fn demo(config: &Config) -> anyhow::Result<ExitCode> {
    let ctx = super::context(config)?;
    let Some(start) = crate::service::demo::load_and_issue(&ctx, false)? else {
        return Ok(ExitCode::SUCCESS);
    };
    print_demo_key(&start, config);
    let r = &start.report;
    println!(
        "demo data loaded: {} producers, {} products, {} batches added ({} stamps issued)",
        r.producers, r.products, r.batches, start.issued
    );
    Ok(ExitCode::SUCCESS)
}

/// Says where a key generated for the demo went.
pub(super) fn print_demo_key(start: &crate::service::demo::DemoStart, config: &Config) {
    if let Some(kid) = &start.generated_key {
        eprintln!(
            "generated signing key {kid} in {}",
            config.keys_dir().display()
        );
    }
}
