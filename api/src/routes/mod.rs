//! The HTTP routes, one module per resource, merged here. Every route is registered through
//! `utoipa_axum::routes!`, so the router and `/api/openapi.json` are built from the same list and
//! cannot drift apart (a test checks it anyway).

mod activity;
mod health;
mod metrics;
mod products;
mod site;

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
    info(title = "Marketplace API", description = "The JSON API of the marketplace: catalog, activity and health."),
    tags(
        (name = "catalog", description = "The site, categories and products"),
        (name = "engagement", description = "What shoppers do"),
        (name = "operations", description = "Health of the service and its workers"),
    )
)]
struct ApiDoc;

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(site::get_site))
        .routes(routes!(products::list_products))
        .routes(routes!(products::get_product))
        .routes(routes!(activity::record_activity))
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
        .route("/api/{*rest}", axum::routing::any(unknown_route))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn unknown_route() -> ApiError {
    ApiError::NotFound("no such API route; see /api/docs".into())
}
