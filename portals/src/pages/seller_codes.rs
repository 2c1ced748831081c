//! `/seller/codes`: the shop's discount codes — the list with their uses, a form to create one,
//! and delete buttons.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Empty, Portal, Viewer};
use api::{ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use domain::{Command, Currency, Discount, DiscountCode, DiscountCodeId, Money, ProductId};
use serde::Deserialize;

pub struct CodeRow {
    id: String,
    code: String,
    public_name: String,
    value: String,
    window: String,
    uses: String,
    live: bool,
}

pub struct ProductChoice {
    id: String,
    title: String,
    chosen: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller_codes.html")]
pub struct CodesPage {
    chrome: Chrome,
    codes: Vec<CodeRow>,
    products: Vec<ProductChoice>,
    typed: CodeForm,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    public_name: String,
    /// `percent` or `fixed`.
    #[serde(default)]
    kind: String,
    /// Whole percent, or an amount such as 5.00.
    #[serde(default)]
    value: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    max_uses: String,
    /// Comma-separated product ids (the form's checkboxes arrive as repeated fields; see below).
    #[serde(default)]
    products: String,
}

fn render(
    app: &AppState,
    viewer: &Viewer,
    shop: domain::ShopId,
    typed: CodeForm,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let state = app.state();
    let now = Utc::now();
    let mut codes: Vec<&DiscountCode> = state
        .discount_codes
        .values()
        .filter(|c| c.shop_id == shop)
        .collect();
    codes.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    let chosen: Vec<&str> = typed.products.split(',').map(str::trim).collect();
    let page = CodesPage {
        chrome: Chrome::with(&state, "seller", viewer).in_section("codes"),
        codes: codes
            .into_iter()
            .map(|c| CodeRow {
                id: c.id.to_string(),
                code: c.code.clone(),
                public_name: c.public_name.clone(),
                value: match c.discount {
                    Discount::Percent { percent } => format!("{percent}% off"),
                    Discount::Fixed { amount } => format!("{} off", amount.display()),
                },
                window: match (c.starts_at, c.ends_at) {
                    (None, None) => "always".into(),
                    (Some(s), None) => format!("from {}", s.format("%Y-%m-%d")),
                    (None, Some(e)) => format!("until {}", e.format("%Y-%m-%d")),
                    (Some(s), Some(e)) => {
                        format!("{} – {}", s.format("%Y-%m-%d"), e.format("%Y-%m-%d"))
                    }
                },
                uses: {
                    let used = state.code_uses.get(&c.id).copied().unwrap_or(0);
                    match c.max_uses {
                        Some(max) => format!("{used} of {max}"),
                        None => used.to_string(),
                    }
                },
                live: c.is_live(now),
            })
            .collect(),
        products: state
            .products_of(shop)
            .filter(|p| p.deleted_at.is_none())
            .map(|p| ProductChoice {
                id: p.id.to_string(),
                chosen: chosen.contains(&p.id.to_string().as_str()),
                title: p.title.clone(),
            })
            .collect(),
        typed,
        error,
        notice,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, page).into_response()
}

fn own_shop(app: &AppState, viewer: &Viewer) -> Result<(domain::Actor, domain::ShopId), Response> {
    let principal = viewer.require(app, Portal::Seller, "/seller/codes")?;
    match app.state().shop_of(principal.account.id) {
        Some(shop) => Ok((principal.actor(), shop.id)),
        None => Err(Redirect::to("/seller/onboarding").into_response()),
    }
}

#[derive(Deserialize, Default)]
pub struct Notice {
    #[serde(default)]
    done: String,
}

/// The codes and the form.
pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(notice): axum::extract::Query<Notice>,
) -> Response {
    match own_shop(&app, &viewer) {
        Ok((_, shop)) => {
            let notice = match notice.done.as_str() {
                "created" => Some("The code is live for shoppers."),
                "deleted" => Some("The code was deleted."),
                _ => None,
            };
            render(
                &app,
                &viewer,
                shop,
                CodeForm {
                    kind: "percent".into(),
                    ..Default::default()
                },
                None,
                notice,
            )
        }
        Err(response) => response,
    }
}

fn day(text: &str, field: &'static str) -> Result<Option<chrono::DateTime<Utc>>, ApiError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(|d| Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()))
        .map_err(|_| ApiError::invalid(field, "a date such as 2026-12-24"))
}

fn build(form: &CodeForm, shop: domain::ShopId) -> Result<DiscountCode, ApiError> {
    let discount = if form.kind == "fixed" {
        Discount::Fixed {
            amount: Money::parse_major(&form.value, Currency::USD, "value")
                .map_err(ApiError::from)?,
        }
    } else {
        Discount::Percent {
            percent: form
                .value
                .trim()
                .trim_end_matches('%')
                .parse()
                .map_err(|_| ApiError::invalid("value", "a whole percent from 1 to 100"))?,
        }
    };
    let max_uses =
        match form.max_uses.trim() {
            "" => None,
            n => Some(n.parse().map_err(|_| {
                ApiError::invalid("max_uses", "a whole number, or empty for no limit")
            })?),
        };
    let product_ids = form
        .products
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map(ProductId)
                .map_err(|_| ApiError::invalid("products", "unknown product"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DiscountCode {
        id: DiscountCodeId(uuid::Uuid::now_v7()),
        shop_id: shop,
        code: form.code.clone(),
        public_name: if form.public_name.trim().is_empty() {
            form.code.trim().to_uppercase()
        } else {
            form.public_name.clone()
        },
        discount,
        starts_at: day(&form.starts_on, "starts_on")?,
        ends_at: day(&form.ends_on, "ends_on")?,
        max_uses,
        product_ids,
        created_at: Utc::now(),
    })
}

/// Creates a code.
pub async fn create(
    State(app): State<AppState>,
    viewer: Viewer,
    form: crate::session::CsrfMultipart<CodeForm>,
) -> Response {
    let (actor, shop) = match own_shop(&app, &viewer) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let mut typed = form.form;
    // Checkboxes arrive as repeated `product` fields.
    let picked: Vec<String> = form
        .lists
        .iter()
        .filter(|(k, _)| k == "product")
        .map(|(_, v)| v.clone())
        .collect();
    if !picked.is_empty() {
        typed.products = picked.join(",");
    }
    let result = match build(&typed, shop) {
        Ok(code) => app
            .execute(actor, Command::CreateDiscountCode(code))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to("/seller/codes?done=created").into_response(),
        Err(e) => render(&app, &viewer, shop, typed, Some(e.public_message()), None),
    }
}

/// Deletes a code (its name becomes free again).
pub async fn delete(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let (actor, _) = match own_shop(&app, &viewer) {
        Ok(s) => s,
        Err(response) => return response,
    };
    match app
        .execute(
            actor,
            Command::DeleteDiscountCode {
                id: DiscountCodeId(id),
            },
        )
        .await
    {
        Ok(_) => Redirect::to("/seller/codes?done=deleted").into_response(),
        Err(e) => super::not_found_page(&app, &viewer, "seller", e.public_message()),
    }
}
