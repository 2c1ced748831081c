use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::views::{ProductFilter, ProductListing, ProductView};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};

/// Active products, searched, filtered, sorted and paged, with facet counts over the whole match.
#[utoipa::path(
    get,
    path = "/api/products",
    tag = "catalog",
    params(ProductFilter),
    responses((status = 200, body = ProductListing), (status = 400, body = ErrorBody))
)]
pub(super) async fn list_products(
    State(app): State<AppState>,
    filter: Result<Query<ProductFilter>, QueryRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let Query(filter) = filter?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        app.listing_json(&filter),
    ))
}

/// One active product by its slug.
#[utoipa::path(
    get,
    path = "/api/products/{slug}",
    tag = "catalog",
    params(("slug" = String, Path, description = "The product's slug")),
    responses((status = 200, body = ProductView), (status = 404, body = ErrorBody))
)]
pub(super) async fn get_product(
    State(app): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let state = app.state();
    let product = state
        .product_by_slug(&slug)
        .filter(|p| p.is_visible())
        .ok_or_else(|| ApiError::NotFound(format!("no product '{slug}'")))?;
    Ok(Json(ProductView::build(&state, product)))
}
