//! SQL pipelines: one SQL file per pipeline under `pipelines/sql/`, run incrementally into
//! silver and gold Delta tables.
//!
//! A pipeline file starts with a header of `-- key: value` lines:
//!
//! ```text
//! -- target: gold.product_daily          the table it writes
//! -- mode: merge                         append | merge | overwrite
//! -- keys: product_id, day               merge keys
//! -- add: views, cart_adds               merge: columns added to the stored value (others replace it)
//! -- source: bronze.activity             the table whose new rows drive it (needs `partition`
//!                                        and `offset` columns)
//! -- trigger: every 2s                   how often `serve` runs it
//! -- publish: notifications              optional: also hand each run's rows to this topic
//! -- columns: id string, n bigint         the target's columns, for a pipeline whose SQL reads its
//!                                        own target (to carry on from earlier runs): the runner
//!                                        creates it empty so the first run has a table to read
//! ```
//!
//! [`Runner::run_once`] reads the pipeline's watermarks (per source partition, the last offset it
//! processed, kept as Delta application transactions in the target's commits), runs the SQL over
//! only the source rows after them, and commits the result together with the new watermarks. A run that dies before
//! its commit leaves nothing behind, so re-running never counts twice. An event that reached the
//! log twice (the same `id`, a producer's retry, within 10,000 records of its first copy) counts
//! once. A publishing pipeline hands its rows
//! to a [`Publisher`] before it commits; a rerun hands them over again, and the receiver drops
//! repeats by id.
//!
//! Each pipeline is tested as data: `pipelines/cases/<pipeline>.json` feeds events in steps —
//! repeats, late events, restarts and a run that dies before its commit among them — and states
//! the target's rows after each step.

#[cfg(test)]
mod cases;
mod error;
mod runner;
mod spec;

pub use error::{Error, Result};
pub use runner::{LAGS_KEPT, PipelineStatus, Publisher, RunReport, Runner};
pub use spec::{Mode, PipelineSpec};

/// The pipelines compiled into this binary, in the order they run.
pub fn builtin() -> Vec<PipelineSpec> {
    const FILES: [(&str, &str); 21] = [
        (
            "silver_activity",
            include_str!("../sql/silver_activity.sql"),
        ),
        ("silver_shops", include_str!("../sql/silver_shops.sql")),
        (
            "silver_shop_settings",
            include_str!("../sql/silver_shop_settings.sql"),
        ),
        (
            "silver_products",
            include_str!("../sql/silver_products.sql"),
        ),
        (
            "silver_accounts",
            include_str!("../sql/silver_accounts.sql"),
        ),
        (
            "gold_product_daily",
            include_str!("../sql/gold_product_daily.sql"),
        ),
        ("silver_orders", include_str!("../sql/silver_orders.sql")),
        (
            "silver_order_items",
            include_str!("../sql/silver_order_items.sql"),
        ),
        (
            "gold_sales_daily",
            include_str!("../sql/gold_sales_daily.sql"),
        ),
        (
            "gold_category_sales_daily",
            include_str!("../sql/gold_category_sales_daily.sql"),
        ),
        (
            "gold_traffic_daily",
            include_str!("../sql/gold_traffic_daily.sql"),
        ),
        (
            "silver_shop_visitors",
            include_str!("../sql/silver_shop_visitors.sql"),
        ),
        (
            "silver_sessions",
            include_str!("../sql/silver_sessions.sql"),
        ),
        (
            "gold_funnel_activity",
            include_str!("../sql/gold_funnel_activity.sql"),
        ),
        (
            "gold_funnel_orders",
            include_str!("../sql/gold_funnel_orders.sql"),
        ),
        (
            "silver_interactions_activity",
            include_str!("../sql/silver_interactions_activity.sql"),
        ),
        (
            "silver_interactions_orders",
            include_str!("../sql/silver_interactions_orders.sql"),
        ),
        (
            "gold_notifications",
            include_str!("../sql/gold_notifications.sql"),
        ),
        ("gold_trending", include_str!("../sql/gold_trending.sql")),
        (
            "gold_recommendations_daily",
            include_str!("../sql/gold_recommendations_daily.sql"),
        ),
        (
            "silver_chat_messages",
            include_str!("../sql/silver_chat_messages.sql"),
        ),
    ];
    FILES
        .iter()
        .map(|(name, sql)| {
            PipelineSpec::parse(name, sql).expect("built-in pipelines have valid headers (tested)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_pipelines_parse() {
        let targets: Vec<String> = super::builtin()
            .iter()
            .map(|p| p.target.to_string())
            .collect();
        assert_eq!(
            targets,
            [
                "silver.activity",
                "silver.shops",
                "silver.shop_settings",
                "silver.products",
                "silver.accounts",
                "gold.product_daily",
                "silver.orders",
                "silver.order_items",
                "gold.sales_daily",
                "gold.category_sales_daily",
                "gold.traffic_daily",
                "silver.shop_visitors",
                "silver.sessions",
                "gold.funnel_daily",
                "gold.funnel_daily",
                "silver.interactions",
                "silver.interactions",
                "gold.notifications",
                "gold.trending",
                "gold.recommendations_daily",
                "silver.chat_messages"
            ]
        );
    }
}
