//! Charts drawn on the server as SVG (no chart library, nothing to load): the dashboards' sales
//! per day, from `gold.sales_daily`.

/// One bar of the sales chart (SVG coordinates in a 720 × 200 box).
pub struct Bar {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) width: f64,
    pub(crate) height: f64,
    /// "Nov 27: $1,234.56 from 8 orders", for the tooltip and screen readers.
    pub(crate) label: String,
}

/// The last 30 days of sales in the main currency, drawn on the server (`sales_chart.html`).
pub struct SalesChart {
    pub(crate) bars: Vec<Bar>,
    pub(crate) revenue: String,
    pub(crate) fees: String,
    pub(crate) orders: i64,
    pub(crate) refunds: String,
    /// The tallest bar's value, for the axis.
    pub(crate) top: String,
    pub(crate) currency: String,
    pub(crate) first_day: String,
    pub(crate) last_day: String,
}

pub const CHART_DAYS: u32 = 30;

/// The currency that sold the most in `rows`.
pub fn main_currency(rows: &[api::SalesDayRow]) -> Option<&str> {
    let mut by_currency: std::collections::BTreeMap<&str, i64> = Default::default();
    for r in rows {
        *by_currency.entry(r.currency.as_str()).or_default() += r.revenue;
    }
    by_currency
        .into_iter()
        .max_by_key(|(_, revenue)| *revenue)
        .map(|(code, _)| code)
}

pub fn sales_chart(rows: &[api::SalesDayRow], range: api::DayRange) -> Option<SalesChart> {
    // The currency that sold the most leads the chart; other currencies are not added to it.
    let code = main_currency(rows)?;
    let currency = domain::Currency::parse(code).ok()?;
    let money = |amount: i64| domain::Money::new(amount, currency).display();
    let days: Vec<chrono::NaiveDate> = range
        .from
        .iter_days()
        .take_while(|d| *d <= range.to)
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

/// One bar of a horizontal bar list.
pub struct HBar {
    pub(crate) label: String,
    /// The figure as shown.
    pub(crate) value: String,
    /// Percent of the longest bar.
    pub(crate) width: f64,
}

/// A titled list of bars: a device mix, countries, categories.
pub struct BarList {
    pub(crate) title: &'static str,
    pub(crate) bars: Vec<HBar>,
}

/// Bars for `(label, size, shown value)`, scaled to the largest.
pub fn bar_list(title: &'static str, items: Vec<(String, i64, String)>) -> BarList {
    let top = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    BarList {
        title,
        bars: items
            .into_iter()
            .map(|(label, size, value)| HBar {
                label,
                value,
                width: (size.max(0) as f64 / top * 1000.0).round() / 10.0,
            })
            .collect(),
    }
}

/// A device or country mix, with each slice's share in percent.
pub fn mix(title: &'static str, shares: &[api::Share]) -> BarList {
    let total: i64 = shares.iter().map(|s| s.events).sum::<i64>().max(1);
    bar_list(
        title,
        shares
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.events,
                    format!("{:.0}%", s.events as f64 * 100.0 / total as f64),
                )
            })
            .collect(),
    )
}

/// One step of the funnel.
pub struct FunnelStep {
    pub(crate) label: &'static str,
    pub(crate) count: i64,
    /// Percent of the first step (the bar).
    pub(crate) width: f64,
    /// Of the step before, e.g. "12.5% of views".
    pub(crate) rate: String,
}

pub fn funnel(totals: &api::FunnelTotals) -> Vec<FunnelStep> {
    let steps = [
        ("Product views", totals.views, ""),
        ("Cart adds", totals.cart_adds, "views"),
        ("Units checked out", totals.checkouts, "cart adds"),
        ("Units bought", totals.purchases, "units checked out"),
    ];
    let first = totals.views.max(1) as f64;
    let mut out: Vec<FunnelStep> = Vec::new();
    for (label, count, of) in steps {
        let rate = match out.last() {
            Some(before) if before.count > 0 => {
                format!("{:.1}% of {of}", count as f64 * 100.0 / before.count as f64)
            }
            Some(_) => "—".into(),
            None => String::new(),
        };
        out.push(FunnelStep {
            label,
            count,
            width: (count.max(0) as f64 / first * 100.0).min(100.0),
            rate,
        });
    }
    out
}

/// An amount in minor units of `currency`, as people read it.
pub fn money(amount: i64, currency: &str) -> String {
    match domain::Currency::parse(currency) {
        Ok(c) => domain::Money::new(amount, c).display(),
        Err(_) => format!("{amount} {currency}"),
    }
}

/// The outline map the country mix is shaded on (`static/world.json`, made by
/// `static/world_map.py` from Natural Earth's 1:110m countries).
#[derive(serde::Deserialize)]
struct WorldOutline {
    width: u32,
    height: u32,
    countries: Vec<CountryOutline>,
}

#[derive(serde::Deserialize)]
struct CountryOutline {
    code: Option<String>,
    name: String,
    d: String,
}

static WORLD: std::sync::LazyLock<WorldOutline> = std::sync::LazyLock::new(|| {
    serde_json::from_str(include_str!("../../static/world.json"))
        .expect("static/world.json is the generator's output")
});

/// One country on the map: its outline, its shade (0 = nothing, 1–5 = fifths of the busiest
/// country's activity) and "Germany: 1,234 events (41%)" for its tooltip.
pub struct MapCountry {
    pub(crate) d: &'static str,
    pub(crate) shade: u8,
    pub(crate) label: String,
}

/// The country mix as a shaded world map (`world_map.html`).
pub struct WorldMap {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) countries: Vec<MapCountry>,
    /// Countries in the mix the map has no outline for (too small at this scale), with their share.
    pub(crate) unmapped: Vec<String>,
    /// The share of activity whose country nobody told us.
    pub(crate) unlocated: Option<String>,
}

pub fn world_map(shares: &[api::Share]) -> WorldMap {
    let world = &*WORLD;
    let total: i64 = shares.iter().map(|s| s.events).sum::<i64>().max(1);
    let busiest = shares.iter().map(|s| s.events).max().unwrap_or(0).max(1);
    let percent = |events: i64| format!("{:.0}%", events as f64 * 100.0 / total as f64);
    let countries = world
        .countries
        .iter()
        .map(|c| {
            let events = shares
                .iter()
                .find(|s| c.code.as_deref() == Some(s.name.as_str()))
                .map_or(0, |s| s.events);
            let shade = if events == 0 {
                0
            } else {
                (1 + (events * 5 - 1) / busiest).min(5) as u8
            };
            let label = match events {
                0 => c.name.clone(),
                n => format!("{}: {n} events ({})", c.name, percent(n)),
            };
            MapCountry {
                d: c.d.as_str(),
                shade,
                label,
            }
        })
        .collect();
    let unmapped = shares
        .iter()
        .filter(|s| {
            s.name != "unknown"
                && !world
                    .countries
                    .iter()
                    .any(|c| c.code.as_deref() == Some(s.name.as_str()))
        })
        .map(|s| format!("{} {}", s.name, percent(s.events)))
        .collect();
    let unlocated = shares
        .iter()
        .find(|s| s.name == "unknown")
        .map(|s| percent(s.events));
    WorldMap {
        width: world.width,
        height: world.height,
        countries,
        unmapped,
        unlocated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(name: &str, events: i64) -> api::Share {
        serde_json::from_value(serde_json::json!({"name": name, "events": events})).unwrap()
    }

    #[test]
    fn the_map_shades_countries_by_their_share_of_the_busiest() {
        let map = world_map(&[
            share("DE", 100),
            share("FR", 20),
            share("SG", 5),
            share("unknown", 0),
        ]);
        let country = |name: &str| {
            map.countries
                .iter()
                .find(|c| c.label.starts_with(name))
                .unwrap()
        };
        assert_eq!(country("Germany").shade, 5);
        assert_eq!(country("France").shade, 1);
        assert_eq!(country("Germany").label, "Germany: 100 events (80%)");
        assert_eq!(country("Spain").shade, 0);
        assert_eq!(country("Spain").label, "Spain");
        // Singapore is too small for the 1:110m outlines: it is listed instead.
        assert_eq!(map.unmapped, ["SG 4%"]);
        assert_eq!(map.unlocated.as_deref(), Some("0%"));
        assert!(map.countries.len() > 150, "the whole world is drawn");
    }
}
