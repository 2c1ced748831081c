//! The admin portal: figures from the gold tables and the state of the dataflow.

use crate::chrome::Chrome;
use crate::session::{Portal, Viewer};
use api::{AppState, WorkerState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::ProductId;

pub struct Totals {
    views: i64,
    cart_adds: i64,
    wishlist_adds: i64,
    conversion: String,
}

pub struct TopRow {
    title: String,
    slug: Option<String>,
    shop: String,
    views: i64,
    cart_adds: i64,
    wishlist_adds: i64,
    /// Views as a percent of the most viewed product's, 0–100 (the bar's length).
    share: i64,
}

pub struct WorkerRow {
    name: String,
    state: String,
    ok: bool,
    detail: String,
}

/// One bar of the sales chart (SVG coordinates in a 720 × 200 box).
pub struct Bar {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    /// "Nov 27: $1,234.56 from 8 orders", for the tooltip and screen readers.
    label: String,
}

/// The last 30 days of sales in the main currency, drawn on the server.
pub struct SalesChart {
    bars: Vec<Bar>,
    revenue: String,
    fees: String,
    orders: i64,
    refunds: String,
    /// The tallest bar's value, for the axis.
    top: String,
    currency: String,
    first_day: String,
    last_day: String,
}

const CHART_DAYS: u32 = 30;

fn sales_chart(rows: &[api::SalesDayRow]) -> Option<SalesChart> {
    // The currency that sold the most leads the chart; other currencies are not added to it.
    let mut by_currency: std::collections::BTreeMap<&str, i64> = Default::default();
    for r in rows {
        *by_currency.entry(r.currency.as_str()).or_default() += r.revenue;
    }
    let (&code, _) = by_currency.iter().max_by_key(|(_, revenue)| **revenue)?;
    let currency = domain::Currency::parse(code).ok()?;
    let money = |amount: i64| domain::Money::new(amount, currency).display();
    let today = chrono::Utc::now().date_naive();
    let days: Vec<chrono::NaiveDate> = (0..CHART_DAYS)
        .rev()
        .map(|back| today - chrono::Duration::days(i64::from(back)))
        .collect();
    let of_day = |day: &chrono::NaiveDate| {
        rows.iter()
            .find(|r| r.currency == code && r.day == day.to_string())
    };
    let top = days
        .iter()
        .filter_map(|d| of_day(d).map(|r| r.revenue))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = 720.0 / days.len() as f64;
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let (revenue, orders) = of_day(day).map_or((0, 0), |r| (r.revenue, r.orders));
            let height = 180.0 * revenue as f64 / top as f64;
            Bar {
                x: i as f64 * slot + slot * 0.15,
                y: 190.0 - height,
                width: slot * 0.7,
                height,
                label: format!(
                    "{}: {} from {orders} order{}",
                    day.format("%b %d"),
                    money(revenue),
                    if orders == 1 { "" } else { "s" }
                ),
            }
        })
        .collect();
    let sum = |f: fn(&api::SalesDayRow) -> i64| {
        rows.iter()
            .filter(|r| r.currency == code)
            .map(f)
            .sum::<i64>()
    };
    Some(SalesChart {
        bars,
        revenue: money(sum(|r| r.revenue)),
        fees: money(sum(|r| r.fees)),
        orders: sum(|r| r.orders),
        refunds: money(sum(|r| r.refunds)),
        top: money(top),
        currency: code.to_string(),
        first_day: days
            .first()
            .map(|d| d.format("%b %d").to_string())
            .unwrap_or_default(),
        last_day: days
            .last()
            .map(|d| d.format("%b %d").to_string())
            .unwrap_or_default(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
pub struct AdminPage {
    chrome: Chrome,
    sales: Option<SalesChart>,
    totals: Totals,
    rows: Vec<TopRow>,
    workers: Vec<WorkerRow>,
    error: Option<String>,
}

/// `/admin`: activity totals and the most viewed products from `gold.product_daily`.
pub async fn dashboard(State(app): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(&app, Portal::Admin, "/admin") {
        return refused;
    }
    let state = app.state();
    let (all, error) = match app.product_totals().await {
        Ok(rows) => (rows, None),
        Err(e) => (
            Vec::new(),
            Some(format!("The analytics tables could not be read: {e}")),
        ),
    };
    let views: i64 = all.iter().map(|r| r.views).sum();
    let cart_adds: i64 = all.iter().map(|r| r.cart_adds).sum();
    let totals = Totals {
        views,
        cart_adds,
        wishlist_adds: all.iter().map(|r| r.wishlist_adds).sum(),
        conversion: if views > 0 {
            format!("{:.1}%", cart_adds as f64 * 100.0 / views as f64)
        } else {
            "—".into()
        },
    };
    // Totals cover every product; the table shows the 20 most viewed.
    let top_views = all.first().map_or(0, |r| r.views);
    let rows = all
        .into_iter()
        .take(20)
        .map(|r| {
            let product = r
                .product_id
                .parse::<ProductId>()
                .ok()
                .and_then(|id| state.products.get(&id));
            TopRow {
                title: product
                    .map(|p| p.title.clone())
                    .unwrap_or_else(|| format!("product {}", r.product_id)),
                slug: product.filter(|p| p.is_visible()).map(|p| p.slug.clone()),
                shop: product
                    .and_then(|p| state.shops.get(&p.shop_id))
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                share: if top_views > 0 {
                    r.views * 100 / top_views
                } else {
                    0
                },
                views: r.views,
                cart_adds: r.cart_adds,
                wishlist_adds: r.wishlist_adds,
            }
        })
        .collect();
    let statuses = app.pipelines.status().borrow().clone();
    let progress = app.sink.progress().borrow().clone();
    let workers = app
        .health
        .snapshot()
        .into_iter()
        .map(|(name, worker)| {
            let (state, ok, mut detail) = match worker {
                WorkerState::Running => ("running".to_string(), true, String::new()),
                WorkerState::Starting => ("starting".to_string(), true, String::new()),
                WorkerState::Stopped => ("stopped".to_string(), false, String::new()),
                WorkerState::Failed { error } => ("failed".to_string(), false, error),
            };
            if name == "lake_sink" && detail.is_empty() {
                let behind: u64 = progress
                    .iter()
                    .map(|(at, p)| app.log.end_offset(*at).saturating_sub(p.next))
                    .sum();
                let rows: u64 = progress.values().map(|p| p.rows).sum();
                detail =
                    format!("{rows} rows written since start · {behind} records behind the log");
            }
            if name == "lake_upkeep" && detail.is_empty() {
                let upkeep = app.upkeep.borrow();
                detail = match (&upkeep.last_error, upkeep.rounds) {
                    (Some(e), _) => format!("last round: {e}"),
                    (None, 0) => "first round in a few minutes".into(),
                    (None, rounds) => format!(
                        "{rounds} rounds · {} small files compacted · {} files vacuumed",
                        upkeep.files_compacted, upkeep.files_vacuumed
                    ),
                };
            }
            if name == "pipelines" && detail.is_empty() {
                detail = statuses
                    .iter()
                    .map(|(pipeline, s)| match (&s.last_error, &s.last) {
                        (Some(e), _) => format!("{pipeline}: failing ({e})"),
                        (None, Some(r)) => format!(
                            "{pipeline}: {} runs, read up to {}",
                            s.runs,
                            watermarks(&r.watermarks)
                        ),
                        (None, None) => format!("{pipeline}: not run yet"),
                    })
                    .collect::<Vec<_>>()
                    .join(" · ");
            }
            WorkerRow {
                name: name.replace('_', " "),
                state,
                ok,
                detail,
            }
        })
        .collect();
    let (sales, error) = match app.sales_by_day(CHART_DAYS).await {
        Ok(rows) => (sales_chart(&rows), error),
        Err(e) => (
            None,
            error.or(Some(format!("The sales table could not be read: {e}"))),
        ),
    };
    AdminPage {
        chrome: Chrome::with(&state, "admin", &viewer).in_section("dashboard"),
        sales,
        totals,
        rows,
        workers,
        error,
    }
    .into_response()
}

/// `offset 41` for one source partition, `partition 0 @ 41 · partition 1 @ 17` for several.
fn watermarks(watermarks: &std::collections::BTreeMap<i32, i64>) -> String {
    match watermarks.len() {
        0 => "—".into(),
        1 => watermarks.values().map(|o| format!("offset {o}")).collect(),
        _ => watermarks
            .iter()
            .map(|(p, o)| format!("partition {p} @ {o}"))
            .collect::<Vec<_>>()
            .join(" · "),
    }
}
