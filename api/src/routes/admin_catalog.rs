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
    /// `csv` downloads every matching product instead of a page of JSON.
    format: Option<String>,
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

/// Every product (drafts and deleted ones too), newest first; `?format=csv` downloads them.
#[utoipa::path(get, path = "/api/admin/products", tag = "admin", params(AdminProductFilter),
    responses((status = 200, body = Page<AdminProductView>, description = "JSON, or text/csv with format=csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_products(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<AdminProductFilter>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Query(filter) = filter?;
    let state = app.state();
    if filter.format.as_deref() == Some("csv") {
        let all = admin_product_matches(&state, filter.q.as_deref(), filter.hidden);
        let mut csv = crate::csv::Csv::new(&[
            "product_id",
            "title",
            "slug",
            "shop",
            "category",
            "status",
            "deleted",
            "hidden_reason",
            "currency",
            "price",
            "current_price",
            "stock",
            "sold",
            "rating",
            "created_at",
        ]);
        for p in all.into_iter().map(|p| AdminProductView::build(&state, p)) {
            csv.row([
                p.product.id.to_string(),
                p.product.title.clone(),
                p.product.slug.clone(),
                p.product
                    .shop
                    .as_ref()
                    .map_or(String::new(), |s| s.name.clone()),
                p.product.category.clone(),
                p.status.clone(),
                p.deleted.to_string(),
                p.hidden_reason.clone().unwrap_or_default(),
                p.product.price.currency.clone(),
                p.product.price.amount.to_string(),
                p.product.current_price.amount.to_string(),
                p.product.stock.to_string(),
                p.product.sold.to_string(),
                p.product
                    .rating
                    .as_ref()
                    .map_or(String::new(), |r| r.average.to_string()),
                p.product.created_at.to_rfc3339(),
            ]);
        }
        return Ok(csv.download("products.csv"));
    }
    Ok(Json(admin_products(
        &state,
        filter.q.as_deref(),
        filter.hidden,
        filter.page,
        filter.per_page,
    ))
    .into_response())
}

/// Admin's product listing, shared with the admin portal.
pub fn admin_products(
    state: &domain::State,
    q: Option<&str>,
    hidden: Option<bool>,
    page: Option<usize>,
    per_page: Option<usize>,
) -> Page<AdminProductView> {
    let matched = admin_product_matches(state, q, hidden);
    Page::of(
        matched.into_iter(),
        page,
        Some(per_page.unwrap_or(25)),
        |p| AdminProductView::build(state, p),
    )
}

/// Every product whose title or shop has all of `q`'s words (hidden ones only, or shown ones
/// only, with `hidden`), newest first.
fn admin_product_matches<'s>(
    state: &'s domain::State,
    q: Option<&str>,
    hidden: Option<bool>,
) -> Vec<&'s domain::Product> {
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
    matched
}

impl AdminProductView {
    fn build(state: &domain::State, p: &domain::Product) -> AdminProductView {
        AdminProductView {
            product: ProductView::build(state, p),
            status: if p.status == domain::ProductStatus::Active {
                "active"
            } else {
                "draft"
            }
            .into(),
            deleted: p.deleted_at.is_some(),
            hidden_reason: p.hidden.as_ref().map(|h| h.reason.clone()),
        }
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminShopFilter {
    /// Words in the shop's name or its seller's e-mail.
    q: Option<String>,
    /// `csv` downloads every matching shop instead of a page of JSON.
    format: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// A shop as admins see it: its seller, sales and closing state.
#[derive(Serialize, ToSchema)]
pub struct AdminShopView {
    #[serde(flatten)]
    pub shop: crate::views::ShopView,
    pub seller_email: Option<String>,
    /// What its standing orders came to, and the platform's fees on them (per currency: the
    /// first order's).
    pub revenue: crate::views::MoneyView,
    pub fees: crate::views::MoneyView,
    /// When the purge closes it (deletion requested).
    pub closes_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every shop with its seller, sales and rating, largest first; `?format=csv` downloads them.
#[utoipa::path(get, path = "/api/admin/shops", tag = "admin", params(AdminShopFilter),
    responses((status = 200, body = Page<AdminShopView>, description = "JSON, or text/csv with format=csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_shops(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<AdminShopFilter>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Query(filter) = filter?;
    let state = app.state();
    let shops = admin_shops(&state, filter.q.as_deref());
    if filter.format.as_deref() == Some("csv") {
        let mut csv = crate::csv::Csv::new(&[
            "shop_id",
            "name",
            "slug",
            "category",
            "country",
            "seller_email",
            "products",
            "followers",
            "orders",
            "currency",
            "revenue",
            "fees",
            "rating",
            "reviews",
            "created_at",
            "closes_at",
        ]);
        for s in &shops {
            csv.row([
                s.shop.id.to_string(),
                s.shop.name.clone(),
                s.shop.slug.clone(),
                s.shop.category.clone(),
                s.shop.country.clone(),
                s.seller_email.clone().unwrap_or_default(),
                s.shop.product_count.to_string(),
                s.shop.followers.to_string(),
                s.shop.orders.to_string(),
                s.revenue.currency.clone(),
                s.revenue.amount.to_string(),
                s.fees.amount.to_string(),
                s.shop
                    .rating
                    .as_ref()
                    .map_or(String::new(), |r| r.average.to_string()),
                s.shop.rating.as_ref().map_or(0, |r| r.count).to_string(),
                s.shop.created_at.to_rfc3339(),
                s.closes_at.map_or(String::new(), |t| t.to_rfc3339()),
            ]);
        }
        return Ok(csv.download("shops.csv"));
    }
    let page = Page::of(shops.into_iter(), filter.page, filter.per_page, |s| s);
    Ok(Json(page).into_response())
}

/// The admin's shop list, largest revenue first, shared with the admin portal.
pub fn admin_shops(state: &domain::State, q: Option<&str>) -> Vec<AdminShopView> {
    let words: Vec<String> = q
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut shops: Vec<AdminShopView> = state
        .shops
        .values()
        .map(|shop| {
            let seller_email = shop
                .owner
                .and_then(|o| state.accounts.get(&o))
                .map(|a| a.email.clone());
            let orders: Vec<&domain::Order> = state
                .orders_of_shop(shop.id)
                .filter(|o| o.cancelled.is_none())
                .collect();
            let currency = orders
                .first()
                .map_or(domain::Currency::USD, |o| o.part.total.currency);
            let sum = |f: fn(&domain::Order) -> i64| {
                domain::Money::new(
                    orders
                        .iter()
                        .filter(|o| o.part.total.currency == currency)
                        .map(|o| f(o))
                        .sum(),
                    currency,
                )
            };
            AdminShopView {
                shop: crate::views::ShopView::build(state, shop),
                seller_email,
                revenue: sum(|o| o.part.total.amount).into(),
                fees: sum(|o| o.part.fee.amount).into(),
                closes_at: shop.purge_due_at(),
            }
        })
        .filter(|s| {
            let name = s.shop.name.to_lowercase();
            let email = s.seller_email.as_deref().unwrap_or("");
            words.iter().all(|w| name.contains(w) || email.contains(w))
        })
        .collect();
    shops.sort_by(|a, b| {
        b.revenue
            .amount
            .cmp(&a.revenue.amount)
            .then(a.shop.name.cmp(&b.shop.name))
    });
    shops
}
