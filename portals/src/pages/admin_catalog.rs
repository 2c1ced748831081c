//! Admin pages for the catalog: products (search, hide with a reason, show again) and the site
//! (name, logo, banner, categories and subcategories).

use crate::chrome::Chrome;
use crate::session::{CsrfForm, CsrfMultipart, Empty, Viewer, encode};
use api::{AdminProductView, ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Category, Command, ProductId, SiteConfig, Subcategory, slugify};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "admin_products.html")]
pub struct ProductsPage {
    chrome: Chrome,
    products: Vec<AdminProductView>,
    q: String,
    page: usize,
    pages: usize,
    total: usize,
    notice: Option<String>,
    message: Option<String>,
}

impl ProductsPage {
    fn page_href(&self, page: usize) -> String {
        format!("/admin/products?q={}&page={page}", encode(&self.q))
    }
}

#[derive(Deserialize, Default)]
pub struct ProductsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    done: String,
}

fn products_page(
    app: &AppState,
    viewer: &Viewer,
    query: ProductsQuery,
    error: Option<&ApiError>,
) -> Response {
    let state = app.state();
    let listing = api::admin_products(&state, Some(&query.q), None, query.page, Some(25));
    let pages = listing.total.div_ceil(25).max(1);
    let page = ProductsPage {
        chrome: Chrome::with(&state, "admin", viewer).in_section("products"),
        total: listing.total,
        page: listing.page,
        pages,
        products: listing.items,
        q: query.q,
        notice: match query.done.as_str() {
            "hidden" => Some("The product is hidden from the shop.".into()),
            "shown" => Some("The product is back in the shop.".into()),
            _ => None,
        },
        message: error.map(super::form_message),
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

pub async fn products(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ProductsQuery>,
) -> Response {
    match viewer.require_admin(&app, "/admin/products") {
        Ok(_) => products_page(&app, &viewer, query, None),
        Err(refused) => refused,
    }
}

#[derive(Deserialize)]
pub struct HideForm {
    #[serde(default)]
    reason: String,
}

pub async fn hide(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<HideForm>,
) -> Response {
    moderate(&app, &viewer, id, Some(form.reason)).await
}

pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    moderate(&app, &viewer, id, None).await
}

async fn moderate(
    app: &AppState,
    viewer: &Viewer,
    id: uuid::Uuid,
    reason: Option<String>,
) -> Response {
    let me = match viewer.require_admin(app, "/admin/products") {
        Ok(me) => me.clone(),
        Err(refused) => return refused,
    };
    let hiding = reason.is_some();
    match app
        .execute(
            me.actor(),
            Command::ModerateProduct {
                id: ProductId(id),
                reason,
            },
        )
        .await
    {
        Ok(_) => Redirect::to(if hiding {
            "/admin/products?done=hidden"
        } else {
            "/admin/products?done=shown"
        })
        .into_response(),
        Err(e) => products_page(app, viewer, ProductsQuery::default(), Some(&e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_site.html")]
pub struct SitePage {
    chrome: Chrome,
    name: String,
    logo_url: Option<String>,
    banner_url: Option<String>,
    categories: String,
    notice: Option<String>,
    message: Option<String>,
}

/// The category tree as the form shows it: one category per line, `Name (slug): Sub (slug), …`.
fn categories_text(config: &SiteConfig) -> String {
    config
        .categories
        .iter()
        .map(|c| {
            let subs: Vec<String> = c
                .subcategories
                .iter()
                .map(|s| format!("{} ({})", s.name, s.slug))
                .collect();
            if subs.is_empty() {
                format!("{} ({})", c.name, c.slug)
            } else {
                format!("{} ({}): {}", c.name, c.slug, subs.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Name (slug)` or `Name` (the slug is then made from the name).
fn named(text: &str) -> (String, String) {
    let text = text.trim();
    match text.strip_suffix(')').and_then(|t| t.rsplit_once('(')) {
        Some((name, slug)) => (name.trim().to_string(), slug.trim().to_string()),
        None => (text.to_string(), slugify(text)),
    }
}

fn parse_categories(text: &str) -> Vec<Category> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (head, subs) = match line.split_once(':') {
                Some((head, subs)) => (head, subs),
                None => (line, ""),
            };
            let (name, slug) = named(head);
            Category {
                slug,
                name,
                subcategories: subs
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        let (name, slug) = named(s);
                        Subcategory { slug, name }
                    })
                    .collect(),
            }
        })
        .collect()
}

fn site_page(
    app: &AppState,
    viewer: &Viewer,
    form: Option<&SiteForm>,
    notice: Option<String>,
    error: Option<&ApiError>,
) -> Response {
    let state = app.state();
    let site = &state.site;
    let page = SitePage {
        chrome: Chrome::with(&state, "admin", viewer).in_section("site"),
        name: form.map_or_else(|| site.name.clone(), |f| f.name.clone()),
        logo_url: site
            .logo
            .map(|id| api::media::url(id, api::media::Variant::Thumb)),
        banner_url: site
            .banner
            .map(|id| api::media::url(id, api::media::Variant::Card)),
        categories: form.map_or_else(|| categories_text(site), |f| f.categories.clone()),
        notice,
        message: error.map(|e| e.public_message()),
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

#[derive(Deserialize, Default)]
pub struct Saved {
    #[serde(default)]
    done: String,
}

pub async fn site(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(saved): Query<Saved>,
) -> Response {
    match viewer.require_admin(&app, "/admin/site") {
        Ok(_) => site_page(
            &app,
            &viewer,
            None,
            (saved.done == "saved").then(|| "Saved: every portal shows it now.".into()),
            None,
        ),
        Err(refused) => refused,
    }
}

#[derive(Deserialize)]
pub struct SiteForm {
    name: String,
    #[serde(default)]
    categories: String,
    /// Checkboxes: `on` removes the image.
    #[serde(default)]
    remove_logo: String,
    #[serde(default)]
    remove_banner: String,
}

pub async fn save_site(
    State(app): State<AppState>,
    viewer: Viewer,
    posted: CsrfMultipart<SiteForm>,
) -> Response {
    let me = match viewer.require_admin(&app, "/admin/site") {
        Ok(me) => me.clone(),
        Err(refused) => return refused,
    };
    let form = &posted.form;
    let result = async {
        let current = app.state().site.clone();
        let owner = api::media::UploadOwner {
            actor: me.actor(),
            account: me.account.id,
            shop: None,
        };
        let logo = posted
            .replaced_image(&app, owner, "logo_file", &form.remove_logo, current.logo)
            .await?;
        let banner = posted
            .replaced_image(
                &app,
                owner,
                "banner_file",
                &form.remove_banner,
                current.banner,
            )
            .await?;
        let config = SiteConfig {
            name: form.name.trim().to_string(),
            categories: parse_categories(&form.categories),
            logo,
            banner,
        };
        app.execute(me.actor(), Command::ConfigureSite(config))
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/admin/site?done=saved").into_response(),
        Err(e) => site_page(&app, &viewer, Some(form), None, Some(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_category_text_round_trips_and_new_names_get_slugs() {
        let text = "Kitchen (kitchen): Mugs (mugs), Plates\nBooks";
        let parsed = parse_categories(text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            (
                parsed[0].slug.as_str(),
                parsed[0].subcategories[1].slug.as_str()
            ),
            ("kitchen", "plates")
        );
        assert_eq!(parsed[1].slug, "books");
        let config = SiteConfig {
            name: "S".into(),
            categories: parsed,
            logo: None,
            banner: None,
        };
        assert_eq!(
            parse_categories(&categories_text(&config)),
            config.categories
        );
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_shops.html")]
pub struct ShopsPage {
    chrome: Chrome,
    q: String,
    page: api::Page<api::AdminShopView>,
}

#[derive(Deserialize, Default)]
pub struct ShopsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
}

/// `/admin/shops`: every shop with its seller, sales, rating and closing state; CSV download.
pub async fn shops(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ShopsQuery>,
) -> Response {
    if let Err(refused) = viewer.require_admin(&app, "/admin/shops") {
        return refused;
    }
    let state = app.state();
    let shops = api::admin_shops(&state, Some(&query.q));
    ShopsPage {
        chrome: Chrome::with(&state, "admin", &viewer).in_section("shops"),
        page: api::Page::of(shops.into_iter(), query.page, Some(50), |s| s),
        q: query.q,
    }
    .into_response()
}
