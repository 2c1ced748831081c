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
    sold: u64,
    active: bool,
    deleted: bool,
    /// Deleted, and still inside the restore window.
    restorable: bool,
}

/// The products table's filters, sort and page (`/seller?q=&status=&sort=&page=`).
#[derive(Deserialize, Default, Clone)]
pub struct TableQuery {
    #[serde(default)]
    pub(super) done: String,
    /// How many products a bulk action changed, and how many it could not.
    #[serde(default)]
    changed: Option<usize>,
    #[serde(default)]
    refused: Option<usize>,
    #[serde(default)]
    q: String,
    /// `active`, `draft`, `deleted`, `low` (at or under the shop's low-stock threshold).
    #[serde(default)]
    status: String,
    /// `newest` (default), `title`, `price`, `stock`, `sold`.
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: Option<usize>,
}

impl TableQuery {
    /// The query string without the page, for the pager and the column links.
    fn base(&self) -> String {
        format!(
            "/seller?q={}&status={}&sort={}",
            crate::session::encode(&self.q),
            crate::session::encode(&self.status),
            crate::session::encode(&self.sort)
        )
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "seller.html")]
pub struct SellerPage {
    chrome: Chrome,
    /// The shop's last 30 days of sales.
    sales: Option<super::charts::SalesChart>,
    shop: ShopView,
    rows: Vec<ProductRow>,
    /// Products matching the filters (all pages).
    matching: usize,
    page: usize,
    pages: usize,
    table: TableQuery,
    base: String,
    total: usize,
    active: usize,
    units: u64,
    low_stock: usize,
    low_stock_threshold: u32,
    to_ship: usize,
    notice: Option<String>,
    message: Option<String>,
}

/// What a form just did (`?done=…`), to say so on the page it leads back to.
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub(super) done: String,
}

const ROWS_PER_PAGE: usize = 50;

/// `/seller`: the seller's shop and its products, drafts and deleted ones included, filtered,
/// sorted and paged. Sellers without a shop are sent to open one.
pub async fn dashboard(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(table): Query<TableQuery>,
) -> Response {
    let notice = match table.done.as_str() {
        "created" => Some("Product saved.".to_string()),
        "deleted" => Some("Product deleted. You can restore it for 24 hours.".to_string()),
        "restored" => Some("Product restored.".to_string()),
        "updated" => Some("Product updated.".to_string()),
        "bulk" => Some(
            match (table.changed.unwrap_or(0), table.refused.unwrap_or(0)) {
                (n, 0) => format!("{n} product{} changed.", if n == 1 { "" } else { "s" }),
                (n, r) => format!(
                    "{n} changed; {r} could not be (already in that state, or past the restore window)."
                ),
            },
        ),
        _ => None,
    };
    // The shop's sales from `gold.sales_daily` (nothing while the table is not there yet).
    let shop = viewer
        .principal()
        .and_then(|p| app.state().shop_of(p.account.id).map(|s| s.id));
    let chart_days = api::DayRange::last(super::charts::CHART_DAYS);
    let sales = match shop {
        Some(shop) => app
            .sales_by_day(chart_days, Some(shop))
            .await
            .ok()
            .and_then(|rows| super::charts::sales_chart(&rows, chart_days)),
        None => None,
    };
    dashboard_page(&app, &viewer, table, notice, None, sales)
}

fn dashboard_page(
    app: &AppState,
    viewer: &Viewer,
    table: TableQuery,
    notice: Option<String>,
    error: Option<&ApiError>,
    sales: Option<super::charts::SalesChart>,
) -> Response {
    let principal = match viewer.require(app, Portal::Seller, "/seller") {
        Ok(p) => p,
        Err(response) => return response,
    };
    let state = app.state();
    let Some(shop) = state.shop_of(principal.account.id) else {
        return Redirect::to("/seller/onboarding").into_response();
    };
    let now = chrono::Utc::now();
    let threshold = shop.settings.low_stock_threshold;
    let sold = |p: &domain::Product| state.units_sold.get(&p.id).copied().unwrap_or(0);
    let all: Vec<&domain::Product> = state.products_of(shop.id).collect();
    let words: Vec<String> = table.q.split_whitespace().map(str::to_lowercase).collect();
    let mut matched: Vec<&domain::Product> = all
        .iter()
        .copied()
        .filter(|p| {
            let title = p.title.to_lowercase();
            words.iter().all(|w| title.contains(w))
        })
        .filter(|p| match table.status.as_str() {
            "active" => p.is_visible(),
            "draft" => p.deleted_at.is_none() && !p.is_visible(),
            "deleted" => p.deleted_at.is_some(),
            "low" => p.deleted_at.is_none() && p.stock <= threshold,
            _ => true,
        })
        .collect();
    match table.sort.as_str() {
        "title" => matched.sort_by_key(|p| p.title.to_lowercase()),
        "price" => matched.sort_by_key(|p| p.current_price().amount),
        "stock" => matched.sort_by_key(|p| p.stock),
        "sold" => matched.sort_by_key(|p| std::cmp::Reverse(sold(p))),
        _ => {} // newest first, as the shop lists them
    }
    let pages = matched.len().div_ceil(ROWS_PER_PAGE).max(1);
    let page = table.page.unwrap_or(1).clamp(1, pages);
    let rows: Vec<ProductRow> = matched
        .iter()
        .skip((page - 1) * ROWS_PER_PAGE)
        .take(ROWS_PER_PAGE)
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
            sold: sold(p),
            active: p.is_visible(),
            deleted: p.deleted_at.is_some(),
            restorable: p.restorable(now),
        })
        .collect();
    let live: Vec<&&domain::Product> = all.iter().filter(|p| p.deleted_at.is_none()).collect();
    let page = SellerPage {
        sales,
        chrome: Chrome::with(&state, "seller", viewer),
        shop: ShopView::build(&state, shop),
        total: all.len(),
        active: all.iter().filter(|p| p.is_visible()).count(),
        units: live.iter().map(|p| u64::from(p.stock)).sum(),
        low_stock: live.iter().filter(|p| p.stock <= threshold).count(),
        low_stock_threshold: threshold,
        to_ship: state
            .orders_of_shop(shop.id)
            .filter(|o| o.cancelled.is_none() && o.status < domain::DeliveryStatus::Shipped)
            .count(),
        matching: matched.len(),
        rows,
        page,
        pages,
        base: table.base(),
        table,
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
        Err(e) => dashboard_page(app, viewer, TableQuery::default(), None, Some(&e), None),
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

#[derive(Deserialize)]
pub struct BulkForm {
    /// `activate`, `draft`, `delete` or `restore`.
    #[serde(default)]
    action: String,
}

/// One action on every ticked product (`id` fields): each goes through the command path on its
/// own, so one refusal (a product past its restore window) does not stop the rest.
pub async fn bulk(
    State(app): State<AppState>,
    viewer: Viewer,
    form: crate::session::CsrfMultipart<BulkForm>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Seller, "/seller") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let ids: Vec<ProductId> = form
        .lists
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok().map(ProductId))
        .collect();
    let command = |id: ProductId| match form.form.action.as_str() {
        "activate" | "draft" => Some(Command::UpdateProduct {
            id,
            changes: domain::ProductChanges {
                status: Some(if form.form.action == "activate" {
                    domain::ProductStatus::Active
                } else {
                    domain::ProductStatus::Draft
                }),
                ..Default::default()
            },
        }),
        "delete" => Some(Command::DeleteProduct { id }),
        "restore" => Some(Command::RestoreProduct { id }),
        _ => None,
    };
    if ids.is_empty() || command(ProductId(uuid::Uuid::nil())).is_none() {
        let error = ApiError::invalid("action", "tick at least one product and choose an action");
        return dashboard_page(
            &app,
            &viewer,
            TableQuery::default(),
            None,
            Some(&error),
            None,
        );
    }
    let answers = futures::future::join_all(
        ids.iter()
            .filter_map(|id| command(*id))
            .map(|c| app.execute(principal.actor(), c)),
    )
    .await;
    let changed = answers
        .iter()
        .filter(|a| a.as_ref().is_ok_and(|e| !e.is_empty()))
        .count();
    let refused = answers.len() - changed;
    Redirect::to(&format!(
        "/seller?done=bulk&changed={changed}&refused={refused}"
    ))
    .into_response()
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
