//! `/shops` (the shops directory) and `/offers` (timed offers, live and upcoming, with countdowns).

use super::shop::Card;
use crate::chrome::{Chrome, hue, initials};
use crate::session::Viewer;
use api::{AppState, ProductFilter, ProductView, ShopView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub struct ShopTile {
    shop: ShopView,
    category_name: String,
    hue: u16,
    initials: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "shops.html")]
pub struct ShopsPage {
    chrome: Chrome,
    q: String,
    shops: Vec<ShopTile>,
}

#[derive(Deserialize, Default)]
pub struct ShopsQuery {
    #[serde(default)]
    q: String,
}

/// `/shops`: every shop, most followed first, searchable by name and bio.
pub async fn shops(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ShopsQuery>,
) -> ShopsPage {
    let state = app.state();
    let words: Vec<String> = query.q.split_whitespace().map(str::to_lowercase).collect();
    let mut shops: Vec<ShopTile> = state
        .shops
        .values()
        .filter(|s| {
            let text = format!("{} {}", s.name, s.bio).to_lowercase();
            words.iter().all(|w| text.contains(w))
        })
        .map(|s| ShopTile {
            category_name: state
                .site
                .category(&s.category)
                .map_or_else(|| s.category.clone(), |c| c.name.clone()),
            hue: hue(&s.id.0),
            initials: initials(&s.name, 2),
            shop: ShopView::build(&state, s),
        })
        .collect();
    // Top shops first: most orders, then most followers.
    shops.sort_by(|a, b| {
        (b.shop.orders, b.shop.followers)
            .cmp(&(a.shop.orders, a.shop.followers))
            .then(a.shop.name.cmp(&b.shop.name))
    });
    ShopsPage {
        chrome: Chrome::with(&state, "shop", &viewer),
        q: query.q,
        shops,
    }
}

pub struct OfferCard {
    card: Card,
    /// When the countdown ends: the offer's end when live, its start when upcoming.
    until: DateTime<Utc>,
}

#[derive(Template, WebTemplate)]
#[template(path = "offers.html")]
pub struct OffersPage {
    chrome: Chrome,
    live: Vec<OfferCard>,
    upcoming: Vec<OfferCard>,
}

/// `/offers`: offers running now (ending soonest first) and those about to start.
pub async fn offers(State(app): State<AppState>, viewer: Viewer) -> OffersPage {
    let state = app.state();
    let now = Utc::now();
    let (live, upcoming) = ProductFilter::default().offers(&state, &app.search, now);
    let card = |p: &domain::Product, until| OfferCard {
        card: Card::from(ProductView::build(&state, p)),
        until,
    };
    let live = live
        .into_iter()
        .filter_map(|p| Some(card(p, p.details.ends_at?)))
        .collect();
    let upcoming = upcoming
        .into_iter()
        .filter_map(|p| Some(card(p, p.details.starts_at?)))
        .collect();
    OffersPage {
        chrome: Chrome::with(&state, "shop", &viewer),
        live,
        upcoming,
    }
}
