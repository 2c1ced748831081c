//! The seller portal: the signed-in seller's shop and its products, and opening the shop.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Empty, Portal, Viewer};
use api::{ApiError, AppState, ShopView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Command, NewShop, ProductId, ShopId};
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

/// What a form just did (`?done=…`), to say so on the page it leads back to.
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub(super) done: String,
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

pub struct CategoryOption {
    pub(super) slug: String,
    pub(super) name: String,
}

pub(super) fn category_options(state: &domain::State) -> Vec<CategoryOption> {
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
