//! Admin pages for people: users (search, ban, lift bans), admins (promote), analysts (create),
//! and the outbox of mail sent in embedded mode.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Empty, Viewer, encode};
use api::auth::flows;
use api::{AccountView, ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{AccountCommand, AccountId, Command, Role};
use serde::Deserialize;
use std::collections::BTreeMap;

const PER_PAGE: usize = 25;

#[derive(Template, WebTemplate)]
#[template(path = "admin_accounts.html")]
pub struct AccountsPage {
    chrome: Chrome,
    /// `users`, `admins` or `analysts`.
    view: &'static str,
    accounts: Vec<AccountView>,
    me: uuid::Uuid,
    q: String,
    role: String,
    banned: String,
    page: usize,
    pages: usize,
    total: usize,
    notice: Option<String>,
    message: Option<String>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
}

impl AccountsPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }

    /// The query string of this listing with another page number.
    fn page_href(&self, page: usize) -> String {
        format!(
            "/admin/{}?q={}&role={}&banned={}&page={page}",
            self.view,
            encode(&self.q),
            encode(&self.role),
            encode(&self.banned)
        )
    }
}

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    banned: String,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    done: String,
}

fn notice(done: &str) -> Option<String> {
    match done {
        "banned" => Some("The account is banned; it was signed out everywhere at once.".into()),
        "unbanned" => Some("The ban is lifted.".into()),
        "promoted" => Some("The account is now an admin.".into()),
        "analyst" => {
            Some("The analyst account is ready; share the password with them safely.".into())
        }
        _ => None,
    }
}

struct Listing {
    view: &'static str,
    query: UsersQuery,
    error: Option<ApiError>,
    values: BTreeMap<String, String>,
}

fn render(app: &AppState, viewer: &Viewer, me: uuid::Uuid, listing: Listing) -> Response {
    let state = app.state();
    let Listing {
        view,
        query,
        error,
        values,
    } = listing;
    let q = query.q.trim().to_lowercase();
    let mut accounts: Vec<&domain::Account> = state
        .accounts
        .values()
        .filter(|a| match view {
            "admins" => a.role == Role::Admin,
            "analysts" => a.role == Role::Analyst,
            _ => query.role.is_empty() || api::role_name(a.role) == query.role,
        })
        .filter(|a| match query.banned.as_str() {
            "yes" => a.banned.is_some(),
            "no" => a.banned.is_none(),
            _ => true,
        })
        .filter(|a| q.is_empty() || a.email.contains(&q) || a.name.to_lowercase().contains(&q))
        .collect();
    accounts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let total = accounts.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let accounts = accounts
        .into_iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|a| AccountView::build(&state, a))
        .collect();
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status());
    let page = AccountsPage {
        chrome: Chrome::with(&state, "admin", viewer).in_section(view),
        view,
        accounts,
        me,
        notice: notice(&query.done),
        q: query.q,
        role: query.role,
        banned: query.banned,
        page,
        pages,
        total,
        message: error.as_ref().map(super::form_message),
        errors: error
            .as_ref()
            .map(ApiError::field_errors)
            .unwrap_or_default(),
        values,
    };
    (status, page).into_response()
}

fn listing(view: &'static str, query: UsersQuery) -> Listing {
    Listing {
        view,
        query,
        error: None,
        values: BTreeMap::new(),
    }
}

/// One of the account lists (`users`, `admins`, `analysts`), at `/admin/{view}`.
fn list(app: &AppState, viewer: &Viewer, view: &'static str, query: UsersQuery) -> Response {
    match viewer.require_admin(app, &format!("/admin/{view}")) {
        Ok(me) => render(app, viewer, me.account.id.0, listing(view, query)),
        Err(refused) => refused,
    }
}

pub async fn users(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<UsersQuery>,
) -> Response {
    list(&app, &viewer, "users", query)
}

pub async fn admins(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<UsersQuery>,
) -> Response {
    list(&app, &viewer, "admins", query)
}

pub async fn analysts(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<UsersQuery>,
) -> Response {
    list(&app, &viewer, "analysts", query)
}

#[derive(Deserialize)]
pub struct BanForm {
    #[serde(default)]
    reason: String,
}

pub async fn ban(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<BanForm>,
) -> Response {
    let me = match viewer.require_admin(&app, "/admin/users") {
        Ok(me) => me.clone(),
        Err(refused) => return refused,
    };
    let command = Command::Account(AccountCommand::Ban {
        account: AccountId(id),
        reason: form.reason.clone(),
    });
    match app.execute(me.actor(), command).await {
        Ok(_) => Redirect::to("/admin/users?done=banned").into_response(),
        Err(e) => {
            let values = BTreeMap::from([(format!("reason-{id}"), form.reason)]);
            render(
                &app,
                &viewer,
                me.account.id.0,
                Listing {
                    view: "users",
                    query: UsersQuery::default(),
                    error: Some(e),
                    values,
                },
            )
        }
    }
}

pub async fn unban(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let me = match viewer.require_admin(&app, "/admin/users") {
        Ok(me) => me.clone(),
        Err(refused) => return refused,
    };
    match app
        .execute(
            me.actor(),
            Command::Account(AccountCommand::Unban {
                account: AccountId(id),
            }),
        )
        .await
    {
        Ok(_) => Redirect::to("/admin/users?done=unbanned").into_response(),
        Err(e) => render(
            &app,
            &viewer,
            me.account.id.0,
            Listing {
                view: "users",
                query: UsersQuery::default(),
                error: Some(e),
                values: BTreeMap::new(),
            },
        ),
    }
}

#[derive(Deserialize)]
pub struct PromoteForm {
    email: String,
}

pub async fn promote(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PromoteForm>,
) -> Response {
    let me = match viewer.require_admin(&app, "/admin/admins") {
        Ok(me) => me.clone(),
        Err(refused) => return refused,
    };
    let result = match app.state().account_by_email(&form.email).map(|a| a.id) {
        None => Err(ApiError::Invalid {
            message: "email: no account has this e-mail".into(),
            fields: BTreeMap::from([("email".into(), "no account has this e-mail".into())]),
        }),
        Some(account) => app
            .execute(
                me.actor(),
                Command::Account(AccountCommand::PromoteToAdmin { account }),
            )
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Redirect::to("/admin/admins?done=promoted").into_response(),
        Err(e) => {
            let values = BTreeMap::from([("email".to_string(), form.email)]);
            render(
                &app,
                &viewer,
                me.account.id.0,
                Listing {
                    view: "admins",
                    query: UsersQuery::default(),
                    error: Some(e),
                    values,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct AnalystForm {
    name: String,
    email: String,
    password: String,
}

pub async fn create_analyst(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AnalystForm>,
) -> Response {
    let me = match viewer.require_admin(&app, "/admin/analysts") {
        Ok(me) => me.clone(),
        Err(refused) => return refused,
    };
    match flows::create_account(
        &app,
        me.actor(),
        &form.name,
        &form.email,
        Role::Analyst,
        &form.password,
    )
    .await
    {
        Ok(_) => Redirect::to("/admin/analysts?done=analyst").into_response(),
        Err(e) => {
            let values = BTreeMap::from([
                ("name".to_string(), form.name),
                ("email".to_string(), form.email),
            ]);
            render(
                &app,
                &viewer,
                me.account.id.0,
                Listing {
                    view: "analysts",
                    query: UsersQuery::default(),
                    error: Some(e),
                    values,
                },
            )
        }
    }
}

pub struct Letter {
    at: chrono::DateTime<chrono::Utc>,
    to: String,
    subject: String,
    text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_outbox.html")]
pub struct OutboxPage {
    chrome: Chrome,
    smtp: bool,
    dir: String,
    to: String,
    letters: Vec<Letter>,
}

#[derive(Deserialize, Default)]
pub struct OutboxQuery {
    #[serde(default)]
    to: String,
}

/// `/admin/outbox`: the newest 100 letters written to `data/outbox`.
pub async fn outbox(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<OutboxQuery>,
) -> Response {
    if let Err(refused) = viewer.require_admin(&app, "/admin/outbox") {
        return refused;
    }
    let letters = match app.outbox.clone() {
        Some(outbox) => {
            let to = Some(query.to.trim().to_string()).filter(|t| !t.is_empty());
            tokio::task::spawn_blocking(move || outbox.list(to.as_deref(), 100))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    OutboxPage {
        chrome: Chrome::with(&app.state(), "admin", &viewer).in_section("outbox"),
        smtp: app.outbox.is_none(),
        dir: app.config.outbox_dir().display().to_string(),
        to: query.to,
        letters: letters
            .into_iter()
            .map(|l| Letter {
                at: l.at,
                to: l.to,
                subject: l.subject,
                text: l.text,
            })
            .collect(),
    }
    .into_response()
}
