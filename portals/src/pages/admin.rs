//! The admin portal: figures from the gold tables and the state of the dataflow.

use crate::chrome::Chrome;
use crate::session::{Portal, Viewer};
use api::routes::dashboards::{RangeQuery, admin_figures};
use api::{AppState, WorkerState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
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

/// The visit tiles: visits, visitors, the average visit's length and the bounce rate.
pub struct VisitTiles {
    visits: i64,
    visitors: i64,
    average: String,
    bounce_rate: String,
}

impl VisitTiles {
    fn from(stats: &api::VisitStats) -> VisitTiles {
        let (average, bounce_rate) = match stats.visits {
            0 => ("—".to_string(), "—".to_string()),
            n => {
                let seconds = stats.seconds / n;
                (
                    format!("{}:{:02}", seconds / 60, seconds % 60),
                    format!("{}%", (stats.bounces * 100 + n / 2) / n),
                )
            }
        };
        VisitTiles {
            visits: stats.visits,
            visitors: stats.visitors,
            average,
            bounce_rate,
        }
    }
}

/// The recommendation tiles: products shown, clicks, click-through, bought after a click and the
/// serving model.
pub struct RecommendationTiles {
    shown: i64,
    clicks: i64,
    click_through: String,
    bought: i64,
    conversion: String,
    attribution_days: u32,
    model: String,
    quality: String,
}

impl RecommendationTiles {
    fn from(stats: &api::RecommendationStats) -> RecommendationTiles {
        RecommendationTiles {
            shown: stats.products_shown,
            clicks: stats.clicks,
            click_through: match stats.products_shown {
                0 => "—".to_string(),
                n => format!("{:.1}%", stats.clicks as f64 * 100.0 / n as f64),
            },
            bought: stats.bought,
            attribution_days: api::ATTRIBUTION_DAYS,
            conversion: match stats.clicks {
                0 => "—".to_string(),
                n => format!("{:.1}% of clicks", stats.bought as f64 * 100.0 / n as f64),
            },
            model: stats
                .model_run
                .clone()
                .unwrap_or_else(|| "none yet: trending".to_string()),
            quality: match (stats.hr_at_10, stats.ndcg_at_10) {
                (Some(hr), Some(ndcg)) => format!("HR@10 {hr:.3} · NDCG@10 {ndcg:.3}"),
                _ => "—".to_string(),
            },
        }
    }
}

pub struct WorkerRow {
    name: String,
    state: String,
    ok: bool,
    detail: String,
}

/// An order of the "newest orders" table.
pub struct RecentRow {
    number: String,
    shop: String,
    status: String,
    cancelled: bool,
    total: String,
    country: String,
    placed_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin.html")]
pub struct AdminPage {
    chrome: Chrome,
    range: api::DayRange,
    sales: Option<super::charts::SalesChart>,
    funnel: Vec<super::charts::FunnelStep>,
    lists: Vec<super::charts::BarList>,
    recent: Vec<RecentRow>,
    visits: Option<VisitTiles>,
    recommendations: Option<RecommendationTiles>,
    world: Option<super::charts::WorldMap>,
    totals: Totals,
    rows: Vec<TopRow>,
    workers: Vec<WorkerRow>,
    error: Option<String>,
}

/// `/admin`: activity totals and the most viewed products from `gold.product_daily`.
pub async fn dashboard(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<RangeQuery>,
) -> Response {
    if let Err(refused) = viewer.require(&app, Portal::Admin, "/admin") {
        return refused;
    }
    let range = query
        .range()
        .unwrap_or_else(|_| api::DayRange::last(super::charts::CHART_DAYS));
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
    use super::charts::{bar_list, funnel, mix, money, sales_chart, world_map};
    let (figures, error) = match admin_figures(&app, range).await {
        Ok(figures) => (Some(figures), error),
        Err(e) => (
            None,
            error.or(Some(format!("The analytics tables could not be read: {e}"))),
        ),
    };
    let mut lists = Vec::new();
    let mut recent = Vec::new();
    let (mut sales, mut steps) = (None, Vec::new());
    let visits = figures.as_ref().map(|f| VisitTiles::from(&f.visits));
    let recommendations = figures
        .as_ref()
        .map(|f| RecommendationTiles::from(&f.recommendations));
    let world = figures.as_ref().map(|f| world_map(&f.countries));
    if let Some(f) = &figures {
        sales = sales_chart(&f.sales, range);
        steps = funnel(&f.funnel);
        lists.push(mix("Devices", &f.devices));
        lists.push(mix("Countries", &f.countries));
        lists.push(bar_list(
            "Top categories",
            f.categories
                .iter()
                .map(|c| {
                    let name = state
                        .site
                        .categories
                        .iter()
                        .find(|cat| cat.slug == c.category)
                        .map_or_else(|| c.category.clone(), |cat| cat.name.clone());
                    (name, c.revenue, money(c.revenue, &c.currency))
                })
                .collect(),
        ));
        lists.push(bar_list(
            "Top shops",
            f.shops
                .iter()
                .map(|s| {
                    // The lake's name, or the shop's as it is now when the lake has none yet.
                    let name = s.name.clone().unwrap_or_else(|| {
                        s.shop_id
                            .parse::<domain::ShopId>()
                            .ok()
                            .and_then(|id| state.shops.get(&id))
                            .map_or_else(|| s.shop_id.clone(), |shop| shop.name.clone())
                    });
                    (name, s.revenue, money(s.revenue, &s.currency))
                })
                .collect(),
        ));
        lists.push(bar_list(
            "Top products",
            f.products
                .iter()
                .map(|p| {
                    let title = p.title.clone().unwrap_or_else(|| p.product_id.clone());
                    (title, p.purchases, format!("{} sold", p.purchases))
                })
                .collect(),
        ));
        recent = f
            .recent_orders
            .iter()
            .map(|o| RecentRow {
                number: o
                    .order_id
                    .parse::<domain::OrderId>()
                    .map_or_else(|_| o.order_id.clone(), |id| id.number()),
                shop: o.shop_name.clone().unwrap_or_default(),
                status: o.status.replace('_', " "),
                cancelled: o.cancelled,
                total: money(o.total, &o.currency),
                country: o.country.clone().unwrap_or_default(),
                placed_at: o
                    .placed_at
                    .get(..16)
                    .unwrap_or(&o.placed_at)
                    .replace('T', " "),
            })
            .collect();
    }
    AdminPage {
        chrome: Chrome::with(&state, "admin", &viewer).in_section("dashboard"),
        range,
        sales,
        funnel: steps,
        lists,
        recent,
        visits,
        recommendations,
        world,
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
