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
mod session;

use api::AppState;
use axum::Router;
use axum::http::header;
use axum::routing::{get, post};

const STYLESHEET: &str = include_str!("../static/style.css");
const SCRIPT: &str = include_str!("../static/portal.js");

/// The whole site: the portals and the API (`/api/*`, `/health`), as `serve` runs it.
pub fn site(app: AppState) -> Router {
    router(app.clone()).merge(api::router(app))
}

/// Every portal page plus `/static/*`.
pub fn router(app: AppState) -> Router {
    use pages::{account, admin, admin_accounts, auth, seller, shop};
    Router::new()
        .route("/", get(shop::home))
        .route("/products/{slug}", get(shop::product))
        // Sign-up, sign-in and sign-out: the same handlers serve the shop and the seller portal
        // (and sign-in the admin portal); the path says which.
        .route("/signup", get(auth::signup_form).post(auth::signup))
        .route("/signup/verify", get(auth::verify_form).post(auth::verify))
        .route("/signup/resend", post(auth::resend))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/forgot", get(auth::forgot_form).post(auth::forgot))
        .route("/reset", get(auth::reset_form).post(auth::reset))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/addresses", post(account::add_address))
        .route(
            "/account/addresses/{id}/delete",
            post(account::remove_address),
        )
        .route("/seller", get(seller::dashboard))
        .route("/seller/signup", get(auth::signup_form).post(auth::signup))
        .route(
            "/seller/signup/verify",
            get(auth::verify_form).post(auth::verify),
        )
        .route("/seller/signup/resend", post(auth::resend))
        .route("/seller/login", get(auth::login_form).post(auth::login))
        .route(
            "/seller/onboarding",
            get(seller::onboarding).post(seller::open_shop),
        )
        .route("/admin", get(admin::dashboard))
        .route("/admin/login", get(auth::login_form).post(auth::login))
        .route("/admin/users", get(admin_accounts::users))
        .route("/admin/users/{id}/ban", post(admin_accounts::ban))
        .route("/admin/users/{id}/unban", post(admin_accounts::unban))
        .route(
            "/admin/admins",
            get(admin_accounts::admins).post(admin_accounts::promote),
        )
        .route(
            "/admin/analysts",
            get(admin_accounts::analysts).post(admin_accounts::create_analyst),
        )
        .route("/admin/outbox", get(admin_accounts::outbox))
        .route("/static/style.css", get(stylesheet))
        .route("/static/portal.js", get(script))
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

async fn script() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}
