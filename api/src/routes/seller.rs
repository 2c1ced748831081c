//! `/api/seller/shop`: a seller opens and reads their shop.

use crate::app::AppState;
use crate::auth::CurrentSeller;
use crate::error::{ApiError, ErrorBody};
use crate::views::ShopView;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use domain::{Command, NewShop, ShopId};
use serde::Deserialize;
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
    responses((status = 201, body = ShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The seller has a shop already"), (status = 422, body = ErrorBody)))]
pub(super) async fn open_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
    body: Result<Json<OpenShop>, JsonRejection>,
) -> Result<(StatusCode, Json<ShopView>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(ShopView::build(&state, shop))))
}

/// The seller's own shop.
#[utoipa::path(get, path = "/api/seller/shop", tag = "seller",
    responses((status = 200, body = ShopView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "No shop yet: open one with POST")))]
pub(super) async fn my_shop(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<ShopView>, ApiError> {
    let shop = seller.shop.ok_or_else(|| {
        ApiError::NotFound("you have not opened a shop yet: POST /api/seller/shop".into())
    })?;
    Ok(Json(ShopView::build(&app.state(), &shop)))
}
