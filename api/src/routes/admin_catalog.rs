//! `/api/admin/site` and `/api/admin/products`: admins shape the catalog — the category tree,
//! logo and banner, and products hidden for moderation.

use crate::app::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::views::{Page, ProductView, SiteView};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use domain::{Category, Command, ProductId, SiteConfig, Subcategory};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubcategoryInput {
    slug: String,
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoryInput {
    slug: String,
    name: String,
    #[serde(default)]
    subcategories: Vec<SubcategoryInput>,
}

/// The whole site configuration, replaced at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteInput {
    name: String,
    categories: Vec<CategoryInput>,
    /// An image uploaded with `POST /api/seller/media` by an admin.
    logo: Option<uuid::Uuid>,
    banner: Option<uuid::Uuid>,
}

/// Replaces the site configuration. A category or subcategory that products or shops use cannot
/// be removed (409 names them).
#[utoipa::path(put, path = "/api/admin/site", tag = "admin", request_body = SiteInput,
    responses((status = 200, body = SiteView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn put_site(
    State(app): State<AppState>,
    Admin(admin): Admin,
    body: Result<Json<SiteInput>, JsonRejection>,
) -> Result<Json<SiteView>, ApiError> {
    let Json(site) = body?;
    let config = SiteConfig {
        name: site.name,
        categories: site
            .categories
            .into_iter()
            .map(|c| Category {
                slug: c.slug,
                name: c.name,
                subcategories: c
                    .subcategories
                    .into_iter()
                    .map(|s| Subcategory {
                        slug: s.slug,
                        name: s.name,
                    })
                    .collect(),
            })
            .collect(),
        logo: site.logo.map(domain::MediaId),
        banner: site.banner.map(domain::MediaId),
    };
    app.execute(admin.actor(), Command::ConfigureSite(config))
        .await?;
    Ok(Json(SiteView::build(&app.state(), &app.catalog())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminProductFilter {
    /// Words in the title or the shop's name.
    q: Option<String>,
    /// Only hidden (`true`) or only shown (`false`) products.
    hidden: Option<bool>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// A product as admins see it: with its state and why it is hidden.
#[derive(Serialize, ToSchema)]
pub struct AdminProductView {
    #[serde(flatten)]
    pub product: ProductView,
    pub status: String,
    pub deleted: bool,
    pub hidden_reason: Option<String>,
}

/// Every product (drafts and deleted ones too), newest first.
#[utoipa::path(get, path = "/api/admin/products", tag = "admin", params(AdminProductFilter),
    responses((status = 200, body = Page<AdminProductView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_products(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<AdminProductFilter>, QueryRejection>,
) -> Result<Json<Page<AdminProductView>>, ApiError> {
    let Query(filter) = filter?;
    Ok(Json(admin_products(
        &app.state(),
        filter.q.as_deref(),
        filter.hidden,
        filter.page,
        filter.per_page,
    )))
}

/// Admin's product listing, shared with the admin portal.
pub fn admin_products(
    state: &domain::State,
    q: Option<&str>,
    hidden: Option<bool>,
    page: Option<usize>,
    per_page: Option<usize>,
) -> Page<AdminProductView> {
    let words: Vec<String> = q
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut matched: Vec<&domain::Product> = state
        .products
        .values()
        .filter(|p| hidden.is_none_or(|h| p.hidden.is_some() == h))
        .filter(|p| {
            let shop = state
                .shops
                .get(&p.shop_id)
                .map(|s| s.name.to_lowercase())
                .unwrap_or_default();
            words
                .iter()
                .all(|w| p.title.to_lowercase().contains(w) || shop.contains(w))
        })
        .collect();
    matched.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.slug.cmp(&b.slug)));
    let per_page = per_page.unwrap_or(25).clamp(1, 100);
    let page = page.unwrap_or(1).max(1);
    Page {
        total: matched.len(),
        items: matched
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|p| AdminProductView {
                product: ProductView::build(state, p),
                status: if p.status == domain::ProductStatus::Active {
                    "active"
                } else {
                    "draft"
                }
                .into(),
                deleted: p.deleted_at.is_some(),
                hidden_reason: p.hidden.as_ref().map(|h| h.reason.clone()),
            })
            .collect(),
        page,
        per_page,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HideRequest {
    reason: String,
}

/// Hides a product from the shop (moderation); the seller still sees it, with the reason.
#[utoipa::path(post, path = "/api/admin/products/{id}/hide", tag = "admin", params(("id" = uuid::Uuid, Path)), request_body = HideRequest,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn hide(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<uuid::Uuid>,
    body: Result<Json<HideRequest>, JsonRejection>,
) -> Result<axum::http::StatusCode, ApiError> {
    let Json(request) = body?;
    app.execute(
        admin.actor(),
        Command::ModerateProduct {
            id: ProductId(id),
            reason: Some(request.reason),
        },
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Shows a hidden product again.
#[utoipa::path(delete, path = "/api/admin/products/{id}/hide", tag = "admin", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn unhide(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<uuid::Uuid>,
) -> Result<axum::http::StatusCode, ApiError> {
    app.execute(
        admin.actor(),
        Command::ModerateProduct {
            id: ProductId(id),
            reason: None,
        },
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
