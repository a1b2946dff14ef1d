//! Link previews and crawlers (`domain::robots`), and HEAD requests: a stamp
//! URL fetched by a program, not scanned by a person. The code's signature is
//! checked (so a preview never dresses a forged code in a product's name),
//! the fetch is counted apart per batch and robot family, and nothing else
//! happens: no scan row, no scan count, no repeat-scan rule, no alert.

use std::sync::Arc;

use super::{Details, Scanner};
use crate::codes::CodeVerdict;
use crate::service::ServiceResult;

/// What a preview shows.
pub struct Preview {
    /// The product, producer and batch, when the code's signature holds
    /// and its batch exists; none: a page that only says "scan to verify".
    pub details: Option<Arc<Details>>,
}

impl Scanner {
    /// Answers a robot of `family` (or a HEAD request) that fetched `text`.
    pub async fn preview(&self, text: &str, family: &'static str) -> ServiceResult<Preview> {
        let check = self.check(text);
        let Some(code) = check.code.filter(|_| check.verdict == CodeVerdict::Genuine) else {
            return Ok(Preview { details: None });
        };
        let details = match self.details(code.batch).await {
            Ok(d) => d,
            Err(crate::service::ServiceError::NotFound { .. }) => {
                return Ok(Preview { details: None });
            }
            Err(e) => return Err(e),
        };
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.count_preview(code.batch, family))
            .await
            .map_err(crate::service::internal)??;
        Ok(Preview {
            details: Some(details),
        })
    }
}
