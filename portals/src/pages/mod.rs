pub mod admin;
pub mod seller;
pub mod shop;

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
    portal: &'static str,
    message: impl Into<String>,
) -> Response {
    let page = NotFoundPage {
        chrome: Chrome::new(&app.state(), portal),
        message: message.into(),
    };
    (StatusCode::NOT_FOUND, page).into_response()
}

pub async fn not_found(State(app): State<AppState>) -> Response {
    not_found_page(&app, "shop", "The page you asked for does not exist.")
}
