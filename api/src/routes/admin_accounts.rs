//! `/api/admin/users`, `/api/admin/admins`, `/api/admin/analysts`, `/api/admin/outbox`: admins
//! look after accounts.

use crate::app::AppState;
use crate::auth::{Admin, flows};
use crate::error::{ApiError, ErrorBody};
use crate::views::{AccountView, Page, role_name};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use domain::{AccountCommand, AccountId, Command, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct UserFilter {
    /// Matches name or e-mail, case-insensitively.
    q: Option<String>,
    /// `shopper`, `seller`, `admin` or `analyst`.
    role: Option<String>,
    /// Only banned (`true`) or not banned (`false`) accounts.
    banned: Option<bool>,
    /// `csv` downloads every matching account instead of a page of JSON.
    format: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// Accounts, newest first, filtered and paged; `?format=csv` downloads them.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(UserFilter),
    responses((status = 200, body = Page<AccountView>, description = "JSON, or text/csv with format=csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_users(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<UserFilter>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Query(filter) = filter?;
    let q = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let state = app.state();
    let mut accounts: Vec<&domain::Account> = state
        .accounts
        .values()
        .filter(|a| {
            filter
                .role
                .as_deref()
                .is_none_or(|r| role_name(a.role) == r)
        })
        .filter(|a| filter.banned.is_none_or(|b| a.banned.is_some() == b))
        .filter(|a| {
            q.as_deref()
                .is_none_or(|q| a.email.contains(q) || a.name.to_lowercase().contains(q))
        })
        .collect();
    accounts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    if filter.format.as_deref() == Some("csv") {
        let mut csv = crate::csv::Csv::new(&[
            "account_id",
            "email",
            "name",
            "role",
            "country",
            "created_at",
            "banned",
            "ban_reason",
            "orders",
        ]);
        for a in &accounts {
            let orders = state.shopper_orders.get(&a.id).map_or(0, |o| o.len());
            csv.row([
                a.id.to_string(),
                a.email.clone(),
                a.name.clone(),
                role_name(a.role).to_string(),
                a.country.clone().unwrap_or_default(),
                a.created_at.to_rfc3339(),
                a.banned.is_some().to_string(),
                a.banned
                    .as_ref()
                    .map_or(String::new(), |b| b.reason.clone()),
                orders.to_string(),
            ]);
        }
        return Ok(csv.download("accounts.csv"));
    }
    // Views only for the page shown.
    let page = Page::of(accounts.into_iter(), filter.page, filter.per_page, |a| {
        AccountView::build(&state, a)
    });
    Ok(Json(page).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BanRequest {
    reason: String,
}

fn account_view(app: &AppState, id: AccountId) -> Result<Json<AccountView>, ApiError> {
    let state = app.state();
    let account = state
        .accounts
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("account {id} not found")))?;
    Ok(Json(AccountView::build(&state, account)))
}

/// Bans an account: it is refused everywhere from the next request on.
#[utoipa::path(post, path = "/api/admin/users/{id}/ban", tag = "admin", params(("id" = uuid::Uuid, Path)), request_body = BanRequest,
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn ban(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<uuid::Uuid>,
    body: Result<Json<BanRequest>, JsonRejection>,
) -> Result<Json<AccountView>, ApiError> {
    let Json(request) = body?;
    let account = AccountId(id);
    app.execute(
        admin.actor(),
        Command::Account(AccountCommand::Ban {
            account,
            reason: request.reason,
        }),
    )
    .await?;
    account_view(&app, account)
}

/// Lifts a ban.
#[utoipa::path(delete, path = "/api/admin/users/{id}/ban", tag = "admin", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn unban(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<AccountView>, ApiError> {
    let account = AccountId(id);
    app.execute(
        admin.actor(),
        Command::Account(AccountCommand::Unban { account }),
    )
    .await?;
    account_view(&app, account)
}

fn with_role(app: &AppState, role: Role) -> Vec<AccountView> {
    let state = app.state();
    let mut accounts: Vec<AccountView> = state
        .accounts
        .values()
        .filter(|a| a.role == role)
        .map(|a| AccountView::build(&state, a))
        .collect();
    accounts.sort_by(|a, b| a.email.cmp(&b.email));
    accounts
}

/// Every admin.
#[utoipa::path(get, path = "/api/admin/admins", tag = "admin",
    responses((status = 200, body = [AccountView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_admins(
    State(app): State<AppState>,
    Admin(_): Admin,
) -> Json<Vec<AccountView>> {
    Json(with_role(&app, Role::Admin))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PromoteRequest {
    email: String,
}

/// Makes an existing account an admin.
#[utoipa::path(post, path = "/api/admin/admins", tag = "admin", request_body = PromoteRequest,
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn promote(
    State(app): State<AppState>,
    Admin(admin): Admin,
    body: Result<Json<PromoteRequest>, JsonRejection>,
) -> Result<Json<AccountView>, ApiError> {
    let Json(request) = body?;
    let account = app
        .state()
        .account_by_email(&request.email)
        .map(|a| a.id)
        .ok_or_else(|| ApiError::NotFound("no account has this e-mail".into()))?;
    app.execute(
        admin.actor(),
        Command::Account(AccountCommand::PromoteToAdmin { account }),
    )
    .await?;
    account_view(&app, account)
}

/// Every analyst.
#[utoipa::path(get, path = "/api/admin/analysts", tag = "admin",
    responses((status = 200, body = [AccountView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_analysts(
    State(app): State<AppState>,
    Admin(_): Admin,
) -> Json<Vec<AccountView>> {
    Json(with_role(&app, Role::Analyst))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAnalyst {
    pub name: String,
    pub email: String,
    /// The analyst's first password (they can change it, or reset it by e-mail).
    pub password: String,
}

/// Creates an analyst account (analysts read the lakehouse with SQL; they do not shop or sell).
#[utoipa::path(post, path = "/api/admin/analysts", tag = "admin", request_body = NewAnalyst,
    responses((status = 201, body = AccountView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn create_analyst(
    State(app): State<AppState>,
    Admin(admin): Admin,
    body: Result<Json<NewAnalyst>, JsonRejection>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let Json(new) = body?;
    let account = flows::create_account(
        &app,
        admin.actor(),
        &new.name,
        &new.email,
        Role::Analyst,
        &new.password,
    )
    .await?;
    Ok((StatusCode::CREATED, account_view(&app, account.id)?))
}

/// A letter in the outbox (embedded mail).
#[derive(Serialize, ToSchema)]
pub(crate) struct OutboxLetter {
    pub file: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct OutboxFilter {
    /// Only letters to this address.
    to: Option<String>,
    /// At most this many (default 50, at most 500).
    limit: Option<usize>,
}

/// Mail the marketplace sent, newest first — only when mail goes to the outbox (no `SMTP_URL`).
#[utoipa::path(get, path = "/api/admin/outbox", tag = "admin", params(OutboxFilter),
    responses((status = 200, body = [OutboxLetter]), (status = 404, body = ErrorBody, description = "Mail goes over SMTP")))]
pub(super) async fn outbox(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<OutboxFilter>, QueryRejection>,
) -> Result<Json<Vec<OutboxLetter>>, ApiError> {
    let Query(filter) = filter?;
    let outbox = app.outbox.clone().ok_or_else(|| {
        ApiError::NotFound("mail goes over SMTP here, so there is no outbox".into())
    })?;
    let limit = filter.limit.unwrap_or(50).clamp(1, 500);
    let letters = tokio::task::spawn_blocking(move || outbox.list(filter.to.as_deref(), limit))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("reading the outbox: {e}")))?;
    Ok(Json(
        letters
            .into_iter()
            .map(|l| OutboxLetter {
                file: l.file,
                at: l.at,
                to: l.to,
                subject: l.subject,
                text: l.text,
            })
            .collect(),
    ))
}
