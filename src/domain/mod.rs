//! The registry's domain: producers, products, batches, stages and stamps.
//!
//! Every type here can only hold valid values: constructors normalise
//! Vietnamese text to NFC, enforce length limits and check formats (GTIN check
//! digits, lot codes, dates). No I/O happens here; the store persists these
//! values and the web and CLI layers build them from user input.

mod access;
pub mod batch;
pub mod digital_link;
pub mod geo;
mod ids;
pub mod inspection;
pub mod network;
mod producer;
mod product;
pub mod robots;
pub mod scan;
mod stamp;
pub mod text;
mod triage;

pub use access::{Actor, Grant, Role};
pub use batch::{Batch, BatchInput, NewBatch, NewStage, Stage, StageInput, StageTime};
pub use ids::{BatchId, ProducerId, ProductId};
pub use producer::{NewProducer, Producer, ProducerInput, ProducerKind};
pub use product::{
    Certification, CertificationInput, Gtin, Media, NewProduct, OcopGroup, OcopRating,
    OcopRatingInput, Product, ProductInput,
};
pub use stamp::{EventAction, Serial, ShortCode, StampCounts, StampState};
pub use text::DomainError;
pub use triage::{Outcome, ReportKind, TriageKind};
