//! Typed ids, so that a `BatchId` can never be passed where a `ProductId` is meant.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }
    };
}

id_type!(
    /// A producer (chủ thể): household business, cooperative, group or enterprise.
    ProducerId(i64)
);
id_type!(
    /// A product line (sản phẩm).
    ProductId(i64)
);
id_type!(
    /// A batch (lô). 32 bits because it is carried inside every stamp code,
    /// where each byte costs QR modules; 4 billion batches is plenty.
    BatchId(u32)
);
