//! `/api/seller/products` and `/api/seller/discount-codes`: a seller's own catalog. Every route
//! takes [`CurrentSeller`] and works on the seller's shop only; another shop's product or code is
//! answered 404, the same as one that does not exist.

use crate::app::AppState;
use crate::auth::CurrentSeller;
use crate::error::{ApiError, ErrorBody};
use crate::views::{MoneyView, Page, ProductView};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::{
    Command, Currency, Discount, DiscountCode, DiscountCodeId, MediaId, Money, NewProduct, Product,
    ProductChanges, ProductDetails, ProductId, ProductStatus, Shop, Spec,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The seller's shop, or 409 telling them to open one first.
fn own_shop(seller: &CurrentSeller) -> Result<&Shop, ApiError> {
    seller
        .shop
        .as_ref()
        .ok_or_else(|| ApiError::Conflict("open your shop first: POST /api/seller/shop".into()))
}

/// Money as the API takes it: integer minor units and a currency (USD when left out).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoneyInput {
    amount: i64,
    #[schema(value_type = Option<String>, example = "USD")]
    currency: Option<String>,
}

impl MoneyInput {
    fn money(&self, field: &'static str) -> Result<Money, ApiError> {
        let currency = match &self.currency {
            Some(code) => Currency::parse(code).map_err(|_| {
                ApiError::from(domain::DomainError::invalid(
                    field,
                    "currency must be a three-letter code such as USD",
                ))
            })?,
            None => Currency::USD,
        };
        Ok(Money::new(self.amount, currency))
    }
}

/// A product as its seller sees it: drafts and deleted ones too.
#[derive(Serialize, ToSchema)]
pub(crate) struct SellerProductView {
    #[serde(flatten)]
    product: ProductView,
    /// `draft` or `active`.
    status: String,
    deleted_at: Option<DateTime<Utc>>,
    /// Until when a deleted product can be restored.
    restorable_until: Option<DateTime<Utc>>,
    /// Why an admin hid it from the shop, if they did.
    hidden_reason: Option<String>,
}

impl SellerProductView {
    fn build(state: &domain::State, p: &Product) -> SellerProductView {
        SellerProductView {
            product: ProductView::build(state, p),
            status: match p.status {
                ProductStatus::Draft => "draft",
                ProductStatus::Active => "active",
            }
            .into(),
            deleted_at: p.deleted_at,
            restorable_until: p
                .deleted_at
                .map(|at| at + chrono::Duration::hours(domain::RESTORE_WINDOW_HOURS)),
            hidden_reason: p.hidden.as_ref().map(|h| h.reason.clone()),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct SellerProductFilter {
    /// `active`, `draft` or `deleted`.
    status: Option<String>,
    /// Words in the title.
    q: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// The seller's products, newest first: drafts and deleted ones included.
#[utoipa::path(get, path = "/api/seller/products", tag = "seller", params(SellerProductFilter),
    responses((status = 200, body = Page<SellerProductView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn list(
    State(app): State<AppState>,
    seller: CurrentSeller,
    filter: Result<Query<SellerProductFilter>, QueryRejection>,
) -> Result<Json<Page<SellerProductView>>, ApiError> {
    let Query(filter) = filter?;
    let shop = own_shop(&seller)?;
    let state = app.state();
    let words: Vec<String> = filter
        .q
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let matched: Vec<&Product> = state
        .products_of(shop.id)
        .filter(|p| match filter.status.as_deref() {
            Some("deleted") => p.deleted_at.is_some(),
            Some("draft") => p.deleted_at.is_none() && p.status == ProductStatus::Draft,
            Some("active") => p.is_visible(),
            _ => true,
        })
        .filter(|p| words.iter().all(|w| p.title.to_lowercase().contains(w)))
        .collect();
    let per_page = filter.per_page.unwrap_or(20).clamp(1, 100);
    let page = filter.page.unwrap_or(1).max(1);
    Ok(Json(Page {
        total: matched.len(),
        items: matched
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|p| SellerProductView::build(&state, p))
            .collect(),
        page,
        per_page,
    }))
}

/// A new product (or a timed offer, with `starts_at` and `ends_at`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProductRequest {
    title: String,
    /// One or two sentences for cards.
    summary: Option<String>,
    /// Rich text: a safe subset of HTML (paragraphs, emphasis, lists, links) or plain text;
    /// anything else is removed.
    #[serde(default)]
    description: String,
    category: String,
    subcategory: Option<String>,
    price: MoneyInput,
    sale_price: Option<MoneyInput>,
    #[serde(default)]
    stock: u32,
    /// `draft` (default) or `active`.
    #[schema(value_type = Option<String>)]
    status: Option<ProductStatus>,
    /// Ids of images uploaded with `POST /api/seller/media`, in display order.
    #[serde(default)]
    images: Vec<uuid::Uuid>,
    brand: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    colors: Vec<String>,
    #[serde(default)]
    sizes: Vec<String>,
    #[serde(default)]
    specs: Vec<SpecInput>,
    video_url: Option<String>,
    warranty: Option<String>,
    #[serde(default)]
    cash_on_delivery: bool,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
}

/// One line of the specifications.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpecInput {
    name: String,
    value: String,
}

fn specs(specs: Vec<SpecInput>) -> Vec<Spec> {
    specs
        .into_iter()
        .map(|s| Spec {
            name: s.name.trim().to_string(),
            value: s.value.trim().to_string(),
        })
        .collect()
}

fn images(ids: Vec<uuid::Uuid>) -> Vec<MediaId> {
    ids.into_iter().map(MediaId).collect()
}

fn product_view(app: &AppState, id: ProductId) -> Result<Json<SellerProductView>, ApiError> {
    let state = app.state();
    let product = state
        .products
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("product {id} not found")))?;
    Ok(Json(SellerProductView::build(&state, product)))
}

/// Creates a product in the seller's shop; its slug is made from the title, unique.
#[utoipa::path(post, path = "/api/seller/products", tag = "seller", request_body = NewProductRequest,
    responses((status = 201, body = SellerProductView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create(
    State(app): State<AppState>,
    seller: CurrentSeller,
    body: Result<Json<NewProductRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SellerProductView>), ApiError> {
    let Json(new) = body?;
    let shop = own_shop(&seller)?;
    let id = ProductId(uuid::Uuid::now_v7());
    let product = NewProduct {
        id,
        shop_id: shop.id,
        title: new.title,
        description: new.description,
        category: new.category,
        subcategory: new.subcategory,
        price: new.price.money("price")?,
        sale_price: new.sale_price.map(|s| s.money("sale_price")).transpose()?,
        stock: new.stock,
        status: new.status.unwrap_or(ProductStatus::Draft),
        images: images(new.images),
        details: ProductDetails {
            summary: new.summary,
            brand: new.brand,
            tags: new.tags,
            colors: new.colors,
            sizes: new.sizes,
            specs: specs(new.specs),
            video_url: new.video_url,
            warranty: new.warranty,
            cash_on_delivery: new.cash_on_delivery,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
        },
    };
    app.execute(seller.principal.actor(), Command::CreateProduct(product))
        .await?;
    Ok((StatusCode::CREATED, product_view(&app, id)?))
}

/// The seller's product, or 404 (also for another shop's product).
fn owned(app: &AppState, seller: &CurrentSeller, id: uuid::Uuid) -> Result<ProductId, ApiError> {
    let shop = own_shop(seller)?;
    let id = ProductId(id);
    let state = app.state();
    match state.products.get(&id) {
        Some(p) if p.shop_id == shop.id => Ok(id),
        _ => Err(ApiError::NotFound(format!(
            "product {id} not found in your shop"
        ))),
    }
}

/// One of the seller's products.
#[utoipa::path(get, path = "/api/seller/products/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SellerProductView), (status = 404, body = ErrorBody)))]
pub(super) async fn get(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<SellerProductView>, ApiError> {
    let id = owned(&app, &seller, id)?;
    product_view(&app, id)
}

/// A partial edit: fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProductPatch {
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    subcategory: Option<Option<String>>,
    price: Option<MoneyInput>,
    /// `null` ends the sale.
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<MoneyInput>)]
    sale_price: Option<Option<MoneyInput>>,
    stock: Option<u32>,
    #[schema(value_type = Option<String>)]
    status: Option<ProductStatus>,
    /// Replaces the images, in this order.
    images: Option<Vec<uuid::Uuid>>,
    /// `null` clears it; so for every optional detail below.
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    brand: Option<Option<String>>,
    tags: Option<Vec<String>>,
    colors: Option<Vec<String>>,
    sizes: Option<Vec<String>>,
    specs: Option<Vec<SpecInput>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    video_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<String>)]
    warranty: Option<Option<String>>,
    cash_on_delivery: Option<bool>,
    /// Both or neither; `null` ends the offer window.
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "super::some")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    ends_at: Option<Option<DateTime<Utc>>>,
}

impl ProductPatch {
    /// The product's details with this patch's detail fields applied, when it has any.
    fn details(&mut self, current: &ProductDetails) -> Option<ProductDetails> {
        let mut details = current.clone();
        let mut changed = false;
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field.take() {
                    details.$field = value;
                    changed = true;
                }
            )*};
        }
        set!(
            summary, brand, tags, colors, sizes, video_url, warranty, starts_at, ends_at
        );
        if let Some(value) = self.cash_on_delivery.take() {
            details.cash_on_delivery = value;
            changed = true;
        }
        if let Some(value) = self.specs.take() {
            details.specs = specs(value);
            changed = true;
        }
        changed.then_some(details)
    }
}

/// Edits one of the seller's products.
#[utoipa::path(patch, path = "/api/seller/products/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)), request_body = ProductPatch,
    responses((status = 200, body = SellerProductView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn update(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
    body: Result<Json<ProductPatch>, JsonRejection>,
) -> Result<Json<SellerProductView>, ApiError> {
    let Json(mut patch) = body?;
    let id = owned(&app, &seller, id)?;
    let details = patch.details(&app.state().products[&id].details);
    let changes = ProductChanges {
        title: patch.title,
        description: patch.description,
        price: patch.price.map(|p| p.money("price")).transpose()?,
        sale_price: match patch.sale_price {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) => Some(Some(s.money("sale_price")?)),
        },
        stock: patch.stock,
        status: patch.status,
        category: patch.category,
        subcategory: patch.subcategory,
        images: patch.images.map(images),
        details,
    };
    app.execute(
        seller.principal.actor(),
        Command::UpdateProduct { id, changes },
    )
    .await?;
    product_view(&app, id)
}

/// Deletes a product: hidden at once, restorable for 24 hours, then purged.
#[utoipa::path(delete, path = "/api/seller/products/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SellerProductView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<SellerProductView>, ApiError> {
    let id = owned(&app, &seller, id)?;
    app.execute(seller.principal.actor(), Command::DeleteProduct { id })
        .await?;
    product_view(&app, id)
}

/// Restores a product deleted less than 24 hours ago.
#[utoipa::path(post, path = "/api/seller/products/{id}/restore", tag = "seller", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SellerProductView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not deleted, or the window has passed")))]
pub(super) async fn restore(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<SellerProductView>, ApiError> {
    let id = owned(&app, &seller, id)?;
    app.execute(seller.principal.actor(), Command::RestoreProduct { id })
        .await?;
    product_view(&app, id)
}

/// A discount code as its seller sees it.
#[derive(Serialize, ToSchema)]
pub(crate) struct DiscountCodeView {
    id: uuid::Uuid,
    code: String,
    public_name: String,
    /// `percent` or `fixed`.
    kind: String,
    /// Whole percent, or minor units for `fixed`.
    value: i64,
    amount: Option<MoneyView>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    max_uses: Option<u32>,
    product_ids: Vec<uuid::Uuid>,
    live: bool,
    created_at: DateTime<Utc>,
}

impl From<&DiscountCode> for DiscountCodeView {
    fn from(c: &DiscountCode) -> Self {
        let (kind, value, amount) = match c.discount {
            Discount::Percent { percent } => ("percent", i64::from(percent), None),
            Discount::Fixed { amount } => ("fixed", amount.amount, Some(amount.into())),
        };
        DiscountCodeView {
            id: c.id.0,
            code: c.code.clone(),
            public_name: c.public_name.clone(),
            kind: kind.into(),
            value,
            amount,
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            max_uses: c.max_uses,
            product_ids: c.product_ids.iter().map(|p| p.0).collect(),
            live: c.is_live(Utc::now()),
            created_at: c.created_at,
        }
    }
}

/// The seller's discount codes, newest first.
#[utoipa::path(get, path = "/api/seller/discount-codes", tag = "seller",
    responses((status = 200, body = [DiscountCodeView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn list_codes(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<Vec<DiscountCodeView>>, ApiError> {
    let shop = own_shop(&seller)?;
    let state = app.state();
    let mut codes: Vec<&DiscountCode> = state
        .discount_codes
        .values()
        .filter(|c| c.shop_id == shop.id)
        .collect();
    codes.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    Ok(Json(
        codes.into_iter().map(DiscountCodeView::from).collect(),
    ))
}

#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DiscountKind {
    Percent,
    Fixed,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDiscountCode {
    code: String,
    public_name: String,
    kind: DiscountKind,
    /// Whole percent (1–100) or, for `fixed`, minor units.
    value: i64,
    /// For `fixed`: the currency (USD when left out).
    currency: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    max_uses: Option<u32>,
    #[serde(default)]
    product_ids: Vec<uuid::Uuid>,
}

/// Creates a discount code for the seller's shop; codes are unique across the marketplace.
#[utoipa::path(post, path = "/api/seller/discount-codes", tag = "seller", request_body = NewDiscountCode,
    responses((status = 201, body = DiscountCodeView), (status = 409, body = ErrorBody, description = "The code is taken"), (status = 422, body = ErrorBody)))]
pub(super) async fn create_code(
    State(app): State<AppState>,
    seller: CurrentSeller,
    body: Result<Json<NewDiscountCode>, JsonRejection>,
) -> Result<(StatusCode, Json<DiscountCodeView>), ApiError> {
    let Json(new) = body?;
    let shop = own_shop(&seller)?;
    let discount = match new.kind {
        DiscountKind::Percent => Discount::Percent {
            percent: u32::try_from(new.value).unwrap_or(0),
        },
        DiscountKind::Fixed => Discount::Fixed {
            amount: MoneyInput {
                amount: new.value,
                currency: new.currency,
            }
            .money("currency")?,
        },
    };
    let id = DiscountCodeId(uuid::Uuid::now_v7());
    let code = DiscountCode {
        id,
        shop_id: shop.id,
        code: new.code,
        public_name: new.public_name,
        discount,
        starts_at: new.starts_at,
        ends_at: new.ends_at,
        max_uses: new.max_uses,
        product_ids: new.product_ids.into_iter().map(ProductId).collect(),
        created_at: Utc::now(),
    };
    app.execute(seller.principal.actor(), Command::CreateDiscountCode(code))
        .await?;
    let state = app.state();
    let saved = state
        .discount_codes
        .get(&id)
        .ok_or_else(|| ApiError::Internal("a new code is missing".into()))?;
    Ok((StatusCode::CREATED, Json(DiscountCodeView::from(saved))))
}

/// Deletes one of the seller's discount codes (its name becomes free again).
#[utoipa::path(delete, path = "/api/seller/discount-codes/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(super) async fn delete_code(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    own_shop(&seller)?;
    app.execute(
        seller.principal.actor(),
        Command::DeleteDiscountCode {
            id: DiscountCodeId(id),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
