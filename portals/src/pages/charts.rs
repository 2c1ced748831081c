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

pub fn sales_chart(rows: &[api::SalesDayRow]) -> Option<SalesChart> {
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
