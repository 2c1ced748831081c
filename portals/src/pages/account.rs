//! `/account`: the signed-in person's details, a shopper's addresses, and the password change.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Empty, Portal, Viewer};
use api::auth::{self, flows};
use api::{AccountView, ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use domain::{AccountCommand, Address, AddressId, Command, Role};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    chrome: Chrome,
    account: AccountView,
    is_shopper: bool,
    notice: Option<String>,
    /// Which form the errors belong to: `address` or `password`.
    failed: &'static str,
    message: Option<String>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
}

impl AccountPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }
}

#[derive(Deserialize, Default)]
pub struct Notice {
    #[serde(default)]
    welcome: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// The portal whose frame the account page wears: the one of the person's role.
pub(super) fn portal_of(role: Role) -> Portal {
    match role {
        Role::Shopper => Portal::Shop,
        Role::Seller => Portal::Seller,
        Role::Admin | Role::Analyst => Portal::Admin,
    }
}

fn render(
    app: &AppState,
    viewer: &Viewer,
    notice: Option<String>,
    failed: &'static str,
    error: Option<&ApiError>,
    values: BTreeMap<String, String>,
) -> Response {
    let Some(principal) = viewer.principal() else {
        return Redirect::to("/login?next=/account").into_response();
    };
    let state = app.state();
    let account = state
        .accounts
        .get(&principal.account.id)
        .unwrap_or(&principal.account);
    let page = AccountPage {
        chrome: Chrome::with(&state, portal_of(account.role).name(), viewer),
        account: AccountView::build(&state, account),
        is_shopper: account.role == Role::Shopper,
        notice,
        failed,
        message: error.map(super::form_message),
        errors: error.map(ApiError::field_errors).unwrap_or_default(),
        values,
    };
    (error.map_or(StatusCode::OK, |e| e.status()), page).into_response()
}

pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Notice>,
) -> Response {
    if let Err(refused) = signed_in(&app, &viewer, "/account") {
        return refused;
    }
    let notice = match (q.welcome, q.done.as_deref()) {
        (Some(_), _) => Some("Welcome! Your account is ready.".to_string()),
        (_, Some("password")) => {
            Some("Password changed. Other devices were signed out.".to_string())
        }
        (_, Some("address")) => Some("Address saved.".to_string()),
        (_, Some("removed")) => Some("Address removed.".to_string()),
        _ => None,
    };
    render(&app, &viewer, notice, "", None, BTreeMap::new())
}

/// The signed-in person, or the way to sign in (and back to `here`), or why not.
pub(super) fn signed_in<'v>(
    app: &AppState,
    viewer: &'v Viewer,
    here: &str,
) -> Result<&'v api::auth::Principal, Response> {
    match &viewer.auth {
        Ok(p) => Ok(p),
        Err(ApiError::Banned(reason)) => Err(super::refused_page(
            app,
            viewer,
            Portal::Shop,
            &format!("This account is banned: {reason}"),
        )),
        Err(_) => Err(Redirect::to(&format!("/login?next={here}")).into_response()),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(app): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let principal = match signed_in(&app, &viewer, "/account") {
        Ok(p) => p.clone(),
        Err(refused) => return refused,
    };
    match flows::change_password(
        &app,
        &principal.account,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(session) => {
            let jar = auth::set_session(jar, &session, app.config.secure_cookies);
            (jar, Redirect::to("/account?done=password")).into_response()
        }
        Err(e) => render(&app, &viewer, None, "password", Some(&e), BTreeMap::new()),
    }
}

#[derive(Deserialize)]
pub struct AddressForm {
    label: String,
    name: String,
    street: String,
    city: String,
    zip: String,
    country: String,
    #[serde(default)]
    is_default: Option<String>,
}

pub async fn add_address(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AddressForm>,
) -> Response {
    let principal = match signed_in(&app, &viewer, "/account") {
        Ok(p) => p.clone(),
        Err(refused) => return refused,
    };
    let values: BTreeMap<String, String> = [
        ("label", &form.label),
        ("name", &form.name),
        ("street", &form.street),
        ("city", &form.city),
        ("zip", &form.zip),
        ("country", &form.country),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    let address = Address {
        id: AddressId(uuid::Uuid::now_v7()),
        label: form.label,
        name: form.name,
        street: form.street,
        city: form.city,
        zip: form.zip,
        country: form.country.trim().to_ascii_uppercase(),
        is_default: form.is_default.is_some(),
    };
    let command = Command::Account(AccountCommand::AddAddress {
        account: principal.account.id,
        address,
    });
    match app.execute(principal.actor(), command).await {
        Ok(_) => Redirect::to("/account?done=address").into_response(),
        Err(e) => render(&app, &viewer, None, "address", Some(&e), values),
    }
}

pub async fn remove_address(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let principal = match signed_in(&app, &viewer, "/account") {
        Ok(p) => p.clone(),
        Err(refused) => return refused,
    };
    let command = Command::Account(AccountCommand::RemoveAddress {
        account: principal.account.id,
        address: AddressId(id),
    });
    match app.execute(principal.actor(), command).await {
        Ok(_) => Redirect::to("/account?done=removed").into_response(),
        Err(e) => render(&app, &viewer, None, "address", Some(&e), BTreeMap::new()),
    }
}
