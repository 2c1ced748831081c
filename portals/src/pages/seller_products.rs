//! The seller's product form: create and edit, with image uploads (kept, removed and reordered),
//! rich-text description, specifications and the other details. Works without JavaScript; the
//! script only adds moving images left and right.

use super::seller::{CategoryOption, category_options};
use crate::chrome::Chrome;
use crate::session::{CsrfMultipart, Portal, Viewer};
use api::media::UploadOwner;
use api::{ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Command, MediaId, NewProduct, ProductDetails, ProductId, ProductStatus, Spec};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template, WebTemplate)]
#[template(path = "product_form.html")]
pub struct ProductFormPage {
    chrome: Chrome,
    /// Where the form posts.
    action: String,
    heading: &'static str,
    categories: Vec<CategoryOption>,
    message: Option<String>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    /// The product's images, in order, as thumbnails with their ids.
    images: Vec<FormImage>,
    max_upload_mb: usize,
}

pub struct FormImage {
    id: String,
    thumb: String,
}

impl ProductFormPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }
}

/// The product form: empty for a new product (`editing: None`), filled in for an edit.
fn product_form(
    app: &AppState,
    viewer: &Viewer,
    editing: Option<uuid::Uuid>,
    values: BTreeMap<String, String>,
    images: &[MediaId],
    error: Option<&ApiError>,
) -> Response {
    let state = app.state();
    let page = ProductFormPage {
        chrome: Chrome::with(&state, "seller", viewer).in_section("products"),
        action: editing.map_or_else(
            || "/seller/products/new".to_string(),
            |id| format!("/seller/products/{id}/edit"),
        ),
        heading: if editing.is_some() {
            "Edit product"
        } else {
            "New product"
        },
        categories: category_options(&state),
        message: error.map(super::form_message),
        errors: error.map(ApiError::field_errors).unwrap_or_default(),
        values,
        images: images
            .iter()
            .map(|id| FormImage {
                id: id.to_string(),
                thumb: api::media::url(*id, api::media::Variant::Thumb),
            })
            .collect(),
        max_upload_mb: api::media::MAX_UPLOAD_BYTES / (1024 * 1024),
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

/// `/seller/products/new`: the form for a new product.
pub async fn new_product(State(app): State<AppState>, viewer: Viewer) -> Response {
    if let Err(response) = viewer.require(&app, Portal::Seller, "/seller/products/new") {
        return response;
    }
    let values = BTreeMap::from([
        ("stock".to_string(), "1".to_string()),
        ("status".to_string(), "active".to_string()),
    ]);
    product_form(&app, &viewer, None, values, &[], None)
}

/// The form's text fields. Images come as the repeated `images` field (ids kept, in order) and
/// `new_images` files.
#[derive(Deserialize)]
pub struct ProductForm {
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    category: String,
    price: String,
    #[serde(default)]
    sale_price: String,
    #[serde(default)]
    stock: String,
    /// The stock when the edit form was opened: if the seller left the field as it was, orders
    /// placed meanwhile keep their units (the save does not put sold units back on sale).
    #[serde(default)]
    stock_was: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    colors: String,
    #[serde(default)]
    sizes: String,
    /// One `Name: value` per line.
    #[serde(default)]
    specs: String,
    #[serde(default)]
    warranty: String,
    #[serde(default)]
    video_url: String,
    /// A checkbox: `on` when ticked.
    #[serde(default)]
    cash_on_delivery: String,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// A product form's fields, parsed: what both creating and editing need.
struct ParsedProduct {
    price: domain::Money,
    sale_price: Option<domain::Money>,
    stock: u32,
    category: String,
    subcategory: Option<String>,
    status: ProductStatus,
    details: ProductDetails,
}

impl ProductForm {
    /// What was typed, to show the form again.
    fn values(&self) -> BTreeMap<String, String> {
        [
            ("title", &self.title),
            ("summary", &self.summary),
            ("description", &self.description),
            ("category", &self.category),
            ("price", &self.price),
            ("sale_price", &self.sale_price),
            ("stock", &self.stock),
            ("stock_was", &self.stock_was),
            ("status", &self.status),
            ("brand", &self.brand),
            ("tags", &self.tags),
            ("colors", &self.colors),
            ("sizes", &self.sizes),
            ("specs", &self.specs),
            ("warranty", &self.warranty),
            ("video_url", &self.video_url),
            ("cash_on_delivery", &self.cash_on_delivery),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }

    /// Prices as people type them (in `currency`), stock, `category/subcategory`, lists split on commas,
    /// specifications one `Name: value` per line.
    fn parse(&self, currency: domain::Currency) -> Result<ParsedProduct, ApiError> {
        let stock = match self.stock.trim() {
            "" => 0,
            text => text
                .parse::<u32>()
                .map_err(|_| domain::DomainError::invalid("stock", "a whole number, 0 or more"))?,
        };
        let (category, subcategory) = match self.category.split_once('/') {
            Some((c, s)) => (c.to_string(), Some(s.to_string())),
            None => (self.category.clone(), None),
        };
        let specs = self
            .specs
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').ok_or_else(|| {
                    domain::DomainError::invalid(
                        "specs",
                        format!("'{line}' needs a name and a value: 'Material: stoneware'"),
                    )
                })?;
                Ok(Spec {
                    name: name.trim().to_string(),
                    value: value.trim().to_string(),
                })
            })
            .collect::<Result<Vec<_>, domain::DomainError>>()?;
        Ok(ParsedProduct {
            price: domain::Money::parse_major(&self.price, currency, "price")?,
            sale_price: match self.sale_price.trim() {
                "" => None,
                text => Some(domain::Money::parse_major(text, currency, "sale_price")?),
            },
            stock,
            category,
            subcategory,
            status: if self.status == "draft" {
                ProductStatus::Draft
            } else {
                ProductStatus::Active
            },
            details: ProductDetails {
                summary: optional(&self.summary),
                brand: optional(&self.brand),
                tags: list(&self.tags),
                colors: list(&self.colors),
                sizes: list(&self.sizes),
                specs,
                video_url: optional(&self.video_url),
                warranty: optional(&self.warranty),
                cash_on_delivery: self.cash_on_delivery == "on",
                starts_at: None,
                ends_at: None,
            },
        })
    }
}

/// The images the form ends with: the kept ones in their order, then the new uploads. Uploads
/// that were stored before a later one failed stay in the list, so the seller does not lose them.
async fn images(
    app: &AppState,
    owner: UploadOwner,
    posted: &CsrfMultipart<ProductForm>,
) -> (Vec<MediaId>, Option<ApiError>) {
    let mut images: Vec<MediaId> = posted
        .all("images")
        .into_iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    for file in posted.files("new_images") {
        match api::media::upload(app, owner, file).await {
            Ok(media) => images.push(media.id),
            Err(e) => return (images, Some(e)),
        }
    }
    (images, None)
}

fn owner(principal: &api::auth::Principal, shop: domain::ShopId) -> UploadOwner {
    UploadOwner {
        actor: principal.actor(),
        account: principal.account.id,
        shop: Some(shop),
    }
}

pub async fn create_product(
    State(app): State<AppState>,
    viewer: Viewer,
    posted: CsrfMultipart<ProductForm>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Seller, "/seller/products/new") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(shop) = app.state().shop_of(principal.account.id).map(|s| s.id) else {
        return Redirect::to("/seller/onboarding").into_response();
    };
    let form = &posted.form;
    let (images, upload_error) = images(&app, owner(&principal, shop), &posted).await;
    if let Some(e) = upload_error {
        return product_form(&app, &viewer, None, form.values(), &images, Some(&e));
    }
    let result = async {
        let parsed = form.parse(domain::Currency::USD)?;
        let product = NewProduct {
            id: ProductId(uuid::Uuid::now_v7()),
            shop_id: shop,
            title: form.title.clone(),
            description: form.description.clone(),
            category: parsed.category,
            subcategory: parsed.subcategory,
            price: parsed.price,
            sale_price: parsed.sale_price,
            stock: parsed.stock,
            status: parsed.status,
            images: images.clone(),
            details: parsed.details,
        };
        app.execute(principal.actor(), Command::CreateProduct(product))
            .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/seller?done=created").into_response(),
        Err(e) => product_form(&app, &viewer, None, form.values(), &images, Some(&e)),
    }
}

/// The seller's own product, or `None` (another shop's product is as good as missing).
fn own_product(
    app: &AppState,
    seller: domain::AccountId,
    id: uuid::Uuid,
) -> Option<domain::Product> {
    let state = app.state();
    let shop = state.shop_of(seller)?.id;
    state
        .products
        .get(&ProductId(id))
        .filter(|p| p.shop_id == shop && p.deleted_at.is_none())
        .cloned()
}

/// Money as a person types it: `24.99`.
fn major(m: domain::Money) -> String {
    let digits = m.currency.minor_digits();
    let unit = 10_i64.pow(digits);
    if digits == 0 {
        m.amount.to_string()
    } else {
        format!(
            "{}.{:0width$}",
            m.amount / unit,
            m.amount % unit,
            width = digits as usize
        )
    }
}

/// `/seller/products/{id}/edit`: the form, filled in with the product as it is.
pub async fn edit_product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    let here = format!("/seller/products/{id}/edit");
    let principal = match viewer.require(&app, Portal::Seller, &here) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(p) = own_product(&app, principal.account.id, id) else {
        return super::not_found_page(&app, &viewer, "seller", "This product is not in your shop.");
    };
    let d = &p.details;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let values = BTreeMap::from([
        ("title".to_string(), p.title.clone()),
        ("summary".to_string(), text(&d.summary)),
        ("description".to_string(), p.description.clone()),
        (
            "category".to_string(),
            match &p.subcategory {
                Some(s) => format!("{}/{s}", p.category),
                None => p.category.clone(),
            },
        ),
        ("price".to_string(), major(p.price)),
        (
            "sale_price".to_string(),
            p.sale_price.map(major).unwrap_or_default(),
        ),
        ("stock".to_string(), p.stock.to_string()),
        ("stock_was".to_string(), p.stock.to_string()),
        (
            "status".to_string(),
            if p.status == ProductStatus::Draft {
                "draft"
            } else {
                "active"
            }
            .to_string(),
        ),
        ("brand".to_string(), text(&d.brand)),
        ("tags".to_string(), d.tags.join(", ")),
        ("colors".to_string(), d.colors.join(", ")),
        ("sizes".to_string(), d.sizes.join(", ")),
        (
            "specs".to_string(),
            d.specs
                .iter()
                .map(|s| format!("{}: {}", s.name, s.value))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("warranty".to_string(), text(&d.warranty)),
        ("video_url".to_string(), text(&d.video_url)),
        (
            "cash_on_delivery".to_string(),
            if d.cash_on_delivery { "on" } else { "" }.to_string(),
        ),
    ]);
    product_form(&app, &viewer, Some(id), values, &p.images, None)
}

pub async fn update_product(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    posted: CsrfMultipart<ProductForm>,
) -> Response {
    let here = format!("/seller/products/{id}/edit");
    let principal = match viewer.require(&app, Portal::Seller, &here) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let Some(current) = own_product(&app, principal.account.id, id) else {
        return super::not_found_page(&app, &viewer, "seller", "This product is not in your shop.");
    };
    let form = &posted.form;
    let (images, upload_error) = images(&app, owner(&principal, current.shop_id), &posted).await;
    if let Some(e) = upload_error {
        return product_form(&app, &viewer, Some(id), form.values(), &images, Some(&e));
    }
    let result = async {
        // Prices are typed in the product's own currency.
        let parsed = form.parse(current.price.currency)?;
        let changes = domain::ProductChanges {
            title: Some(form.title.clone()),
            description: Some(form.description.clone()),
            price: Some(parsed.price),
            sale_price: Some(parsed.sale_price),
            stock: (form.stock.trim() != form.stock_was.trim()).then_some(parsed.stock),
            status: Some(parsed.status),
            category: Some(parsed.category),
            subcategory: Some(parsed.subcategory),
            images: Some(images.clone()),
            // The offer window is not on this form: keep it.
            details: Some(ProductDetails {
                starts_at: current.details.starts_at,
                ends_at: current.details.ends_at,
                ..parsed.details
            }),
        };
        app.execute(
            principal.actor(),
            Command::UpdateProduct {
                id: current.id,
                changes,
            },
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/seller?done=updated").into_response(),
        Err(e) => product_form(&app, &viewer, Some(id), form.values(), &images, Some(&e)),
    }
}
