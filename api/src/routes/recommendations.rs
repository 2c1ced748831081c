use crate::app::AppState;
use crate::auth::MaybeUser;
use crate::error::{ApiError, ErrorBody};
use crate::recommend::{Ask, Source};
use crate::request::client_context;
use crate::views::ProductView;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct RecommendationsQuery {
    /// How many (1–48, default 12).
    limit: Option<usize>,
    /// "Similar items": products like this one (its id) instead of products for the viewer.
    similar_to: Option<uuid::Uuid>,
    /// Keep the cold-start fallback to this category (a page's context).
    category: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct RecommendationsView {
    /// `model` (ranked for the viewer by the serving model) or `trending` (the cold start).
    source: Source,
    /// The registry run of the model that ranked them, when `source` is `model`.
    model_run: Option<String>,
    products: Vec<ProductView>,
}

/// Products for the viewer: from the promoted model for a signed-in person it knows, otherwise
/// what is trending in their country (and `category`). Never what they bought, their own shop's
/// products, or anything deleted, hidden or out of stock. To report what was shown and clicked,
/// post `recommendation_shown` / `recommendation_click` to `/api/activity`.
#[utoipa::path(
    get,
    path = "/api/recommendations",
    tag = "catalog",
    params(RecommendationsQuery),
    responses((status = 200, body = RecommendationsView), (status = 400, body = ErrorBody))
)]
pub(super) async fn recommendations(
    State(app): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    query: Result<Query<RecommendationsQuery>, QueryRejection>,
) -> Result<Json<RecommendationsView>, ApiError> {
    let Query(query) = query?;
    let state = app.state();
    let ask = Ask {
        account: user.map(|p| p.account.id),
        country: client_context(&headers).country,
        category: query.category,
        similar_to: query.similar_to.map(domain::ProductId),
        limit: query.limit.unwrap_or(12),
    };
    let recommended = app.recommender.recommend(&state, &ask);
    Ok(Json(RecommendationsView {
        source: recommended.source,
        model_run: recommended.run_id,
        products: recommended
            .products
            .iter()
            .filter_map(|id| state.products.get(id))
            .map(|p| ProductView::build(&state, p))
            .collect(),
    }))
}
