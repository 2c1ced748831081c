//! `/api/me`: the signed-in account and a shopper's addresses.

use crate::app::AppState;
use crate::auth::{CurrentUser, Shopper};
use crate::error::{ApiError, ErrorBody};
use crate::views::{AccountView, AddressView};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::{AccountCommand, Address, AddressId, Command};
use serde::Deserialize;
use utoipa::ToSchema;

/// The signed-in account (with the shop, for sellers).
#[utoipa::path(get, path = "/api/me", tag = "accounts",
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn me(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Json<AccountView> {
    Json(AccountView::build(&app.state(), &user.account))
}

/// The shopper's addresses, the default first.
#[utoipa::path(get, path = "/api/me/addresses", tag = "accounts",
    responses((status = 200, body = [AddressView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list_addresses(Shopper(user): Shopper) -> Json<Vec<AddressView>> {
    let mut addresses: Vec<AddressView> = user
        .account
        .addresses
        .iter()
        .map(AddressView::from)
        .collect();
    addresses.sort_by_key(|a| !a.is_default);
    Json(addresses)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAddress {
    pub label: String,
    pub name: String,
    pub street: String,
    pub city: String,
    pub zip: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
    #[serde(default)]
    pub is_default: bool,
}

/// Adds an address (the first one becomes the default).
#[utoipa::path(post, path = "/api/me/addresses", tag = "accounts", request_body = NewAddress,
    responses((status = 201, body = AddressView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn add_address(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    body: Result<Json<NewAddress>, JsonRejection>,
) -> Result<(StatusCode, Json<AddressView>), ApiError> {
    let Json(new) = body?;
    let address = Address {
        id: AddressId(uuid::Uuid::now_v7()),
        label: new.label,
        name: new.name,
        street: new.street,
        city: new.city,
        zip: new.zip,
        country: new.country.trim().to_ascii_uppercase(),
        is_default: new.is_default,
    };
    let id = address.id;
    app.execute(
        user.actor(),
        Command::Account(AccountCommand::AddAddress {
            account: user.account.id,
            address,
        }),
    )
    .await?;
    let state = app.state();
    let saved = state.accounts[&user.account.id]
        .addresses
        .iter()
        .find(|a| a.id == id)
        .map(AddressView::from)
        .ok_or_else(|| ApiError::Internal("a saved address is missing".into()))?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Removes one of the shopper's addresses.
#[utoipa::path(delete, path = "/api/me/addresses/{id}", tag = "accounts", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn remove_address(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    app.execute(
        user.actor(),
        Command::Account(AccountCommand::RemoveAddress {
            account: user.account.id,
            address: AddressId(id),
        }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
