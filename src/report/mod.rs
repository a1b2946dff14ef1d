//! The documents tem issues about a batch, as data: what `service` builds
//! and `render` prints, so that printing needs no use case.

pub mod batch;
pub mod verification;
