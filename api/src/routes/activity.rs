use crate::app::AppState;
use crate::auth::MaybeUser;
use crate::error::{ApiError, ErrorBody};
use crate::request::{Visitor, client_context};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::cookie::CookieJar;
use domain::{
    ActivityDetails, ActivityKind, Actor, Command, ProductId, RecommendationContext, ShopId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivityRequest {
    /// `product_view`, `add_to_cart`, `add_to_wishlist`, `shop_visit`, `search`,
    /// `recommendation_shown` or `recommendation_click`.
    #[schema(value_type = String, example = "product_view")]
    kind: ActivityKind,
    product_id: Option<uuid::Uuid>,
    shop_id: Option<uuid::Uuid>,
    query: Option<String>,
    /// For `recommendation_shown` and `recommendation_click`: where (`home`, `similar`), by what
    /// (the `model_run` of `/api/recommendations`, or `trending`) and, when shown, which products.
    recommendation: Option<RecommendationRequest>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecommendationRequest {
    placement: String,
    source: String,
    #[serde(default)]
    products: Vec<uuid::Uuid>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ActivityRecorded {
    kind: String,
}

/// Records what a visitor did. Anonymous visitors get a session cookie (`sid`); device, country
/// and city come from the request.
#[utoipa::path(
    post,
    path = "/api/activity",
    tag = "engagement",
    request_body = ActivityRequest,
    responses(
        (status = 202, body = ActivityRecorded, description = "Recorded durably"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)
    )
)]
pub(super) async fn record_activity(
    State(app): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    MaybeUser(user): MaybeUser,
    body: Result<Json<ActivityRequest>, JsonRejection>,
) -> Result<(StatusCode, CookieJar, Json<ActivityRecorded>), ApiError> {
    let Json(request) = body?;
    let visitor = Visitor::from_cookies(&jar);
    let details = ActivityDetails {
        product_id: request.product_id.map(ProductId),
        shop_id: request.shop_id.map(ShopId),
        query: request.query,
        recommendation: request.recommendation.map(|r| RecommendationContext {
            placement: r.placement,
            source: r.source,
            products: r.products.into_iter().map(ProductId).collect(),
        }),
        client: client_context(&headers),
    };
    // Signed in (and not banned): the activity is the account's. Otherwise, or when a cookie
    // session sent no CSRF header, it belongs to the browser session.
    let actor = match user {
        Some(principal) => principal.actor(),
        None => Actor::Anonymous {
            session: visitor.session,
        },
    };
    app.execute(
        actor,
        Command::RecordActivity {
            kind: request.kind,
            details,
        },
    )
    .await?;
    let jar = visitor.remember(jar, app.config.secure_cookies);
    Ok((
        StatusCode::ACCEPTED,
        jar,
        Json(ActivityRecorded {
            kind: request.kind.as_str().to_string(),
        }),
    ))
}
