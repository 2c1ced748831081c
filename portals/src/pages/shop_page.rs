//! `/shops/{slug}`: a shop's own page — profile, followers, follow button, products. Opening it
//! records a `shop_visit`.

use super::shop::Card;
use crate::chrome::{Chrome, hue, initials};
use crate::session::{CsrfForm, Portal, Viewer};
use api::{AppState, ProductFilter, ShopView, Visitor, client_context};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use domain::{ActivityDetails, ActivityKind, Command, Role};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "shop_page.html")]
pub struct ShopPage {
    chrome: Chrome,
    shop: ShopView,
    category_name: String,
    hue: u16,
    initials: String,
    following: bool,
    /// Whether the viewer may follow (signed-in shoppers; others are invited to sign in).
    can_follow: bool,
    cards: Vec<Card>,
    total: usize,
}

pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
) -> Response {
    let state = app.state();
    let Some(shop) = state.shops.values().find(|s| s.slug == slug) else {
        return super::not_found_page(
            &app,
            &viewer,
            "shop",
            format!("There is no shop called “{slug}”."),
        );
    };
    let visitor = Visitor::from_cookies(&jar);
    let actor = super::shop::actor_of(&viewer, &visitor);
    let visit = Command::RecordActivity {
        kind: ActivityKind::ShopVisit,
        details: ActivityDetails {
            shop_id: Some(shop.id),
            client: client_context(&headers),
            ..Default::default()
        },
    };
    if let Err(e) = app.execute(actor, visit).await {
        tracing::warn!(shop.slug = %slug, error = %e, "could not record a shop visit");
    }
    let listing = ProductFilter {
        shop: Some(shop.id.0),
        per_page: Some(48),
        ..Default::default()
    }
    .apply(&state, &app.search);
    let me = viewer.principal();
    let page = ShopPage {
        chrome: Chrome::with(&state, "shop", &viewer),
        category_name: state
            .site
            .category(&shop.category)
            .map_or_else(|| shop.category.clone(), |c| c.name.clone()),
        hue: hue(&shop.id.0),
        initials: initials(&shop.name, 2),
        following: me.is_some_and(|p| {
            state
                .followers
                .get(&shop.id)
                .is_some_and(|f| f.contains(&p.account.id))
        }),
        can_follow: me.is_none_or(|p| p.account.role == Role::Shopper),
        total: listing.total,
        cards: listing.items.into_iter().map(Card::from).collect(),
        shop: ShopView::build(&state, shop),
    };
    (visitor.remember(jar, app.config.secure_cookies), page).into_response()
}

#[derive(Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    follow: String,
}

/// Follows or unfollows from the shop page; anyone not signed in is sent to sign in first.
pub async fn follow(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<FollowForm>,
) -> Response {
    let here = format!("/shops/{slug}");
    let principal = match viewer.require(&app, Portal::Shop, &here) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(shop) = app
        .state()
        .shops
        .values()
        .find(|s| s.slug == slug)
        .map(|s| s.id)
    else {
        return super::not_found_page(
            &app,
            &viewer,
            "shop",
            format!("There is no shop called “{slug}”."),
        );
    };
    let command = Command::FollowShop {
        shop,
        follow: form.follow != "0",
    };
    if let Err(e) = app.execute(principal.actor(), command).await {
        return super::refused_page(&app, &viewer, Portal::Shop, &e.public_message());
    }
    Redirect::to(&here).into_response()
}
