//! The seller portal: a shop's products.

use crate::chrome::Chrome;
use api::{AppState, ShopView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use domain::ShopId;

pub struct ProductRow {
    slug: String,
    title: String,
    category: String,
    price: String,
    stock: u32,
    active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller.html")]
pub struct SellerPage {
    chrome: Chrome,
    shops: Vec<ShopView>,
    shop: Option<ShopView>,
    rows: Vec<ProductRow>,
    active: usize,
    units: u64,
    low_stock: usize,
}

/// `/seller`: the shops to manage.
pub async fn shops(State(app): State<AppState>) -> SellerPage {
    let state = app.state();
    let mut shops: Vec<ShopView> = state
        .shops
        .values()
        .map(|s| ShopView::build(&state, s))
        .collect();
    shops.sort_by(|a, b| a.name.cmp(&b.name));
    SellerPage {
        chrome: Chrome::new(&state, "seller"),
        shops,
        shop: None,
        rows: Vec::new(),
        active: 0,
        units: 0,
        low_stock: 0,
    }
}

/// `/seller/shops/{id}`: one shop's products, drafts included.
pub async fn shop(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    let state = app.state();
    let Some(shop) = id
        .parse::<ShopId>()
        .ok()
        .and_then(|id| state.shops.get(&id))
    else {
        return super::not_found_page(&app, "seller", "There is no such shop.");
    };
    let rows: Vec<ProductRow> = state
        .products_of(shop.id)
        .map(|p| ProductRow {
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
        })
        .collect();
    SellerPage {
        chrome: Chrome::new(&state, "seller"),
        shops: Vec::new(),
        shop: Some(ShopView::build(&state, shop)),
        active: rows.iter().filter(|r| r.active).count(),
        units: rows.iter().map(|r| r.stock as u64).sum(),
        low_stock: rows.iter().filter(|r| r.stock < 5).count(),
        rows,
    }
    .into_response()
}
