pub mod account;
pub mod admin;
pub mod admin_accounts;
pub mod admin_catalog;
pub mod admin_logs;
pub mod auth;
pub mod browse;
pub mod cart;
pub mod charts;
pub mod checkout;
pub mod inbox;
pub mod notifications;
pub mod orders;
pub mod seller;
pub mod seller_analytics;
pub mod seller_codes;
pub mod seller_products;
pub mod seller_shop;
pub mod shop;
pub mod shop_page;
pub mod sql_explorer;

use crate::chrome::Chrome;
use api::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Template, WebTemplate)]
#[template(path = "not_found.html")]
pub struct NotFoundPage {
    chrome: Chrome,
    message: String,
}

pub fn not_found_page(
    app: &AppState,
    viewer: &crate::session::Viewer,
    portal: &'static str,
    message: impl Into<String>,
) -> Response {
    let page = NotFoundPage {
        chrome: Chrome::with(&app.state(), portal, viewer),
        message: message.into(),
    };
    (StatusCode::NOT_FOUND, page).into_response()
}

pub async fn not_found(State(app): State<AppState>, viewer: crate::session::Viewer) -> Response {
    not_found_page(
        &app,
        &viewer,
        "shop",
        "The page you asked for does not exist.",
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "refused.html")]
pub struct RefusedPage {
    chrome: Chrome,
    message: String,
}

/// A 403 page: signed in, but not allowed here (banned, or another role).
pub fn refused_page(
    app: &AppState,
    viewer: &crate::session::Viewer,
    portal: crate::session::Portal,
    message: &str,
) -> Response {
    let page = RefusedPage {
        chrome: Chrome::with(&app.state(), portal.name(), viewer),
        message: message.to_string(),
    };
    (StatusCode::FORBIDDEN, page).into_response()
}

/// The sentence above a form that was refused: the reason, or a pointer to the fields when the
/// reasons are next to them.
pub fn form_message(error: &api::ApiError) -> String {
    if error.field_errors().is_empty() {
        error.public_message()
    } else {
        "Please correct the fields marked below.".to_string()
    }
}
