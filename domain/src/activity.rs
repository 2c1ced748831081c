//! What people do on the site: the raw material of analytics and recommendations.

use crate::ids::{ProductId, ShopId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    ProductView,
    AddToCart,
    AddToWishlist,
    ShopVisit,
    Search,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 5] = [
        ActivityKind::ProductView,
        ActivityKind::AddToCart,
        ActivityKind::AddToWishlist,
        ActivityKind::ShopVisit,
        ActivityKind::Search,
    ];

    /// The event kind as written in the envelope (`product_view`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            ActivityKind::ProductView => "product_view",
            ActivityKind::AddToCart => "add_to_cart",
            ActivityKind::AddToWishlist => "add_to_wishlist",
            ActivityKind::ShopVisit => "shop_visit",
            ActivityKind::Search => "search",
        }
    }

    pub fn needs_product(&self) -> bool {
        matches!(
            self,
            ActivityKind::ProductView | ActivityKind::AddToCart | ActivityKind::AddToWishlist
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
    #[default]
    Unknown,
}

/// Where a request came from, as far as the service can tell. No IP address is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientContext {
    pub device: Device,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

/// The payload of an activity event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<ShopId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(flatten)]
    pub client: ClientContext,
}
