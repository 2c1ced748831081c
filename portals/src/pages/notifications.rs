//! `/notifications`: what the notification pipeline delivered to the signed-in person, in the
//! frame of their own portal; opening one marks it read and follows its link.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Empty, Viewer};
use api::AppState;
use api::routes::notifications::{NotificationList, list_for};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Command, KEPT_PER_RECIPIENT, NotificationCommand};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    chrome: Chrome,
    list: NotificationList,
    unread_only: bool,
}

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    unread: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(filter): Query<Filter>,
) -> Response {
    let principal = match super::account::signed_in(&app, &viewer, "/notifications") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let state = app.state();
    let unread_only = filter.unread.is_some();
    NotificationsPage {
        chrome: Chrome::with(
            &state,
            super::account::portal_of(principal.account.role).name(),
            &viewer,
        )
        .in_section("notifications"),
        list: list_for(
            &state,
            principal.account.id,
            KEPT_PER_RECIPIENT,
            unread_only,
        ),
        unread_only,
    }
    .into_response()
}

/// Marks one read and goes where it points.
pub async fn open(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let principal = match super::account::signed_in(&app, &viewer, "/notifications") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let state = app.state();
    let link = state
        .notifications_of(principal.account.id)
        .into_iter()
        .find(|(n, _)| n.id == id)
        .map(|(n, _)| n.link.clone().unwrap_or_else(|| "/notifications".into()));
    let Some(link) = link else {
        return super::not_found_page(
            &app,
            &viewer,
            "shop",
            "That notification is not yours, or is gone.",
        );
    };
    if let Err(e) = app
        .execute(
            principal.actor(),
            Command::Notification(NotificationCommand::Read { ids: vec![id] }),
        )
        .await
    {
        tracing::warn!(error = %e, "a notification could not be marked read");
    }
    Redirect::to(&link).into_response()
}

pub async fn read_all(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let principal = match super::account::signed_in(&app, &viewer, "/notifications") {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    match app
        .execute(
            principal.actor(),
            Command::Notification(NotificationCommand::ReadAll),
        )
        .await
    {
        Ok(_) => Redirect::to("/notifications").into_response(),
        Err(e) => super::refused_page(&app, &viewer, crate::session::Portal::Shop, &e.to_string()),
    }
}
