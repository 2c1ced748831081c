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
    /// A list of recommended products was shown (the products and where are in
    /// [`ActivityDetails::recommendation`]).
    RecommendationShown,
    /// A recommended product was opened from the list it was shown in.
    RecommendationClick,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 7] = [
        ActivityKind::ProductView,
        ActivityKind::AddToCart,
        ActivityKind::AddToWishlist,
        ActivityKind::ShopVisit,
        ActivityKind::Search,
        ActivityKind::RecommendationShown,
        ActivityKind::RecommendationClick,
    ];

    /// The event kind as written in the envelope (`product_view`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            ActivityKind::ProductView => "product_view",
            ActivityKind::AddToCart => "add_to_cart",
            ActivityKind::AddToWishlist => "add_to_wishlist",
            ActivityKind::ShopVisit => "shop_visit",
            ActivityKind::Search => "search",
            ActivityKind::RecommendationShown => "recommendation_shown",
            ActivityKind::RecommendationClick => "recommendation_click",
        }
    }

    pub fn needs_product(&self) -> bool {
        matches!(
            self,
            ActivityKind::ProductView
                | ActivityKind::AddToCart
                | ActivityKind::AddToWishlist
                | ActivityKind::RecommendationClick
        )
    }

    /// Whether the activity is about recommendations (and carries their context).
    pub fn is_recommendation(&self) -> bool {
        matches!(
            self,
            ActivityKind::RecommendationShown | ActivityKind::RecommendationClick
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<RecommendationContext>,
    #[serde(flatten)]
    pub client: ClientContext,
}

/// Which recommendations were shown or clicked: where, by what, and (when shown) which products.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecommendationContext {
    /// Where on the site: `home` ("Recommended for you") or `similar` (a product page).
    pub placement: String,
    /// The model run that ranked them, or `trending` for the cold-start fallback.
    pub source: String,
    /// The products shown, in order (empty for a click, whose product is `product_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductId>,
}

/// Most products one `recommendation_shown` can list.
pub const MAX_SHOWN: usize = 50;
