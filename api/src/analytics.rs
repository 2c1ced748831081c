//! Figures read from gold tables (the admin dashboard). These are analytics, so they come from the
//! lakehouse, never from the in-memory state.

use crate::app::AppState;
use crate::error::ApiError;
use lakehouse::{OutputFormat, TableName};
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
        self.gold_rows("product_daily", sql).await
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
    /// Sales per day and currency over the last `days` days (oldest first), of every shop or of
    /// one. Empty before the pipeline has produced the table.
    pub async fn sales_by_day(
        &self,
        days: u32,
        shop: Option<domain::ShopId>,
    ) -> Result<Vec<SalesDayRow>, ApiError> {
        let since = (chrono::Utc::now() - chrono::Duration::days(i64::from(days))).date_naive();
        // A shop id is a UUID (no quote can reach the SQL).
        let of_shop = shop.map_or(String::new(), |id| format!(" AND shop_id = '{id}'"));
        let sql = format!(
            "SELECT CAST(day AS VARCHAR) AS day, currency, CAST(SUM(orders) AS BIGINT) AS orders, \
             CAST(SUM(revenue) AS BIGINT) AS revenue, CAST(SUM(fees) AS BIGINT) AS fees, \
             CAST(SUM(refunds) AS BIGINT) AS refunds FROM gold.sales_daily \
             WHERE day > DATE '{since}'{of_shop} GROUP BY day, currency ORDER BY day, currency"
        );
        self.gold_rows("sales_daily", &sql).await
    }
}

impl AppState {
    /// The rows `sql` answers from the gold table `table` reads, as `T`s; none before the
    /// pipeline has produced the table.
    async fn gold_rows<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        sql: &str,
    ) -> Result<Vec<T>, ApiError> {
        let name = TableName::gold(table).expect("valid table name");
        if self
            .lake
            .open_table(&name)
            .await
            .map_err(internal)?
            .is_none()
        {
            return Ok(Vec::new());
        }
        let ctx = self.lake.session().await.map_err(internal)?;
        let batches = lakehouse::query(&ctx, sql).await.map_err(internal)?;
        let json = lakehouse::format_batches(&batches, OutputFormat::Json).map_err(internal)?;
        serde_json::from_str(&json).map_err(|e| ApiError::Internal(e.to_string()))
    }
}

fn internal(e: lakehouse::Error) -> ApiError {
    ApiError::Internal(e.to_string())
}
