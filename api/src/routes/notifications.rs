//! `/api/notifications`: what the notification pipeline delivered to the signed-in account, and
//! its read marks.

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use domain::{Command, Notification, NotificationCommand, State as Marketplace};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    /// `order.new`, `order.status`, `order.cancelled`, `payment.received`, `stock.low`,
    /// `shop.followed`, `review.posted`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub at: DateTime<Utc>,
    pub read: bool,
}

impl NotificationView {
    pub(crate) fn new(n: &Notification, read: bool) -> Self {
        NotificationView {
            id: n.id.clone(),
            kind: n.kind.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            link: n.link.clone(),
            at: n.at,
            read,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    /// Unread, over everything the account has (not only this page).
    pub unread: usize,
    pub items: Vec<NotificationView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// How many, newest first (default 20, at most 200).
    limit: Option<usize>,
    /// Only the unread ones.
    #[serde(default)]
    unread: bool,
}

/// The account's notifications, newest first, with the unread count.
pub fn list_for(
    state: &Marketplace,
    account: domain::AccountId,
    limit: usize,
    unread_only: bool,
) -> NotificationList {
    let all = state.notifications_of(account);
    let unread = all.iter().filter(|(_, read)| !read).count();
    let items = all
        .into_iter()
        .filter(|(_, read)| !unread_only || !read)
        .take(limit)
        .map(|(n, read)| NotificationView::new(n, read))
        .collect();
    NotificationList { unread, items }
}

/// Own notifications, newest first, and how many are unread.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(ListQuery),
    responses((status = 200, body = NotificationList), (status = 401, body = ErrorBody)))]
pub(super) async fn list(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(query): Query<ListQuery>,
) -> Json<NotificationList> {
    let limit = query
        .limit
        .unwrap_or(20)
        .clamp(1, domain::KEPT_PER_RECIPIENT);
    Json(list_for(&app.state(), user.account.id, limit, query.unread))
}

/// Marks one notification read. 404 when it is not the caller's.
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications",
    params(("id" = String, Path)),
    responses((status = 200, body = NotificationList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn read(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<NotificationList>, ApiError> {
    app.execute(
        user.actor(),
        Command::Notification(NotificationCommand::Read { ids: vec![id] }),
    )
    .await?;
    Ok(Json(list_for(&app.state(), user.account.id, 20, false)))
}

/// Marks everything the caller has read.
#[utoipa::path(post, path = "/api/notifications/read-all", tag = "notifications",
    responses((status = 200, body = NotificationList), (status = 401, body = ErrorBody)))]
pub(super) async fn read_all(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<NotificationList>, ApiError> {
    app.execute(
        user.actor(),
        Command::Notification(NotificationCommand::ReadAll),
    )
    .await?;
    Ok(Json(list_for(&app.state(), user.account.id, 20, false)))
}
