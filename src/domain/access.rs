//! Who is calling: roles, and what each role may see.

use serde::{Deserialize, Serialize};

use super::text::{self, DomainError, Lines};
use super::{Producer, ProducerId};

/// The four kinds of API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including producers and tokens.
    Admin,
    /// One producer's products, batches and stamps.
    Producer,
    /// Reads everything (or the producers of some provinces), reports, recalls.
    Inspector,
    /// A shop or distributor: marks the stamps of the producers it sells
    /// for (or all) sold at the till, and nothing else.
    Seller,
}

impl Role {
    /// The role's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Producer => "producer",
            Role::Inspector => "inspector",
            Role::Seller => "seller",
        }
    }

    /// A role by its name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "producer" => Some(Role::Producer),
            "inspector" => Some(Role::Inspector),
            "seller" => Some(Role::Seller),
            _ => None,
        }
    }
}

/// Who acts: what they may touch (the grant) and how the records name them
/// ("token 12", "admin token", "cli:lan"). Service functions that act on a
/// producer's data take one and check the grant themselves, whoever calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// What they may touch.
    pub grant: Grant,
    /// How the records name them.
    pub name: String,
}

impl Actor {
    /// Someone who may do everything: the command line (whoever runs it
    /// holds the database and the keys anyway), the demo loader.
    pub fn admin(name: impl Into<String>) -> Actor {
        Actor {
            grant: Grant::admin(),
            name: name.into(),
        }
    }
}

/// What a token grants: a role, its producer (role `producer`, always set)
/// and the provinces an inspector is limited to (empty: all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Grant {
    /// What kind of token.
    pub role: Role,
    /// The producer a producer token acts for.
    pub producer: Option<ProducerId>,
    /// The provinces an inspector is limited to (empty: all).
    pub provinces: Vec<String>,
    /// The producers a seller sells for (empty: all).
    pub sells_for: Vec<ProducerId>,
    /// A seller's shop, as later scans name it ("sold by …").
    pub shop: Option<String>,
}

impl Grant {
    /// Checks the combination: a producer token names its producer; only
    /// inspector tokens have provinces. Province names are NFC-normalised.
    pub fn new(
        role: Role,
        producer: Option<ProducerId>,
        provinces: &[String],
    ) -> Result<Grant, DomainError> {
        match (role, producer) {
            (Role::Producer, None) => {
                return Err(DomainError::new(
                    "producer",
                    "a producer token needs --producer ID",
                ));
            }
            (Role::Admin | Role::Inspector, Some(_)) => {
                return Err(DomainError::new(
                    "producer",
                    "only producer tokens are bound to a producer",
                ));
            }
            _ => {}
        }
        if role != Role::Inspector && !provinces.is_empty() {
            return Err(DomainError::new(
                "province",
                "only inspector tokens are limited to provinces",
            ));
        }
        let provinces = provinces
            .iter()
            .map(|p| text::required("province", p, 100, Lines::One))
            .collect::<Result<Vec<_>, _>>()?;
        if role == Role::Seller {
            return Err(DomainError::new(
                "role",
                "a seller token names its shop: use Grant::seller",
            ));
        }
        Ok(Grant {
            role,
            producer,
            provinces,
            sells_for: Vec::new(),
            shop: None,
        })
    }

    /// A seller: its shop's name (shown on later scans: "sold by …") and
    /// the producers it sells for (empty: all). NFC, one line, ≤ 100 bytes.
    pub fn seller(shop: &str, sells_for: Vec<ProducerId>) -> Result<Grant, DomainError> {
        let mut sells_for = sells_for;
        sells_for.sort_by_key(|p| p.0);
        sells_for.dedup();
        Ok(Grant {
            role: Role::Seller,
            producer: None,
            provinces: Vec::new(),
            sells_for,
            shop: Some(text::required("shop", shop, 100, Lines::One)?),
        })
    }

    /// Whether a seller may mark this producer's stamps sold.
    pub fn sells_for(&self, producer: ProducerId) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Seller => self.sells_for.is_empty() || self.sells_for.contains(&producer),
            Role::Producer | Role::Inspector => false,
        }
    }

    /// Everything (the admin token, the command line).
    pub fn admin() -> Grant {
        Grant {
            role: Role::Admin,
            producer: None,
            provinces: Vec::new(),
            sells_for: Vec::new(),
            shop: None,
        }
    }

    /// Whether this grant may see a producer's data at all. A producer sees
    /// only itself; an inspector limited to provinces sees producers there;
    /// a seller sees no producer's data (it only marks stamps sold).
    pub fn sees(&self, producer: &Producer) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Seller => false,
            Role::Producer => self.producer == Some(producer.id),
            Role::Inspector => {
                self.provinces.is_empty()
                    || self
                        .provinces
                        .iter()
                        .any(|p| p.to_lowercase() == producer.province.to_lowercase())
            }
        }
    }
}
