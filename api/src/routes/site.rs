use crate::app::AppState;
use crate::views::SiteView;
use axum::Json;
use axum::extract::State;

/// The site configuration: name, categories with product counts, logo and banner.
#[utoipa::path(get, path = "/api/site", tag = "catalog", responses((status = 200, body = SiteView)))]
pub(super) async fn get_site(State(app): State<AppState>) -> Json<SiteView> {
    Json(SiteView::build(&app.state(), &app.catalog()))
}
