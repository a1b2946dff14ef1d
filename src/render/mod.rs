//! Printable stamp sheets: label geometry, fast QR symbols, fonts, the label
//! design, and the output formats (vector PDF, PNG, SVG).

pub mod calibration;
pub mod charts;
pub mod claim_panel;
pub mod font;
pub mod label;
pub mod layout;
pub mod outline;
pub mod pdf;
pub mod qr;
pub mod raster;
pub mod report;
pub mod report_pdf;
pub mod svg;
pub mod symbol;
