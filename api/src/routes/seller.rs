//! `/api/seller/shop`: a seller opens their shop, edits its profile and settings, schedules its
//! deletion (28 days to change their mind) and restores it.

use crate::app::AppState;
use crate::auth::CurrentSeller;
use crate::error::{ApiError, ErrorBody};
use crate::views::ShopView;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use domain::{Command, MediaId, NewShop, Shop, ShopChanges, ShopCommand, ShopId, ShopSettings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenShop {
    pub name: String,
    #[serde(default)]
    pub bio: String,
    /// A category slug from `/api/site`.
    pub category: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
}

/// Opens the seller's shop (one per seller).
#[utoipa::path(post, path = "/api/seller/shop", tag = "seller", request_body = OpenShop,
    responses((status = 201, body = SellerShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The seller has a shop already"), (status = 422, body = ErrorBody)))]
pub(super) async fn open_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
    body: Result<Json<OpenShop>, JsonRejection>,
) -> Result<(StatusCode, Json<SellerShopView>), ApiError> {
    let Json(form) = body?;
    if seller.shop.is_some() {
        return Err(ApiError::Conflict(
            "a seller has one shop, and you have one already".into(),
        ));
    }
    let id = ShopId(uuid::Uuid::now_v7());
    let shop = NewShop {
        id,
        owner: Some(seller.principal.account.id),
        name: form.name,
        bio: form.bio,
        category: form.category,
        country: form.country.trim().to_ascii_uppercase(),
    };
    app.execute(seller.principal.actor(), Command::CreateShop(shop))
        .await?;
    let state = app.state();
    let shop = state
        .shops
        .get(&id)
        .ok_or_else(|| ApiError::Internal("a new shop is missing".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(SellerShopView::build(&state, shop)),
    ))
}

/// The seller's own shop, with its settings.
#[utoipa::path(get, path = "/api/seller/shop", tag = "seller",
    responses((status = 200, body = SellerShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "No shop yet: open one with POST")))]
pub(super) async fn my_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<SellerShopView>, ApiError> {
    let shop = own_shop(&seller)?;
    Ok(Json(SellerShopView::build(&app.state(), shop)))
}

fn own_shop(seller: &CurrentSeller) -> Result<&Shop, ApiError> {
    seller.shop.as_ref().ok_or_else(|| {
        ApiError::NotFound("you have not opened a shop yet: POST /api/seller/shop".into())
    })
}

/// The shop as its seller sees it: the public profile plus the settings.
#[derive(Serialize, ToSchema)]
pub(crate) struct SellerShopView {
    #[serde(flatten)]
    shop: ShopView,
    settings: SettingsView,
    /// When the shop closes for good unless restored.
    closes_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The seller's settings.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsView {
    /// A product with this many units or fewer is low on stock (default 5).
    low_stock_threshold: u32,
    /// Mail me for each new order (default on).
    email_new_orders: bool,
    /// Mail me when a product runs low (default on).
    email_low_stock: bool,
}

impl SellerShopView {
    fn build(state: &domain::State, shop: &Shop) -> SellerShopView {
        SellerShopView {
            shop: ShopView::build(state, shop),
            settings: SettingsView {
                low_stock_threshold: shop.settings.low_stock_threshold,
                email_new_orders: shop.settings.email_new_orders,
                email_low_stock: shop.settings.email_low_stock,
            },
            closes_at: shop.purge_due_at(),
        }
    }
}

/// A partial edit of the shop: fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShopPatch {
    name: Option<String>,
    bio: Option<String>,
    category: Option<String>,
    country: Option<String>,
    /// Image ids from `POST /api/seller/media`; `null` removes.
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<uuid::Uuid>)]
    avatar: Option<Option<uuid::Uuid>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<uuid::Uuid>)]
    banner: Option<Option<uuid::Uuid>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    address: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    opening_hours: Option<Option<String>>,
    /// `https://…`; `null` removes.
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    website: Option<Option<String>>,
    /// Social links (`https://…`), replacing the current ones.
    links: Option<Vec<String>>,
    settings: Option<SettingsView>,
}

impl ShopPatch {
    fn changes(self, shop: &Shop) -> ShopChanges {
        let mut profile = shop.profile.clone();
        let mut touched = false;
        let text = |v: Option<String>| v.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        if let Some(v) = self.avatar {
            profile.avatar = v.map(MediaId);
            touched = true;
        }
        if let Some(v) = self.banner {
            profile.banner = v.map(MediaId);
            touched = true;
        }
        if let Some(v) = self.address {
            profile.address = text(v);
            touched = true;
        }
        if let Some(v) = self.opening_hours {
            profile.opening_hours = text(v);
            touched = true;
        }
        if let Some(v) = self.website {
            profile.website = text(v);
            touched = true;
        }
        if let Some(v) = self.links {
            profile.links = v.into_iter().filter_map(|l| text(Some(l))).collect();
            touched = true;
        }
        ShopChanges {
            name: self.name,
            bio: self.bio,
            category: self.category,
            country: self.country.map(|c| c.trim().to_ascii_uppercase()),
            profile: touched.then_some(profile),
            settings: self.settings.map(|s| ShopSettings {
                low_stock_threshold: s.low_stock_threshold,
                email_new_orders: s.email_new_orders,
                email_low_stock: s.email_low_stock,
            }),
        }
    }
}

/// Edits the shop's profile (name, bio, images, address, hours, links) and settings.
#[utoipa::path(patch, path = "/api/seller/shop", tag = "seller", request_body = ShopPatch,
    responses((status = 200, body = SellerShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
    body: Result<Json<ShopPatch>, JsonRejection>,
) -> Result<Json<SellerShopView>, ApiError> {
    let Json(patch) = body?;
    let shop = own_shop(&seller)?;
    let changes = patch.changes(shop);
    app.execute(
        seller.principal.actor(),
        Command::Shop(ShopCommand::Update {
            id: shop.id,
            changes,
        }),
    )
    .await?;
    fresh(&app, shop.id)
}

fn fresh(app: &AppState, id: ShopId) -> Result<Json<SellerShopView>, ApiError> {
    let state = app.state();
    let shop = state
        .shops
        .get(&id)
        .ok_or_else(|| ApiError::NotFound("the shop is closed".into()))?;
    Ok(Json(SellerShopView::build(&state, shop)))
}

/// Schedules the shop's deletion. It stays open, and can be restored, for 28 days; then it closes
/// for good: its products are removed and this account cannot open another shop.
#[utoipa::path(delete, path = "/api/seller/shop", tag = "seller",
    responses((status = 200, body = SellerShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Scheduled already")))]
pub(super) async fn delete_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<SellerShopView>, ApiError> {
    run_on_shop(&app, &seller, |id| ShopCommand::RequestDeletion { id }).await
}

/// Cancels the shop's scheduled deletion.
#[utoipa::path(post, path = "/api/seller/shop/restore", tag = "seller",
    responses((status = 200, body = SellerShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not scheduled, or the window has passed")))]
pub(super) async fn restore_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<SellerShopView>, ApiError> {
    run_on_shop(&app, &seller, |id| ShopCommand::Restore { id }).await
}

/// Runs a command on the seller's own shop and answers with the shop as it now is.
async fn run_on_shop(
    app: &AppState,
    seller: &CurrentSeller,
    command: impl FnOnce(ShopId) -> ShopCommand,
) -> Result<Json<SellerShopView>, ApiError> {
    let shop = own_shop(seller)?;
    app.execute(seller.principal.actor(), Command::Shop(command(shop.id)))
        .await?;
    fresh(app, shop.id)
}
