use crate::ids::{AccountId, ShopId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A seller's shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shop {
    pub id: ShopId,
    /// The seller who owns it; `None` for shops seeded by the system before accounts exist.
    pub owner: Option<AccountId>,
    pub name: String,
    pub slug: String,
    pub bio: String,
    /// A category slug from the site configuration.
    pub category: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    pub created_at: DateTime<Utc>,
}

/// What a seller fills in to open a shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShop {
    pub id: ShopId,
    pub owner: Option<AccountId>,
    pub name: String,
    pub bio: String,
    pub category: String,
    pub country: String,
}
