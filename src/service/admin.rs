//! What the dashboard's admin page shows: producers, API tokens and the
//! signing keys, read in one call.

use super::{ServiceResult, registry, tokens};
use crate::codes::keyring::PublicKeyEntry;
use crate::domain::Producer;

/// The admin page's data.
pub struct Overview {
    /// Every producer.
    pub producers: Vec<Producer>,
    /// Every API token (hashes never leave the store).
    pub tokens: Vec<tokens::TokenInfo>,
    /// The key directory's keys, public parts only.
    pub keys: Vec<PublicKeyEntry>,
}

/// Reads the admin page's data.
pub fn overview(ctx: &super::Context) -> ServiceResult<Overview> {
    Ok(Overview {
        keys: ctx.keys()?.entries().to_vec(),
        producers: registry::producers(ctx.store())?,
        tokens: tokens::list(ctx.store())?,
    })
}
