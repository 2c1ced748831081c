//! The HTTP routes, one module per resource, merged here. Every route is registered through
//! `utoipa_axum::routes!`, so the router and `/api/openapi.json` are built from the same list and
//! cannot drift apart (a test checks it anyway).

mod activity;
mod admin_accounts;
pub mod admin_catalog;
mod auth;
mod cart;
mod chat;
pub mod dashboards;
mod health;
mod logs;
mod me;
pub mod media;
mod metrics;
pub mod notifications;
mod orders;
pub mod products;
mod recommendations;
mod seller;
mod seller_products;
mod shops;
mod site;
mod sql;

use crate::app::AppState;
use crate::error::ApiError;
use axum::Router;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Marketplace API", description = "The JSON API of the marketplace: accounts, catalog, activity and health."),
    tags(
        (name = "catalog", description = "The site, categories and products"),
        (name = "engagement", description = "What shoppers do"),
        (name = "accounts", description = "Sign-up, sign-in, sessions, passwords and the signed-in account"),
        (name = "orders", description = "Cart, wishlist, checkout, payments and orders"),
        (name = "notifications", description = "What the notification pipeline delivered, and read marks"),
        (name = "chat", description = "Conversations between shoppers and shops, and the live socket"),
        (name = "seller", description = "What sellers do with their shop"),
        (name = "admin", description = "What admins do: accounts, bans, admins, analysts, mail"),
        (name = "analytics", description = "Read-only SQL over the lakehouse for admins and analysts"),
        (name = "operations", description = "Health of the service and its workers"),
    )
)]
struct ApiDoc;

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(site::get_site))
        .routes(routes!(products::list_products))
        .routes(routes!(products::suggest))
        .routes(routes!(products::get_product))
        .routes(routes!(products::reviews, products::post_review))
        .routes(routes!(shops::list))
        .routes(routes!(shops::get))
        .routes(routes!(shops::products))
        .routes(routes!(shops::follow, shops::unfollow))
        .routes(routes!(shops::offers))
        .routes(routes!(activity::record_activity))
        .routes(routes!(recommendations::recommendations))
        .routes(routes!(auth::register))
        .routes(routes!(auth::resend))
        .routes(routes!(auth::verify))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::forgot))
        .routes(routes!(auth::verify_reset))
        .routes(routes!(auth::reset))
        .routes(routes!(auth::change_password))
        .routes(routes!(me::me))
        .routes(routes!(me::list_addresses, me::add_address))
        .routes(routes!(me::remove_address))
        .routes(routes!(
            seller::open_shop,
            seller::my_shop,
            seller::update_shop,
            seller::delete_shop
        ))
        .routes(routes!(seller::restore_shop))
        .routes(routes!(seller_products::list, seller_products::create))
        .routes(routes!(
            seller_products::get,
            seller_products::update,
            seller_products::delete
        ))
        .routes(routes!(seller_products::restore))
        .routes(routes!(
            seller_products::list_codes,
            seller_products::create_code
        ))
        .routes(routes!(seller_products::delete_code))
        .routes(with_upload_limit(routes!(media::upload)))
        .routes(routes!(media::delete))
        .routes(routes!(admin_accounts::list_users))
        .routes(routes!(admin_accounts::ban, admin_accounts::unban))
        .routes(routes!(
            admin_accounts::list_admins,
            admin_accounts::promote
        ))
        .routes(routes!(
            admin_accounts::list_analysts,
            admin_accounts::create_analyst
        ))
        .routes(routes!(admin_accounts::outbox))
        .routes(routes!(admin_catalog::put_site))
        .routes(routes!(admin_catalog::list_products))
        .routes(routes!(admin_catalog::list_shops))
        .routes(routes!(admin_catalog::hide, admin_catalog::unhide))
        .routes(routes!(cart::get_cart))
        .routes(routes!(cart::set_item))
        .routes(routes!(cart::apply_code, cart::remove_code))
        .routes(routes!(cart::wishlist))
        .routes(routes!(cart::wish, cart::unwish))
        .routes(routes!(orders::checkout))
        .routes(routes!(orders::webhook))
        .routes(routes!(orders::sandbox_pay))
        .routes(routes!(orders::my_orders))
        .routes(routes!(orders::my_order))
        .routes(routes!(orders::shop_orders))
        .routes(routes!(orders::shop_order_detail, orders::update_order))
        .routes(routes!(orders::payouts))
        .routes(routes!(orders::onboarding))
        .routes(routes!(orders::admin_orders))
        .routes(routes!(orders::admin_payments))
        .routes(routes!(dashboards::admin_dashboard))
        .routes(routes!(dashboards::seller_analytics))
        .routes(routes!(sql::ask))
        .routes(routes!(sql::tables))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::read))
        .routes(routes!(notifications::read_all))
        .routes(routes!(chat::start, chat::list))
        .routes(routes!(chat::history, chat::send))
        .routes(routes!(chat::read))
        .routes(with_upload_limit(routes!(chat::upload_image)))
        .routes(routes!(crate::live::socket::connect))
        .routes(with_body_limit(
            routes!(logs::browser_lines),
            logs::MAX_BROWSER_BODY,
        ))
        .routes(routes!(logs::admin_logs))
        .routes(routes!(health::health))
        .routes(routes!(metrics::metrics))
}

/// The OpenAPI document of every route [`router`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

/// The API: `/api/*`, `/health`, `/api/openapi.json` and the docs page at `/api/docs`.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = documented().split_for_parts();
    routes
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", doc))
        .route("/media/{id}/{file}", axum::routing::get(media::serve))
        .route("/api/{*rest}", axum::routing::any(unknown_route))
        // Requests are spans at info, so every line a handler writes carries its method and path
        // (in the console and in the log stream).
        .layer(
            TraceLayer::new_for_http().make_span_with(
                tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
            ),
        )
        .with_state(state)
}

/// Tells a JSON field that is `null` (→ `Some(None)`) from one left out (→ `None`), for PATCH bodies.
fn some<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Lets an upload route take an image of the largest accepted size (other routes keep axum's 2 MB).
fn with_upload_limit(
    routes: utoipa_axum::router::UtoipaMethodRouter<AppState>,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    with_body_limit(routes, crate::media::MAX_UPLOAD_BYTES + 64 * 1024)
}

fn with_body_limit(
    (schemas, paths, method): utoipa_axum::router::UtoipaMethodRouter<AppState>,
    bytes: usize,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let limit = axum::extract::DefaultBodyLimit::max(bytes);
    (schemas, paths, method.layer(limit))
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such API route; see /api/docs".into())
}
