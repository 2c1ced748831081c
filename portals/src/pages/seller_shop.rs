//! `/seller/shop`: the seller's shop profile (images, address, hours, links), settings, and its
//! scheduled deletion with the 28-day restore window.

use super::seller::{CategoryOption, Done, category_options};
use crate::chrome::Chrome;
use crate::session::{CsrfForm, CsrfMultipart, Empty, Portal, Viewer};
use api::media::{UploadOwner, Variant, url as media_url};
use api::{ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Command, Shop, ShopChanges, ShopCommand, ShopProfile, ShopSettings};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template, WebTemplate)]
#[template(path = "seller_shop.html")]
pub struct ShopSettingsPage {
    chrome: Chrome,
    shop_name: String,
    shop_slug: String,
    categories: Vec<CategoryOption>,
    avatar_url: Option<String>,
    banner_url: Option<String>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    message: Option<String>,
    /// When the shop closes for good, if its deletion is scheduled (a date for people).
    closes_on: Option<String>,
}

impl ShopSettingsPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }

    fn checked(&self, name: &str) -> bool {
        self.value(name) == "on"
    }
}

/// The form's fields, as the shop is now.
fn values_of(shop: &Shop) -> BTreeMap<String, String> {
    let p = &shop.profile;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let on = |b: bool| if b { "on" } else { "" }.to_string();
    BTreeMap::from([
        ("name".into(), shop.name.clone()),
        ("bio".into(), shop.bio.clone()),
        ("category".into(), shop.category.clone()),
        ("country".into(), shop.country.clone()),
        ("address".into(), text(&p.address)),
        ("opening_hours".into(), text(&p.opening_hours)),
        ("website".into(), text(&p.website)),
        ("links".into(), p.links.join("\n")),
        (
            "low_stock_threshold".into(),
            shop.settings.low_stock_threshold.to_string(),
        ),
        (
            "email_new_orders".into(),
            on(shop.settings.email_new_orders),
        ),
        ("email_low_stock".into(), on(shop.settings.email_low_stock)),
    ])
}

fn page(
    app: &AppState,
    viewer: &Viewer,
    shop: &Shop,
    values: BTreeMap<String, String>,
    notice: Option<String>,
    error: Option<&ApiError>,
) -> Response {
    let state = app.state();
    let page = ShopSettingsPage {
        chrome: Chrome::with(&state, "seller", viewer).in_section("shop"),
        shop_name: shop.name.clone(),
        shop_slug: shop.slug.clone(),
        categories: category_options(&state)
            .into_iter()
            .filter(|c| !c.slug.contains('/'))
            .collect(),
        avatar_url: shop.profile.avatar.map(|id| media_url(id, Variant::Thumb)),
        banner_url: shop.profile.banner.map(|id| media_url(id, Variant::Card)),
        values,
        errors: error.map(ApiError::field_errors).unwrap_or_default(),
        notice,
        message: error.map(super::form_message),
        closes_on: shop
            .purge_due_at()
            .map(|at| at.format("%-d %B %Y").to_string()),
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

/// The signed-in seller and their shop, or the response that sends them elsewhere.
fn seller_and_shop(
    app: &AppState,
    viewer: &Viewer,
) -> Result<(api::auth::Principal, Shop), Response> {
    let principal = viewer.require(app, Portal::Seller, "/seller/shop")?.clone();
    match app.state().shop_of(principal.account.id).cloned() {
        Some(shop) => Ok((principal, shop)),
        None => Err(Redirect::to("/seller/onboarding").into_response()),
    }
}

/// `GET /seller/shop`.
pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(done): Query<Done>,
) -> Response {
    let (_, shop) = match seller_and_shop(&app, &viewer) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let notice = match done.done.as_str() {
        "saved" => Some("Saved: shoppers see the new profile now.".to_string()),
        "scheduled" => Some("Your shop is scheduled for deletion. It stays open until then, and you can restore it here.".to_string()),
        "restored" => Some("Restored: your shop will not be deleted.".to_string()),
        _ => None,
    };
    page(&app, &viewer, &shop, values_of(&shop), notice, None)
}

#[derive(Deserialize)]
pub struct ShopForm {
    name: String,
    #[serde(default)]
    bio: String,
    category: String,
    country: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    opening_hours: String,
    #[serde(default)]
    website: String,
    /// One link per line.
    #[serde(default)]
    links: String,
    #[serde(default)]
    low_stock_threshold: String,
    #[serde(default)]
    email_new_orders: String,
    #[serde(default)]
    email_low_stock: String,
    #[serde(default)]
    remove_avatar: String,
    #[serde(default)]
    remove_banner: String,
}

impl ShopForm {
    fn values(&self) -> BTreeMap<String, String> {
        [
            ("name", &self.name),
            ("bio", &self.bio),
            ("category", &self.category),
            ("country", &self.country),
            ("address", &self.address),
            ("opening_hours", &self.opening_hours),
            ("website", &self.website),
            ("links", &self.links),
            ("low_stock_threshold", &self.low_stock_threshold),
            ("email_new_orders", &self.email_new_orders),
            ("email_low_stock", &self.email_low_stock),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }
}

/// `POST /seller/shop`: saves the profile and settings; new image files replace the current ones.
pub async fn save(
    State(app): State<AppState>,
    viewer: Viewer,
    posted: CsrfMultipart<ShopForm>,
) -> Response {
    let (principal, shop) = match seller_and_shop(&app, &viewer) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let form = &posted.form;
    let owner = UploadOwner {
        actor: principal.actor(),
        account: principal.account.id,
        shop: Some(shop.id),
    };
    let result = async {
        let avatar = posted
            .replaced_image(
                &app,
                owner,
                "avatar_file",
                &form.remove_avatar,
                shop.profile.avatar,
            )
            .await?;
        let banner = posted
            .replaced_image(
                &app,
                owner,
                "banner_file",
                &form.remove_banner,
                shop.profile.banner,
            )
            .await?;
        let text = |t: &str| Some(t.trim().to_string()).filter(|t| !t.is_empty());
        let threshold = form
            .low_stock_threshold
            .trim()
            .parse::<u32>()
            .map_err(|_| {
                domain::DomainError::invalid("low_stock_threshold", "a whole number, 0 or more")
            })?;
        let changes = ShopChanges {
            name: Some(form.name.clone()),
            bio: Some(form.bio.clone()),
            category: Some(form.category.clone()),
            country: Some(form.country.trim().to_ascii_uppercase()),
            profile: Some(ShopProfile {
                avatar,
                banner,
                address: text(&form.address),
                opening_hours: text(&form.opening_hours),
                website: text(&form.website),
                links: form.links.lines().filter_map(text).collect(),
            }),
            settings: Some(ShopSettings {
                low_stock_threshold: threshold,
                email_new_orders: form.email_new_orders == "on",
                email_low_stock: form.email_low_stock == "on",
            }),
        };
        app.execute(
            principal.actor(),
            Command::Shop(ShopCommand::Update {
                id: shop.id,
                changes,
            }),
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/seller/shop?done=saved").into_response(),
        Err(e) => page(&app, &viewer, &shop, form.values(), None, Some(&e)),
    }
}

/// `POST /seller/shop/delete`: schedules the deletion.
pub async fn delete(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    lifecycle(&app, &viewer, true).await
}

/// `POST /seller/shop/restore`: cancels it.
pub async fn restore(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    lifecycle(&app, &viewer, false).await
}

async fn lifecycle(app: &AppState, viewer: &Viewer, delete: bool) -> Response {
    let (principal, shop) = match seller_and_shop(app, viewer) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (command, done) = if delete {
        (ShopCommand::RequestDeletion { id: shop.id }, "scheduled")
    } else {
        (ShopCommand::Restore { id: shop.id }, "restored")
    };
    match app.execute(principal.actor(), Command::Shop(command)).await {
        Ok(_) => Redirect::to(&format!("/seller/shop?done={done}")).into_response(),
        Err(e) => page(app, viewer, &shop, values_of(&shop), None, Some(&e)),
    }
}
