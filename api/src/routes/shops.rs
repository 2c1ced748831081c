//! `/api/shops` and `/api/offers`: shops to browse and follow, and timed offers.

use crate::app::AppState;
use crate::auth::{MaybeUser, Shopper};
use crate::error::{ApiError, ErrorBody};
use crate::views::{Page, ProductFilter, ProductListing, ProductView, ShopView};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::Utc;
use domain::{Command, ShopId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ShopFilter {
    category: Option<String>,
    /// ISO 3166-1 alpha-2.
    country: Option<String>,
    /// Words in the shop's name or bio.
    q: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// Shops, most followed first.
#[utoipa::path(get, path = "/api/shops", tag = "catalog", params(ShopFilter),
    responses((status = 200, body = Page<ShopView>), (status = 400, body = ErrorBody)))]
pub(super) async fn list(
    State(app): State<AppState>,
    filter: Result<Query<ShopFilter>, QueryRejection>,
) -> Result<Json<Page<ShopView>>, ApiError> {
    let Query(filter) = filter?;
    let state = app.state();
    let words: Vec<String> = filter
        .q
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut shops: Vec<ShopView> = state
        .shops
        .values()
        .filter(|s| filter.category.as_ref().is_none_or(|c| &s.category == c))
        .filter(|s| {
            filter
                .country
                .as_ref()
                .is_none_or(|c| s.country.eq_ignore_ascii_case(c))
        })
        .filter(|s| {
            let text = format!("{} {}", s.name, s.bio).to_lowercase();
            words.iter().all(|w| text.contains(w))
        })
        .map(|s| ShopView::build(&state, s))
        .collect();
    shops.sort_by(|a, b| b.followers.cmp(&a.followers).then(a.name.cmp(&b.name)));
    let per_page = filter.per_page.unwrap_or(20).clamp(1, 100);
    let page = filter.page.unwrap_or(1).max(1);
    Ok(Json(Page {
        total: shops.len(),
        items: shops
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect(),
        page,
        per_page,
    }))
}

/// A shop's profile, with whether the signed-in shopper follows it.
#[derive(Serialize, ToSchema)]
pub(super) struct ShopProfile {
    #[serde(flatten)]
    shop: ShopView,
    /// Whether the signed-in shopper follows this shop (`false` when not signed in).
    following: bool,
}

fn shop_id(app: &AppState, id: uuid::Uuid) -> Result<ShopId, ApiError> {
    let id = ShopId(id);
    if app.state().shops.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::NotFound(format!("no shop {id}")))
    }
}

fn profile(
    app: &AppState,
    id: ShopId,
    user: Option<&crate::auth::Principal>,
) -> Result<Json<ShopProfile>, ApiError> {
    let state = app.state();
    let shop = state
        .shops
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no shop {id}")))?;
    let following = user.is_some_and(|u| {
        state
            .followers
            .get(&id)
            .is_some_and(|f| f.contains(&u.account.id))
    });
    Ok(Json(ShopProfile {
        shop: ShopView::build(&state, shop),
        following,
    }))
}

/// One shop.
#[utoipa::path(get, path = "/api/shops/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ShopProfile), (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    State(app): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<ShopProfile>, ApiError> {
    let id = shop_id(&app, id)?;
    profile(&app, id, user.as_ref())
}

/// A shop's active products, with the same filters and facets as `/api/products`.
#[utoipa::path(get, path = "/api/shops/{id}/products", tag = "catalog", params(("id" = uuid::Uuid, Path), ProductFilter),
    responses((status = 200, body = ProductListing), (status = 404, body = ErrorBody)))]
pub(super) async fn products(
    State(app): State<AppState>,
    Path(id): Path<uuid::Uuid>,
    filter: Result<Query<ProductFilter>, QueryRejection>,
) -> Result<Json<ProductListing>, ApiError> {
    let Query(mut filter) = filter?;
    filter.shop = Some(shop_id(&app, id)?.0);
    Ok(Json(filter.listing(&app.state(), &app.search)))
}

async fn follow_as(
    app: &AppState,
    shopper: Shopper,
    id: uuid::Uuid,
    follow: bool,
) -> Result<Json<ShopProfile>, ApiError> {
    let Shopper(user) = shopper;
    let shop = shop_id(app, id)?;
    app.execute(user.actor(), Command::FollowShop { shop, follow })
        .await?;
    profile(app, shop, Some(&user))
}

/// Follows a shop (again is fine).
#[utoipa::path(put, path = "/api/shops/{id}/follow", tag = "catalog", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ShopProfile), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn follow(
    State(app): State<AppState>,
    shopper: Shopper,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<ShopProfile>, ApiError> {
    follow_as(&app, shopper, id, true).await
}

/// Stops following a shop (again is fine).
#[utoipa::path(delete, path = "/api/shops/{id}/follow", tag = "catalog", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ShopProfile), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn unfollow(
    State(app): State<AppState>,
    shopper: Shopper,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<ShopProfile>, ApiError> {
    follow_as(&app, shopper, id, false).await
}

/// Timed offers: live now, and upcoming.
#[derive(Serialize, ToSchema)]
pub(super) struct Offers {
    /// Running now, ending soonest first (each with its `starts_at` and `ends_at`).
    live: Vec<ProductView>,
    /// Not started yet, starting soonest first.
    upcoming: Vec<ProductView>,
}

/// Live and upcoming offers (products with an offer window), with the same filters as products.
#[utoipa::path(get, path = "/api/offers", tag = "catalog", params(ProductFilter),
    responses((status = 200, body = Offers), (status = 400, body = ErrorBody)))]
pub(super) async fn offers(
    State(app): State<AppState>,
    filter: Result<Query<ProductFilter>, QueryRejection>,
) -> Result<Json<Offers>, ApiError> {
    let Query(filter) = filter?;
    let state = app.state();
    let (live, upcoming) = filter.offers(&state, &app.search, Utc::now());
    let view = |p: &domain::Product| ProductView::build(&state, p);
    let live = live.into_iter().map(view).collect();
    let upcoming = upcoming.into_iter().map(view).collect();
    Ok(Json(Offers { live, upcoming }))
}
