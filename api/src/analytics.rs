//! Figures read from gold tables (the admin dashboard). These are analytics, so they come from the
//! lakehouse, never from the in-memory state.

use crate::app::AppState;
use crate::error::ApiError;
use lakehouse::TableName;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One product's totals from `gold.product_daily`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductDailyRow {
    pub product_id: String,
    pub views: i64,
    pub cart_adds: i64,
    pub wishlist_adds: i64,
    pub days: i64,
}

impl AppState {
    /// Every product's totals over all days in `gold.product_daily`, most viewed first. Empty
    /// before the pipeline has produced the table.
    pub async fn product_totals(&self) -> Result<Vec<ProductDailyRow>, ApiError> {
        let sql = "SELECT product_id, CAST(SUM(views) AS BIGINT) AS views, CAST(SUM(cart_adds) AS BIGINT) AS cart_adds, \
             CAST(SUM(wishlist_adds) AS BIGINT) AS wishlist_adds, COUNT(DISTINCT day) AS days \
             FROM gold.product_daily GROUP BY product_id ORDER BY views DESC, product_id";
        self.gold_rows(&["gold.product_daily"], sql).await
    }
}

/// One day of sales over every shop, in one currency, from `gold.sales_daily`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SalesDayRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub currency: String,
    pub orders: i64,
    /// What shoppers paid (minor units).
    pub revenue: i64,
    pub fees: i64,
    pub refunds: i64,
}

impl AppState {
    /// Sales per day and currency over `range` (oldest first), of every shop or of one. Empty
    /// before the pipeline has produced the table.
    pub async fn sales_by_day(
        &self,
        range: DayRange,
        shop: Option<domain::ShopId>,
    ) -> Result<Vec<SalesDayRow>, ApiError> {
        let sql = format!(
            "SELECT CAST(day AS VARCHAR) AS day, currency, CAST(SUM(orders) AS BIGINT) AS orders, \
             CAST(SUM(revenue) AS BIGINT) AS revenue, CAST(SUM(fees) AS BIGINT) AS fees, \
             CAST(SUM(refunds) AS BIGINT) AS refunds FROM gold.sales_daily \
             WHERE {}{} GROUP BY day, currency ORDER BY day, currency",
            range.sql(),
            of_shop(shop)
        );
        self.gold_rows(&["gold.sales_daily"], &sql).await
    }
}

/// Days from `from` to `to`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayRange {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// The longest range a dashboard shows.
pub const MAX_RANGE_DAYS: i64 = 366;

impl DayRange {
    /// The last `days` days, today included.
    pub fn last(days: u32) -> DayRange {
        let to = chrono::Utc::now().date_naive();
        DayRange {
            from: to - chrono::Duration::days(i64::from(days.max(1)) - 1),
            to,
        }
    }

    /// From `?from=YYYY-MM-DD&to=YYYY-MM-DD`; the last 30 days by default.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<DayRange, ApiError> {
        let date = |field: &str, text: &str| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ApiError::invalid(field, "a date such as 2026-11-27"))
        };
        let default = DayRange::last(30);
        let to = match to.filter(|t| !t.is_empty()) {
            Some(t) => date("to", t)?,
            None => default.to,
        };
        let from = match from.filter(|f| !f.is_empty()) {
            Some(f) => date("from", f)?,
            None => to - chrono::Duration::days(29),
        };
        if from > to {
            return Err(ApiError::invalid("from", "on or before `to`"));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(ApiError::invalid(
                "from",
                format!("at most {MAX_RANGE_DAYS} days before `to`"),
            ));
        }
        Ok(DayRange { from, to })
    }

    /// The SQL condition on a `day` column (dates are formatted by chrono: no quote can reach it).
    fn sql(&self) -> String {
        format!("day BETWEEN DATE '{}' AND DATE '{}'", self.from, self.to)
    }
}

/// ` AND shop_id = '…'` for one shop (a UUID: no quote can reach the SQL), or nothing.
fn of_shop(shop: Option<domain::ShopId>) -> String {
    shop.map_or(String::new(), |id| format!(" AND shop_id = '{id}'"))
}

/// A slice of a mix: a device, a country, a category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Share {
    pub name: String,
    pub events: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategorySales {
    pub category: String,
    pub currency: String,
    pub orders: i64,
    pub units: i64,
    /// Minor units, after discounts.
    pub revenue: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopSales {
    pub shop_id: String,
    pub name: Option<String>,
    pub currency: String,
    pub orders: i64,
    pub revenue: i64,
    pub fees: i64,
}

/// A product's way through the funnel: views → cart adds → units checked out → units bought.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductFunnel {
    pub product_id: String,
    pub title: Option<String>,
    pub views: i64,
    pub cart_adds: i64,
    pub checkouts: i64,
    pub purchases: i64,
    pub revenue: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FunnelTotals {
    pub views: i64,
    pub cart_adds: i64,
    pub checkouts: i64,
    pub purchases: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Visitors {
    /// Different people (sessions or accounts) over the whole range.
    pub unique_visitors: i64,
    /// Visitor-days: a person coming back another day counts again.
    pub visits: i64,
    /// Everything they did there.
    pub events: i64,
}

/// Visits (`silver.sessions`: activity until 30 minutes pass without any) that started in a range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VisitStats {
    pub visits: i64,
    /// Different people (sessions or accounts) among them.
    pub visitors: i64,
    /// Visits of one event only.
    pub bounces: i64,
    /// All visits' lengths together, first event to last.
    pub seconds: i64,
}

/// How long after a recommendation click a purchase of the product still counts as its result.
pub const ATTRIBUTION_DAYS: u32 = 7;

/// How recommendations did in a range (`gold.recommendations_daily`), and the model serving now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecommendationStats {
    /// Rows of recommendations shown ("Recommended for you", "Similar items").
    pub lists_shown: i64,
    /// Products in those rows.
    pub products_shown: i64,
    /// Recommended products opened from a row.
    pub clicks: i64,
    /// Clicks followed by a purchase of the clicked product by the same account within
    /// [`ATTRIBUTION_DAYS`] days (a click counts once however often the product is bought; a
    /// visitor who clicked before signing in is not followed).
    #[serde(default)]
    pub bought: i64,
    /// The registry run serving now, if any.
    #[serde(default)]
    pub model_run: Option<String>,
    /// Its HR@10 and NDCG@10 on its snapshot's holdout.
    #[serde(default)]
    pub hr_at_10: Option<f64>,
    #[serde(default)]
    pub ndcg_at_10: Option<f64>,
}

/// An order as the admin dashboard lists it (no personal data: silver.orders has none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecentOrder {
    pub order_id: String,
    pub shop_name: Option<String>,
    pub status: String,
    pub cancelled: bool,
    pub currency: String,
    pub total: i64,
    pub country: Option<String>,
    pub placed_at: String,
}

impl AppState {
    /// Activity per device (`by = "device"`) or country (`"country"`), most first.
    pub async fn traffic_mix(
        &self,
        by: &'static str,
        range: DayRange,
        shop: Option<domain::ShopId>,
    ) -> Result<Vec<Share>, ApiError> {
        let sql = format!(
            "SELECT {by} AS name, CAST(SUM(events) AS BIGINT) AS events FROM gold.traffic_daily \
             WHERE {}{} GROUP BY {by} ORDER BY events DESC, name LIMIT 12",
            range.sql(),
            of_shop(shop)
        );
        self.gold_rows(&["gold.traffic_daily"], &sql).await
    }

    /// Sales per category, best first.
    pub async fn category_sales(&self, range: DayRange) -> Result<Vec<CategorySales>, ApiError> {
        let sql = format!(
            "SELECT category, currency, CAST(SUM(orders) AS BIGINT) AS orders, CAST(SUM(units) AS BIGINT) AS units, \
             CAST(SUM(revenue) AS BIGINT) AS revenue FROM gold.category_sales_daily WHERE {} \
             GROUP BY category, currency ORDER BY revenue DESC, category LIMIT 20",
            range.sql()
        );
        self.gold_rows(&["gold.category_sales_daily"], &sql).await
    }

    /// Sales per shop, best first, with the shop's name.
    pub async fn shop_sales(&self, range: DayRange) -> Result<Vec<ShopSales>, ApiError> {
        let sql = format!(
            "SELECT s.shop_id, shops.name, s.currency, CAST(SUM(s.orders) AS BIGINT) AS orders, \
             CAST(SUM(s.revenue) AS BIGINT) AS revenue, CAST(SUM(s.fees) AS BIGINT) AS fees \
             FROM gold.sales_daily AS s LEFT JOIN silver.shops AS shops ON shops.shop_id = s.shop_id \
             WHERE s.{} GROUP BY s.shop_id, shops.name, s.currency ORDER BY revenue DESC, s.shop_id LIMIT 10",
            range.sql()
        );
        self.gold_rows(&["gold.sales_daily", "silver.shops"], &sql)
            .await
    }

    /// Products by what they sold (then by views), with their funnels.
    pub async fn product_funnels(
        &self,
        range: DayRange,
        shop: Option<domain::ShopId>,
        limit: usize,
    ) -> Result<Vec<ProductFunnel>, ApiError> {
        let sql = format!(
            "SELECT f.product_id, p.title, CAST(SUM(f.views) AS BIGINT) AS views, CAST(SUM(f.cart_adds) AS BIGINT) AS cart_adds, \
             CAST(SUM(f.checkouts) AS BIGINT) AS checkouts, CAST(SUM(f.purchases) AS BIGINT) AS purchases, \
             CAST(SUM(f.revenue) AS BIGINT) AS revenue \
             FROM gold.funnel_daily AS f LEFT JOIN silver.products AS p ON p.product_id = f.product_id \
             WHERE f.{}{} GROUP BY f.product_id, p.title ORDER BY purchases DESC, views DESC, f.product_id LIMIT {limit}",
            range.sql(),
            of_shop(shop).replace("shop_id", "f.shop_id")
        );
        self.gold_rows(&["gold.funnel_daily", "silver.products"], &sql)
            .await
    }

    /// The funnel over all products (of one shop, or everywhere).
    pub async fn funnel_totals(
        &self,
        range: DayRange,
        shop: Option<domain::ShopId>,
    ) -> Result<FunnelTotals, ApiError> {
        let sql = format!(
            "SELECT CAST(coalesce(SUM(views), 0) AS BIGINT) AS views, CAST(coalesce(SUM(cart_adds), 0) AS BIGINT) AS cart_adds, \
             CAST(coalesce(SUM(checkouts), 0) AS BIGINT) AS checkouts, CAST(coalesce(SUM(purchases), 0) AS BIGINT) AS purchases \
             FROM gold.funnel_daily WHERE {}{}",
            range.sql(),
            of_shop(shop)
        );
        let rows: Vec<FunnelTotals> = self.gold_rows(&["gold.funnel_daily"], &sql).await?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    /// A shop's visitors over the range.
    pub async fn visitors(
        &self,
        range: DayRange,
        shop: domain::ShopId,
    ) -> Result<Visitors, ApiError> {
        let sql = format!(
            "SELECT COUNT(DISTINCT visitor_id) AS unique_visitors, COUNT(*) AS visits, \
             CAST(coalesce(SUM(events), 0) AS BIGINT) AS events FROM silver.shop_visitors WHERE {}{}",
            range.sql(),
            of_shop(Some(shop))
        );
        let rows: Vec<Visitors> = self.gold_rows(&["silver.shop_visitors"], &sql).await?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    /// Visits that started in the range, everywhere.
    pub async fn visit_stats(&self, range: DayRange) -> Result<VisitStats, ApiError> {
        let sql = format!(
            "SELECT COUNT(*) AS visits, COUNT(DISTINCT visitor_id) AS visitors, \
             CAST(coalesce(SUM(CASE WHEN events = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS bounces, \
             CAST(coalesce(SUM(date_part('epoch', ended_at) - date_part('epoch', started_at)), 0) AS BIGINT) AS seconds \
             FROM (SELECT *, CAST(started_at AS DATE) AS day FROM silver.sessions) AS visits WHERE {}",
            range.sql()
        );
        let rows: Vec<VisitStats> = self.gold_rows(&["silver.sessions"], &sql).await?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    /// Recommendations shown, clicked and bought in the range (by the day of the click), with the
    /// serving model. "Bought" joins the clicks with later purchases when asked rather than in a
    /// pipeline: clicks and orders come from two topics whose pipelines run apart, and a pipeline
    /// that met an order before its click had reached `silver.activity` would lose it for good.
    pub async fn recommendation_stats(
        &self,
        range: DayRange,
    ) -> Result<RecommendationStats, ApiError> {
        let sql = format!(
            "SELECT CAST(coalesce(SUM(lists_shown), 0) AS BIGINT) AS lists_shown, \
             CAST(coalesce(SUM(products_shown), 0) AS BIGINT) AS products_shown, \
             CAST(coalesce(SUM(clicks), 0) AS BIGINT) AS clicks \
             FROM gold.recommendations_daily WHERE {}",
            range.sql()
        );
        let rows: Vec<RecommendationStats> = self
            .gold_rows(&["gold.recommendations_daily"], &sql)
            .await?;
        let mut stats = rows.into_iter().next().unwrap_or_default();
        let sql = format!(
            "SELECT CAST(COUNT(DISTINCT click.event_id) AS BIGINT) AS bought \
             FROM silver.activity AS click JOIN silver.interactions AS purchase \
               ON purchase.user_id = click.visitor_id AND purchase.product_id = click.product_id \
              AND purchase.action = 'purchase' AND purchase.at >= click.at \
              AND purchase.at < click.at + INTERVAL '{ATTRIBUTION_DAYS} days' \
             WHERE click.kind = 'recommendation_click' AND click.{}",
            range.sql()
        );
        #[derive(Deserialize)]
        struct Bought {
            bought: i64,
        }
        let bought: Vec<Bought> = self
            .gold_rows(&["silver.activity", "silver.interactions"], &sql)
            .await?;
        stats.bought = bought.first().map_or(0, |b| b.bought);
        if let Some(serving) = self.recommender.serving() {
            stats.model_run = Some(serving.run.run_id.clone());
            stats.hr_at_10 = Some(serving.run.metrics.hr_at_10);
            stats.ndcg_at_10 = Some(serving.run.metrics.ndcg_at_10);
        }
        Ok(stats)
    }

    /// The newest orders, as the lake has them.
    pub async fn recent_orders(&self, limit: usize) -> Result<Vec<RecentOrder>, ApiError> {
        let sql = format!(
            "SELECT order_id, shop_name, status, cancelled, currency, total, country, \
             CAST(placed_at AS VARCHAR) AS placed_at FROM silver.orders ORDER BY placed_at DESC, order_id LIMIT {limit}"
        );
        self.gold_rows(&["silver.orders"], &sql).await
    }
}

impl AppState {
    /// The rows `sql` answers as `T`s, reading the lake tables `tables` (e.g. `gold.sales_daily`);
    /// none while one of them does not exist yet. Answers are cached by the versions of the
    /// tables they read, so a dashboard asks the lake again only when a pipeline has committed.
    pub(crate) async fn gold_rows<T: serde::de::DeserializeOwned>(
        &self,
        tables: &[&str],
        sql: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut opened = Vec::with_capacity(tables.len());
        let mut versions = Vec::with_capacity(tables.len());
        for table in tables {
            let name: TableName = table.parse().expect("a valid table name");
            match self.lake.open_table(&name).await.map_err(internal)? {
                Some(delta) => {
                    versions.push(delta.version());
                    opened.push((name, delta));
                }
                None => return Ok(Vec::new()),
            }
        }
        let cached = self
            .gold_cache
            .lock()
            .expect("gold cache lock")
            .get(sql)
            .filter(|(at, _)| *at == versions)
            .map(|(_, rows)| rows.clone());
        let rows = match cached {
            Some(rows) => rows,
            None => {
                let ctx = self.lake.session_with(opened).await.map_err(internal)?;
                let batches = lakehouse::query(&ctx, sql).await.map_err(internal)?;
                let rows = lakehouse::json_rows(&batches).map_err(internal)?;
                let rows = std::sync::Arc::new(serde_json::Value::Array(rows));
                let mut cache = self.gold_cache.lock().expect("gold cache lock");
                if cache.len() >= GOLD_CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(sql.to_string(), (versions, rows.clone()));
                rows
            }
        };
        Vec::<T>::deserialize(&*rows).map_err(|e| ApiError::Internal(e.to_string()))
    }
}

/// Dashboard answers kept (by SQL text) before the cache starts over.
const GOLD_CACHE_ENTRIES: usize = 256;

/// Cached dashboard answers: SQL → (the versions of the tables it read, its rows).
pub(crate) type GoldCache = std::sync::Mutex<
    std::collections::HashMap<String, (Vec<Option<u64>>, std::sync::Arc<serde_json::Value>)>,
>;

fn internal(e: lakehouse::Error) -> ApiError {
    e.into()
}
