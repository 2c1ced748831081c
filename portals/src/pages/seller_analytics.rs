//! `/seller/analytics`: the shop's own figures from the gold tables — sales, visitors, the
//! funnel, top products, device and country mix — and what is running low.

use super::charts::{
    BarList, FunnelStep, SalesChart, funnel, main_currency, mix, money, sales_chart,
};
use crate::chrome::Chrome;
use crate::session::{Portal, Viewer};
use api::AppState;
use api::routes::dashboards::{RangeQuery, seller_figures};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};

pub struct ProductRow {
    id: String,
    title: String,
    views: i64,
    cart_adds: i64,
    checkouts: i64,
    purchases: i64,
    revenue: String,
    /// Units bought per 100 views.
    conversion: String,
}

pub struct LowRow {
    id: String,
    title: String,
    stock: u32,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller_analytics.html")]
pub struct AnalyticsPage {
    chrome: Chrome,
    range: api::DayRange,
    sales: Option<SalesChart>,
    unique_visitors: i64,
    visits: i64,
    events: i64,
    funnel: Vec<FunnelStep>,
    lists: Vec<BarList>,
    products: Vec<ProductRow>,
    low_stock: Vec<LowRow>,
    threshold: u32,
    error: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<RangeQuery>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Seller, "/seller/analytics") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let state = app.state();
    let Some(shop) = state.shop_of(principal.account.id).cloned() else {
        return Redirect::to("/seller/onboarding").into_response();
    };
    let range = query
        .range()
        .unwrap_or_else(|_| api::DayRange::last(super::charts::CHART_DAYS));
    let mut page = AnalyticsPage {
        chrome: Chrome::with(&state, "seller", &viewer).in_section("analytics"),
        range,
        sales: None,
        unique_visitors: 0,
        visits: 0,
        events: 0,
        funnel: Vec::new(),
        lists: Vec::new(),
        products: Vec::new(),
        low_stock: Vec::new(),
        threshold: shop.settings.low_stock_threshold,
        error: None,
    };
    match seller_figures(&app, &shop, range).await {
        Ok(f) => {
            // Product revenue is shown in the currency the shop sells in most.
            let currency = main_currency(&f.sales).unwrap_or("USD").to_string();
            page.sales = sales_chart(&f.sales, range);
            page.unique_visitors = f.visitors.unique_visitors;
            page.visits = f.visitors.visits;
            page.events = f.visitors.events;
            page.funnel = funnel(&f.funnel);
            page.lists = vec![mix("Devices", &f.devices), mix("Countries", &f.countries)];
            page.products = f
                .products
                .iter()
                .map(|p| ProductRow {
                    id: p.product_id.clone(),
                    title: p.title.clone().unwrap_or_else(|| p.product_id.clone()),
                    views: p.views,
                    cart_adds: p.cart_adds,
                    checkouts: p.checkouts,
                    purchases: p.purchases,
                    revenue: money(p.revenue, &currency),
                    conversion: if p.views > 0 {
                        format!("{:.1}%", p.purchases as f64 * 100.0 / p.views as f64)
                    } else {
                        "—".into()
                    },
                })
                .collect();
            page.low_stock = f
                .low_stock
                .into_iter()
                .map(|p| LowRow {
                    id: p.product_id,
                    title: p.title,
                    stock: p.stock,
                })
                .collect();
        }
        Err(e) => page.error = Some(format!("The analytics tables could not be read: {e}")),
    }
    page.into_response()
}
