//! Products: what shops sell.

use crate::ids::{MediaId, ProductId, ShopId};
use crate::money::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Draft,
    Active,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub shop_id: ShopId,
    /// Unique across the marketplace, derived from the title.
    pub slug: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub subcategory: Option<String>,
    /// The regular price.
    pub price: Money,
    /// A sale price, never above the regular price, in the same currency.
    pub sale_price: Option<Money>,
    pub stock: u32,
    pub status: ProductStatus,
    /// Uploaded images of the product's shop, in display order; the first is the cover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<MediaId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub details: ProductDetails,
    /// When the seller deleted it: restorable for [`RESTORE_WINDOW_HOURS`], then purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Hidden by an admin (moderation): off the shop until an admin shows it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Hidden>,
}

/// Why and when an admin hid a product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hidden {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// How long a deleted product can be restored before the purge removes it.
pub const RESTORE_WINDOW_HOURS: i64 = 24;

/// What describes a product beyond its title and price. Every field defaults, so events written
/// before a field existed still read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDetails {
    /// One or two sentences for cards and search results; the description is the long, rich text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub colors: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<String>,
    /// Custom specifications ("Material: stoneware"), in display order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<Spec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    /// Free text such as "2 years".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty: Option<String>,
    /// Whether the shop accepts cash on delivery for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cash_on_delivery: bool,
    /// A timed offer runs from `starts_at` to `ends_at` (both or neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
}

/// One line of a product's specifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub value: String,
}

impl Product {
    /// What a shopper pays now.
    pub fn current_price(&self) -> Money {
        self.sale_price.unwrap_or(self.price)
    }

    /// The discount in whole percent when on sale.
    pub fn discount_percent(&self) -> Option<u32> {
        let sale = self.sale_price?;
        if self.price.amount <= 0 || sale.amount >= self.price.amount {
            return None;
        }
        Some((100 - sale.amount * 100 / self.price.amount) as u32)
    }

    /// Shown to shoppers: active, not deleted, not hidden by an admin.
    pub fn is_visible(&self) -> bool {
        self.status == ProductStatus::Active && self.deleted_at.is_none() && self.hidden.is_none()
    }

    /// Whether a deleted product can still be restored at `now`.
    pub fn restorable(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at
            .is_some_and(|at| now - at <= chrono::Duration::hours(RESTORE_WINDOW_HOURS))
    }
}

/// What a seller fills in to create a product; the slug and timestamps are decided by the domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProduct {
    pub id: ProductId,
    pub shop_id: ShopId,
    pub title: String,
    pub description: String,
    pub category: String,
    pub subcategory: Option<String>,
    pub price: Money,
    pub sale_price: Option<Money>,
    pub stock: u32,
    pub status: ProductStatus,
    pub images: Vec<MediaId>,
    pub details: ProductDetails,
}

/// A partial edit of a product: `None` leaves a field as it is. `sale_price: Some(None)` removes the sale.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_price: Option<Option<Money>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `Some(None)` clears the subcategory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<Option<String>>,
    /// Replaces the images (in the new order) when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<MediaId>>,
    /// Replaces every detail at once when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ProductDetails>,
}

impl Product {
    /// Applies a partial edit (as of `at`).
    pub fn apply(&mut self, changes: &ProductChanges, at: DateTime<Utc>) {
        if let Some(title) = &changes.title {
            self.title = title.clone();
        }
        if let Some(description) = &changes.description {
            self.description = description.clone();
        }
        if let Some(price) = changes.price {
            self.price = price;
        }
        if let Some(sale_price) = changes.sale_price {
            self.sale_price = sale_price;
        }
        if let Some(stock) = changes.stock {
            self.stock = stock;
        }
        if let Some(status) = changes.status {
            self.status = status;
        }
        if let Some(category) = &changes.category {
            self.category = category.clone();
        }
        if let Some(subcategory) = &changes.subcategory {
            self.subcategory = subcategory.clone();
        }
        if let Some(images) = &changes.images {
            self.images = images.clone();
        }
        if let Some(details) = &changes.details {
            self.details = details.clone();
        }
        self.updated_at = at;
    }
}

impl ProductChanges {
    pub fn is_empty(&self) -> bool {
        self == &ProductChanges::default()
    }
}
