//! The seller portal: the signed-in seller's shop and its products, and opening the shop.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Portal, Viewer};
use api::{ApiError, AppState, ShopView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Command, NewProduct, NewShop, ProductDetails, ProductId, ProductStatus, ShopId};
use serde::Deserialize;
use std::collections::BTreeMap;

pub struct ProductRow {
    id: uuid::Uuid,
    slug: String,
    title: String,
    category: String,
    price: String,
    stock: u32,
    active: bool,
    deleted: bool,
    /// Deleted, and still inside the restore window.
    restorable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller.html")]
pub struct SellerPage {
    chrome: Chrome,
    shop: ShopView,
    rows: Vec<ProductRow>,
    active: usize,
    units: u64,
    low_stock: usize,
    notice: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `/seller`: the seller's shop and its products, drafts included. Sellers without a shop are
/// sent to open one.
pub async fn dashboard(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(done): Query<Done>,
) -> Response {
    let notice = match done.done.as_str() {
        "created" => Some("Product saved.".to_string()),
        "deleted" => Some("Product deleted. You can restore it for 24 hours.".to_string()),
        "restored" => Some("Product restored.".to_string()),
        "updated" => Some("Product updated.".to_string()),
        _ => None,
    };
    dashboard_page(&app, &viewer, notice, None)
}

fn dashboard_page(
    app: &AppState,
    viewer: &Viewer,
    notice: Option<String>,
    error: Option<&ApiError>,
) -> Response {
    let principal = match viewer.require(app, Portal::Seller, "/seller") {
        Ok(p) => p,
        Err(response) => return response,
    };
    let state = app.state();
    let Some(shop) = state.shop_of(principal.account.id) else {
        return Redirect::to("/seller/onboarding").into_response();
    };
    let rows: Vec<ProductRow> = state
        .products_of(shop.id)
        .map(|p| ProductRow {
            id: p.id.0,
            slug: p.slug.clone(),
            title: p.title.clone(),
            category: state
                .site
                .category(&p.category)
                .map(|c| c.name.clone())
                .unwrap_or_else(|| p.category.clone()),
            price: p.current_price().display(),
            stock: p.stock,
            active: p.is_visible(),
            deleted: p.deleted_at.is_some(),
            restorable: p.restorable(chrono::Utc::now()),
        })
        .collect();
    let page = SellerPage {
        chrome: Chrome::with(&state, "seller", viewer),
        shop: ShopView::build(&state, shop),
        active: rows.iter().filter(|r| r.active).count(),
        units: rows
            .iter()
            .filter(|r| !r.deleted)
            .map(|r| r.stock as u64)
            .sum(),
        low_stock: rows.iter().filter(|r| !r.deleted && r.stock < 5).count(),
        rows,
        notice,
        message: error.map(super::form_message),
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

#[derive(Deserialize)]
pub struct Empty {}

/// Deletes or restores one of the seller's products from the dashboard.
async fn product_action(
    app: &AppState,
    viewer: &Viewer,
    id: uuid::Uuid,
    restore: bool,
) -> Response {
    let principal = match viewer.require(app, Portal::Seller, "/seller") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let id = ProductId(id);
    let command = if restore {
        Command::RestoreProduct { id }
    } else {
        Command::DeleteProduct { id }
    };
    match app.execute(principal.actor(), command).await {
        Ok(_) => Redirect::to(if restore {
            "/seller?done=restored"
        } else {
            "/seller?done=deleted"
        })
        .into_response(),
        Err(e) => dashboard_page(app, viewer, None, Some(&e)),
    }
}

pub async fn delete_product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    product_action(&app, &viewer, id, false).await
}

pub async fn restore_product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    product_action(&app, &viewer, id, true).await
}

#[derive(Template, WebTemplate)]
#[template(path = "product_form.html")]
pub struct ProductFormPage {
    chrome: Chrome,
    /// Where the form posts.
    action: String,
    heading: &'static str,
    categories: Vec<CategoryOption>,
    message: Option<String>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
}

impl ProductFormPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }
}

fn category_options(state: &domain::State) -> Vec<CategoryOption> {
    let mut options = Vec::new();
    for c in &state.site.categories {
        options.push(CategoryOption {
            slug: c.slug.clone(),
            name: c.name.clone(),
        });
        for sub in &c.subcategories {
            options.push(CategoryOption {
                slug: format!("{}/{}", c.slug, sub.slug),
                name: format!("{} › {}", c.name, sub.name),
            });
        }
    }
    options
}

/// The product form: empty for a new product (`editing: None`), filled in for an edit.
fn product_form(
    app: &AppState,
    viewer: &Viewer,
    editing: Option<uuid::Uuid>,
    values: BTreeMap<String, String>,
    error: Option<&ApiError>,
) -> Response {
    let state = app.state();
    let page = ProductFormPage {
        chrome: Chrome::with(&state, "seller", viewer),
        action: editing.map_or_else(
            || "/seller/products/new".to_string(),
            |id| format!("/seller/products/{id}/edit"),
        ),
        heading: if editing.is_some() {
            "Edit product"
        } else {
            "New product"
        },
        categories: category_options(&state),
        message: error.map(super::form_message),
        errors: error.map(ApiError::field_errors).unwrap_or_default(),
        values,
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

/// `/seller/products/new`: the form for a new product.
pub async fn new_product(State(app): State<AppState>, viewer: Viewer) -> Response {
    if let Err(response) = viewer.require(&app, Portal::Seller, "/seller/products/new") {
        return response;
    }
    let values = BTreeMap::from([
        ("stock".to_string(), "1".to_string()),
        ("status".to_string(), "active".to_string()),
    ]);
    product_form(&app, &viewer, None, values, None)
}

#[derive(Deserialize)]
pub struct ProductForm {
    title: String,
    #[serde(default)]
    description: String,
    category: String,
    price: String,
    #[serde(default)]
    sale_price: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    colors: String,
    #[serde(default)]
    sizes: String,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A product form's fields, parsed: what both creating and editing need.
struct ParsedProduct {
    price: domain::Money,
    sale_price: Option<domain::Money>,
    stock: u32,
    category: String,
    subcategory: Option<String>,
    status: ProductStatus,
    details: ProductDetails,
}

impl ProductForm {
    /// What was typed, to show the form again.
    fn values(&self) -> BTreeMap<String, String> {
        [
            ("title", &self.title),
            ("description", &self.description),
            ("category", &self.category),
            ("price", &self.price),
            ("sale_price", &self.sale_price),
            ("stock", &self.stock),
            ("status", &self.status),
            ("brand", &self.brand),
            ("tags", &self.tags),
            ("colors", &self.colors),
            ("sizes", &self.sizes),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }

    /// Prices as people type them (USD), stock, `category/subcategory`, lists split on commas.
    fn parse(&self) -> Result<ParsedProduct, ApiError> {
        let usd = domain::Currency::USD;
        let stock = match self.stock.trim() {
            "" => 0,
            text => text
                .parse::<u32>()
                .map_err(|_| domain::DomainError::invalid("stock", "a whole number, 0 or more"))?,
        };
        let (category, subcategory) = match self.category.split_once('/') {
            Some((c, s)) => (c.to_string(), Some(s.to_string())),
            None => (self.category.clone(), None),
        };
        Ok(ParsedProduct {
            price: domain::Money::parse_major(&self.price, usd, "price")?,
            sale_price: match self.sale_price.trim() {
                "" => None,
                text => Some(domain::Money::parse_major(text, usd, "sale_price")?),
            },
            stock,
            category,
            subcategory,
            status: if self.status == "draft" {
                ProductStatus::Draft
            } else {
                ProductStatus::Active
            },
            details: ProductDetails {
                brand: Some(self.brand.trim().to_string()).filter(|b| !b.is_empty()),
                tags: list(&self.tags),
                colors: list(&self.colors),
                sizes: list(&self.sizes),
                starts_at: None,
                ends_at: None,
            },
        })
    }
}

pub async fn create_product(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Seller, "/seller/products/new") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(shop) = app.state().shop_of(principal.account.id).map(|s| s.id) else {
        return Redirect::to("/seller/onboarding").into_response();
    };
    let result = async {
        let parsed = form.parse()?;
        let product = NewProduct {
            id: ProductId(uuid::Uuid::now_v7()),
            shop_id: shop,
            title: form.title.clone(),
            description: form.description.clone(),
            category: parsed.category,
            subcategory: parsed.subcategory,
            price: parsed.price,
            sale_price: parsed.sale_price,
            stock: parsed.stock,
            status: parsed.status,
            image_url: None,
            details: parsed.details,
        };
        app.execute(principal.actor(), Command::CreateProduct(product))
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/seller?done=created").into_response(),
        Err(e) => product_form(&app, &viewer, None, form.values(), Some(&e)),
    }
}

/// The seller's own product, or `None` (another shop's product is as good as missing).
fn own_product(
    app: &AppState,
    seller: domain::AccountId,
    id: uuid::Uuid,
) -> Option<domain::Product> {
    let state = app.state();
    let shop = state.shop_of(seller)?.id;
    state
        .products
        .get(&ProductId(id))
        .filter(|p| p.shop_id == shop && p.deleted_at.is_none())
        .cloned()
}

/// `/seller/products/{id}/edit`: the form, filled in with the product as it is.
pub async fn edit_product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    let here = format!("/seller/products/{id}/edit");
    let principal = match viewer.require(&app, Portal::Seller, &here) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(p) = own_product(&app, principal.account.id, id) else {
        return super::not_found_page(&app, &viewer, "seller", "This product is not in your shop.");
    };
    let major = |m: domain::Money| {
        let digits = m.currency.minor_digits();
        let unit = 10_i64.pow(digits);
        if digits == 0 {
            m.amount.to_string()
        } else {
            format!(
                "{}.{:0width$}",
                m.amount / unit,
                m.amount % unit,
                width = digits as usize
            )
        }
    };
    let values = BTreeMap::from([
        ("title".to_string(), p.title.clone()),
        ("description".to_string(), p.description.clone()),
        (
            "category".to_string(),
            match &p.subcategory {
                Some(s) => format!("{}/{s}", p.category),
                None => p.category.clone(),
            },
        ),
        ("price".to_string(), major(p.price)),
        (
            "sale_price".to_string(),
            p.sale_price.map(major).unwrap_or_default(),
        ),
        ("stock".to_string(), p.stock.to_string()),
        (
            "status".to_string(),
            if p.status == ProductStatus::Draft {
                "draft"
            } else {
                "active"
            }
            .to_string(),
        ),
        (
            "brand".to_string(),
            p.details.brand.clone().unwrap_or_default(),
        ),
        ("tags".to_string(), p.details.tags.join(", ")),
        ("colors".to_string(), p.details.colors.join(", ")),
        ("sizes".to_string(), p.details.sizes.join(", ")),
    ]);
    product_form(&app, &viewer, Some(id), values, None)
}

pub async fn update_product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<ProductForm>,
) -> Response {
    let here = format!("/seller/products/{id}/edit");
    let principal = match viewer.require(&app, Portal::Seller, &here) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(current) = own_product(&app, principal.account.id, id) else {
        return super::not_found_page(&app, &viewer, "seller", "This product is not in your shop.");
    };
    let result = async {
        let parsed = form.parse()?;
        let changes = domain::ProductChanges {
            title: Some(form.title.clone()),
            description: Some(form.description.clone()),
            price: Some(parsed.price),
            sale_price: Some(parsed.sale_price),
            stock: Some(parsed.stock),
            status: Some(parsed.status),
            category: Some(parsed.category),
            subcategory: Some(parsed.subcategory),
            // The offer window is not on this form: keep it.
            details: Some(ProductDetails {
                starts_at: current.details.starts_at,
                ends_at: current.details.ends_at,
                ..parsed.details
            }),
        };
        app.execute(
            principal.actor(),
            Command::UpdateProduct {
                id: current.id,
                changes,
            },
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/seller?done=updated").into_response(),
        Err(e) => product_form(&app, &viewer, Some(id), form.values(), Some(&e)),
    }
}

pub struct CategoryOption {
    slug: String,
    name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "onboarding.html")]
pub struct OnboardingPage {
    chrome: Chrome,
    seller_name: String,
    categories: Vec<CategoryOption>,
    message: Option<String>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
}

impl OnboardingPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }
}

fn onboarding_page(
    app: &AppState,
    viewer: &Viewer,
    values: BTreeMap<String, String>,
    error: Option<&ApiError>,
) -> Response {
    let state = app.state();
    let page = OnboardingPage {
        chrome: Chrome::with(&state, "seller", viewer),
        seller_name: viewer
            .principal()
            .map(|p| p.account.name.clone())
            .unwrap_or_default(),
        categories: state
            .site
            .categories
            .iter()
            .map(|c| CategoryOption {
                slug: c.slug.clone(),
                name: c.name.clone(),
            })
            .collect(),
        message: error.map(super::form_message),
        errors: error.map(ApiError::field_errors).unwrap_or_default(),
        values,
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

/// `/seller/onboarding`: a new seller opens their shop.
pub async fn onboarding(State(app): State<AppState>, viewer: Viewer) -> Response {
    let principal = match viewer.require(&app, Portal::Seller, "/seller/onboarding") {
        Ok(p) => p,
        Err(response) => return response,
    };
    if app.state().shop_of(principal.account.id).is_some() {
        return Redirect::to("/seller").into_response();
    }
    let country = principal.account.country.clone().unwrap_or_default();
    onboarding_page(
        &app,
        &viewer,
        BTreeMap::from([("country".to_string(), country)]),
        None,
    )
}

#[derive(Deserialize)]
pub struct ShopForm {
    name: String,
    #[serde(default)]
    bio: String,
    category: String,
    country: String,
}

pub async fn open_shop(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ShopForm>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Seller, "/seller/onboarding") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let values: BTreeMap<String, String> = [
        ("name", &form.name),
        ("bio", &form.bio),
        ("category", &form.category),
        ("country", &form.country),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    let shop = NewShop {
        id: ShopId(uuid::Uuid::now_v7()),
        owner: Some(principal.account.id),
        name: form.name,
        bio: form.bio,
        category: form.category,
        country: form.country.trim().to_ascii_uppercase(),
    };
    match app
        .execute(principal.actor(), Command::CreateShop(shop))
        .await
    {
        Ok(_) => Redirect::to("/seller").into_response(),
        Err(e) => onboarding_page(&app, &viewer, values, Some(&e)),
    }
}
