//! `/api/cart` and `/api/wishlist`: a shopper's (or visitor's) cart, its discount codes, and the
//! shopper's wishlist.

use crate::app::AppState;
use crate::auth::{Buyer, Shopper};
use crate::error::{ApiError, ErrorBody};
use crate::orders::views::CartView;
use crate::request::{ClientAddr, client_context};
use crate::views::ProductView;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::cookie::CookieJar;
use domain::{CartCommand, Command, ProductId, WishlistCommand};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

fn answer(app: &AppState, buyer: &Buyer, jar: CookieJar) -> (CookieJar, Json<CartView>) {
    let jar = buyer.visitor.remember(jar, app.config.secure_cookies);
    (jar, Json(crate::orders::cart_view(app, buyer.owner)))
}

/// The cart, grouped by shop and priced now, with anything that stops a checkout.
#[utoipa::path(get, path = "/api/cart", tag = "orders",
    responses((status = 200, body = CartView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn get_cart(
    State(app): State<AppState>,
    buyer: Buyer,
    jar: CookieJar,
) -> (CookieJar, Json<CartView>) {
    answer(&app, &buyer, jar)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CartItem {
    /// 0 removes the product.
    quantity: u32,
    /// `color` and `size`, from the product's own lists.
    #[serde(default)]
    options: BTreeMap<String, String>,
}

/// Sets how many of a product the cart holds (checked against what is left in stock).
#[utoipa::path(put, path = "/api/cart/items/{product_id}", tag = "orders", request_body = CartItem,
    params(("product_id" = uuid::Uuid, Path)),
    responses((status = 200, body = CartView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not enough left"),
              (status = 429, body = ErrorBody, description = "Too many visitor cart changes from this address"),
              (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn set_item(
    State(app): State<AppState>,
    buyer: Buyer,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    Path(product): Path<uuid::Uuid>,
    body: Result<Json<CartItem>, JsonRejection>,
) -> Result<(CookieJar, Json<CartView>), ApiError> {
    let Json(item) = body?;
    crate::orders::check_visitor_cart_write(&app, &buyer.actor, &client).await?;
    let command = CartCommand::SetItem {
        product: ProductId(product),
        quantity: item.quantity,
        options: item.options,
        client: client_context(&headers),
    };
    app.execute(buyer.actor, Command::Cart(command)).await?;
    Ok(answer(&app, &buyer, jar))
}

#[derive(Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeBody {
    code: String,
}

/// Applies a discount code to its shop's lines (one code per shop; a new one replaces the old).
#[utoipa::path(post, path = "/api/cart/coupon", tag = "orders", request_body = CodeBody,
    responses((status = 200, body = CartView), (status = 422, body = ErrorBody, description = "Unknown, expired, used up, or for no product in the cart"),
              (status = 403, body = ErrorBody)))]
pub(super) async fn apply_code(
    State(app): State<AppState>,
    buyer: Buyer,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    body: Result<Json<CodeBody>, JsonRejection>,
) -> Result<(CookieJar, Json<CartView>), ApiError> {
    let Json(body) = body?;
    crate::orders::check_visitor_cart_write(&app, &buyer.actor, &client).await?;
    let command = CartCommand::ApplyCode { code: body.code };
    app.execute(buyer.actor, Command::Cart(command)).await?;
    Ok(answer(&app, &buyer, jar))
}

/// Removes a discount code from the cart.
#[utoipa::path(delete, path = "/api/cart/coupon", tag = "orders", params(CodeBody),
    responses((status = 200, body = CartView), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn remove_code(
    State(app): State<AppState>,
    buyer: Buyer,
    jar: CookieJar,
    Query(body): Query<CodeBody>,
) -> Result<(CookieJar, Json<CartView>), ApiError> {
    let command = CartCommand::RemoveCode { code: body.code };
    app.execute(buyer.actor, Command::Cart(command)).await?;
    Ok(answer(&app, &buyer, jar))
}

/// The shopper's wishlist, newest first (products no longer for sale are left out).
#[utoipa::path(get, path = "/api/wishlist", tag = "orders",
    responses((status = 200, body = [ProductView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn wishlist(
    State(app): State<AppState>,
    Shopper(user): Shopper,
) -> Json<Vec<ProductView>> {
    let state = app.state();
    let cards = state
        .wishlists
        .get(&user.account.id)
        .into_iter()
        .flat_map(|list| list.iter().rev())
        .filter_map(|id| state.products.get(id))
        .filter(|p| p.is_visible())
        .map(|p| ProductView::build(&state, p))
        .collect();
    Json(cards)
}

/// Adds a product to the wishlist (again: no change).
#[utoipa::path(put, path = "/api/wishlist/{product_id}", tag = "orders", params(("product_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn wish(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    headers: HeaderMap,
    Path(product): Path<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    let command = WishlistCommand::Add {
        product: ProductId(product),
        client: client_context(&headers),
    };
    app.execute(user.actor(), Command::Wishlist(command))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a product from the wishlist (absent: no change).
#[utoipa::path(delete, path = "/api/wishlist/{product_id}", tag = "orders", params(("product_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn unwish(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    Path(product): Path<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    let command = WishlistCommand::Remove {
        product: ProductId(product),
    };
    app.execute(user.actor(), Command::Wishlist(command))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
