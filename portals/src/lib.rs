//! The three web portals — shop (`/`), seller (`/seller`) and admin (`/admin`) — rendered on the
//! server with askama templates (auto-escaped) and one shared stylesheet.
//!
//! Pages read the same in-memory state as the API and write through the same command path
//! ([`api::AppState::execute`]): the portals render, they hold no business rules.
//!
//! ```text
//! let app = api::App::start(config).await?;
//! let router = portals::router(app.clone()).merge(api::router(app));
//! ```

mod chrome;
mod pages;

use api::AppState;
use axum::Router;
use axum::http::header;
use axum::routing::get;

const STYLESHEET: &str = include_str!("../static/style.css");

/// The whole site: the portals and the API (`/api/*`, `/health`), as `serve` runs it.
pub fn site(app: AppState) -> Router {
    router(app.clone()).merge(api::router(app))
}

/// Every portal page plus `/static/*`.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/", get(pages::shop::home))
        .route("/products/{slug}", get(pages::shop::product))
        .route("/seller", get(pages::seller::shops))
        .route("/seller/shops/{id}", get(pages::seller::shop))
        .route("/admin", get(pages::admin::dashboard))
        .route("/static/style.css", get(stylesheet))
        .fallback(pages::not_found)
        .with_state(app)
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}
