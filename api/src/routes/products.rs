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

/// A review as everyone sees it: the author by first name and initial only.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub id: uuid::Uuid,
    pub rating: u8,
    pub text: String,
    pub author: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl ReviewView {
    pub fn build(state: &domain::State, review: &domain::Review) -> ReviewView {
        let author = state
            .accounts
            .get(&review.author)
            .map(|a| public_name(&a.name))
            .unwrap_or_else(|| "A shopper".into());
        ReviewView {
            id: review.id.0,
            rating: review.rating,
            text: review.text.clone(),
            author,
            at: review.at,
        }
    }
}

/// "Ada Lovelace" → "Ada L.": enough to be a person, not enough to be found.
pub fn public_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    match (words.next(), words.last()) {
        (Some(first), Some(last)) => {
            format!("{first} {}.", last.chars().next().unwrap_or_default())
        }
        (Some(first), None) => first.to_string(),
        _ => "A shopper".into(),
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewPage {
    page: Option<usize>,
    per_page: Option<usize>,
}

fn visible_product(state: &domain::State, slug: &str) -> Result<domain::ProductId, ApiError> {
    state
        .product_by_slug(slug)
        .filter(|p| p.is_visible())
        .map(|p| p.id)
        .ok_or_else(|| ApiError::NotFound(format!("no product '{slug}'")))
}

/// A product's reviews, newest first.
#[utoipa::path(get, path = "/api/products/{slug}/reviews", tag = "catalog", params(("slug" = String, Path), ReviewPage),
    responses((status = 200, body = crate::views::Page<ReviewView>), (status = 404, body = ErrorBody)))]
pub(super) async fn reviews(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    query: Result<Query<ReviewPage>, QueryRejection>,
) -> Result<Json<crate::views::Page<ReviewView>>, ApiError> {
    let Query(query) = query?;
    let state = app.state();
    let product = visible_product(&state, &slug)?;
    Ok(Json(crate::views::Page::of(
        state.reviews_of(product),
        query.page,
        query.per_page,
        |r| ReviewView::build(&state, r),
    )))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewReview {
    /// 1 to 5 stars.
    rating: u8,
    #[serde(default)]
    text: String,
}

/// Reviews a product the shopper has received (one review per product).
#[utoipa::path(post, path = "/api/products/{slug}/reviews", tag = "catalog", params(("slug" = String, Path)), request_body = NewReview,
    responses((status = 201, body = ReviewView), (status = 403, body = ErrorBody, description = "No delivered order with this product"),
              (status = 409, body = ErrorBody, description = "Reviewed already"), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn post_review(
    State(app): State<AppState>,
    crate::auth::Shopper(user): crate::auth::Shopper,
    Path(slug): Path<String>,
    body: Result<Json<NewReview>, axum::extract::rejection::JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<ReviewView>), ApiError> {
    let Json(new) = body?;
    let product = visible_product(&app.state(), &slug)?;
    let id = domain::ReviewId(uuid::Uuid::now_v7());
    let command = domain::Command::Review(domain::ReviewCommand::Post {
        id,
        product,
        rating: new.rating,
        text: new.text,
    });
    app.execute(user.actor(), command).await?;
    let state = app.state();
    let review = state
        .reviews_of(product)
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::Internal("a new review is missing".into()))?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ReviewView::build(&state, review)),
    ))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct SuggestQuery {
    /// What has been typed so far (the last word counts as a prefix; typos are forgiven).
    #[serde(default)]
    q: String,
}

/// One suggestion for the search box.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub text: String,
    /// `product`, `category` or `shop`.
    pub kind: &'static str,
    /// Where choosing it leads.
    pub url: String,
}

/// Up to 8 suggestions while typing: matching categories and shops, then product titles.
#[utoipa::path(get, path = "/api/products/suggest", tag = "catalog", params(SuggestQuery),
    responses((status = 200, body = [Suggestion]), (status = 400, body = ErrorBody)))]
pub(super) async fn suggest(
    State(app): State<AppState>,
    query: Result<Query<SuggestQuery>, QueryRejection>,
) -> Result<Json<Vec<Suggestion>>, ApiError> {
    let Query(query) = query?;
    Ok(Json(suggestions(&app, &query.q)))
}

/// The search box's suggestions for `typed`.
pub fn suggestions(app: &AppState, typed: &str) -> Vec<Suggestion> {
    const MAX: usize = 8;
    let typed = typed.trim();
    if typed.chars().count() < 2 || typed.len() > 100 {
        return Vec::new();
    }
    let needle = typed.to_lowercase();
    let state = app.state();
    let mut out: Vec<Suggestion> = Vec::new();
    for category in &state.site.categories {
        if category.name.to_lowercase().starts_with(&needle) {
            out.push(Suggestion {
                text: category.name.clone(),
                kind: "category",
                url: format!("/?category={}", category.slug),
            });
        }
    }
    for shop in state.shops.values() {
        if out.len() < 3 && shop.name.to_lowercase().starts_with(&needle) {
            out.push(Suggestion {
                text: shop.name.clone(),
                kind: "shop",
                url: format!("/shops/{}", shop.slug),
            });
        }
    }
    let hits = app.search.query(typed, 50).unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for (id, _) in hits {
        if out.len() >= MAX {
            break;
        }
        let Some(product) = state.products.get(&id).filter(|p| p.is_visible()) else {
            continue;
        };
        if seen.insert(product.title.to_lowercase()) {
            out.push(Suggestion {
                text: product.title.clone(),
                kind: "product",
                url: format!("/products/{}", product.slug),
            });
        }
    }
    out.truncate(MAX);
    out
}
