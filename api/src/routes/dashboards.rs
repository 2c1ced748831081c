//! `GET /api/admin/dashboard` and `GET /api/seller/analytics`: the dashboards' figures, from the
//! gold tables (cached by their versions), over a range of days.

use crate::analytics::{
    CategorySales, DayRange, FunnelTotals, ProductFunnel, RecentOrder, RecommendationStats,
    SalesDayRow, Share, ShopSales, VisitStats, Visitors,
};
use crate::app::AppState;
use crate::auth::{Admin, CurrentSeller};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, included (default: today).
    pub to: Option<String>,
}

impl RangeQuery {
    pub fn range(&self) -> Result<DayRange, ApiError> {
        DayRange::parse(self.from.as_deref(), self.to.as_deref())
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdminDashboard {
    pub range: DayRange,
    /// Per day and currency (minor units).
    pub sales: Vec<SalesDayRow>,
    pub devices: Vec<Share>,
    pub countries: Vec<Share>,
    pub categories: Vec<CategorySales>,
    pub shops: Vec<ShopSales>,
    pub products: Vec<ProductFunnel>,
    pub funnel: FunnelTotals,
    pub visits: VisitStats,
    pub recommendations: RecommendationStats,
    /// The ten newest orders (no personal data).
    pub recent_orders: Vec<RecentOrder>,
}

/// The platform over a range of days: sales, device and country mix, top categories, shops and
/// products, the funnel and the newest orders.
#[utoipa::path(get, path = "/api/admin/dashboard", tag = "analytics", params(RangeQuery),
    responses((status = 200, body = AdminDashboard), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn admin_dashboard(
    State(app): State<AppState>,
    Admin(_): Admin,
    Query(query): Query<RangeQuery>,
) -> Result<Json<AdminDashboard>, ApiError> {
    Ok(Json(admin_figures(&app, query.range()?).await?))
}

/// Everything the admin dashboard shows.
pub async fn admin_figures(app: &AppState, range: DayRange) -> Result<AdminDashboard, ApiError> {
    Ok(AdminDashboard {
        range,
        sales: app.sales_by_day(range, None).await?,
        devices: app.traffic_mix("device", range, None).await?,
        countries: app.traffic_mix("country", range, None).await?,
        categories: app.category_sales(range).await?,
        shops: app.shop_sales(range).await?,
        products: app.product_funnels(range, None, 10).await?,
        funnel: app.funnel_totals(range, None).await?,
        visits: app.visit_stats(range).await?,
        recommendations: app.recommendation_stats(range).await?,
        recent_orders: app.recent_orders(10).await?,
    })
}

#[derive(Serialize, ToSchema)]
pub struct LowStock {
    pub product_id: String,
    pub title: String,
    pub stock: u32,
}

#[derive(Serialize, ToSchema)]
pub struct SellerAnalytics {
    pub range: DayRange,
    pub sales: Vec<SalesDayRow>,
    pub visitors: Visitors,
    pub funnel: FunnelTotals,
    pub products: Vec<ProductFunnel>,
    pub devices: Vec<Share>,
    pub countries: Vec<Share>,
    /// On sale with the shop's low-stock threshold or fewer units left (as of now).
    pub low_stock: Vec<LowStock>,
    pub low_stock_threshold: u32,
}

/// The seller's own shop over a range of days: sales, visitors and unique visitors, the funnel,
/// top products, device and country mix, and what is running low.
#[utoipa::path(get, path = "/api/seller/analytics", tag = "seller", params(RangeQuery),
    responses((status = 200, body = SellerAnalytics), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn seller_analytics(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Query(query): Query<RangeQuery>,
) -> Result<Json<SellerAnalytics>, ApiError> {
    let shop = seller
        .shop
        .ok_or_else(|| ApiError::NotFound("open your shop first".into()))?;
    let range = query.range()?;
    Ok(Json(seller_figures(&app, &shop, range).await?))
}

/// Everything the seller's analytics show.
pub async fn seller_figures(
    app: &AppState,
    shop: &domain::Shop,
    range: DayRange,
) -> Result<SellerAnalytics, ApiError> {
    let id = Some(shop.id);
    let state = app.state();
    let threshold = shop.settings.low_stock_threshold;
    let mut low_stock: Vec<LowStock> = state
        .products_of(shop.id)
        .filter(|p| p.is_visible() && p.stock <= threshold)
        .map(|p| LowStock {
            product_id: p.id.to_string(),
            title: p.title.clone(),
            stock: p.stock,
        })
        .collect();
    low_stock.sort_by_key(|p| p.stock);
    Ok(SellerAnalytics {
        range,
        sales: app.sales_by_day(range, id).await?,
        visitors: app.visitors(range, shop.id).await?,
        funnel: app.funnel_totals(range, id).await?,
        products: app.product_funnels(range, id, 10).await?,
        devices: app.traffic_mix("device", range, id).await?,
        countries: app.traffic_mix("country", range, id).await?,
        low_stock,
        low_stock_threshold: threshold,
    })
}
