//! Checkout (`/checkout`: address and summary), the payment page (`/pay/{id}`: the sandbox's card
//! form, or Stripe's), and the thank-you page (`/checkout/{id}/done`).

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Portal, Viewer};
use api::AddressView;
use api::orders::views::{CartView, CheckoutView, OrderView};
use api::{ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{AccountCommand, Address, AddressId, CartOwner, CheckoutId, CheckoutStatus, Command};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "checkout.html")]
pub struct CheckoutPage {
    chrome: Chrome,
    cart: CartView,
    addresses: Vec<AddressView>,
    error: Option<String>,
    /// The new-address fields as typed, kept when the page comes back with an error.
    typed: NewAddressForm,
}

fn checkout_page(
    app: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    typed: NewAddressForm,
) -> Response {
    let Some(principal) = viewer.principal() else {
        return Redirect::to("/login?next=/checkout").into_response();
    };
    let mut addresses: Vec<AddressView> = principal
        .account
        .addresses
        .iter()
        .map(AddressView::from)
        .collect();
    addresses.sort_by_key(|a| !a.is_default);
    let page = CheckoutPage {
        chrome: Chrome::with(&app.state(), "shop", viewer),
        cart: api::orders::cart_view(app, CartOwner::Account(principal.account.id)),
        addresses,
        error,
        typed,
    };
    let status = if page.error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    (status, page).into_response()
}

/// `/checkout`: where to deliver, and what will be paid.
pub async fn show(State(app): State<AppState>, viewer: Viewer) -> Response {
    if let Err(response) = viewer.require(&app, Portal::Shop, "/checkout") {
        return response;
    }
    checkout_page(&app, &viewer, None, NewAddressForm::default())
}

#[derive(Deserialize, Default, Clone)]
pub struct NewAddressForm {
    /// An existing address, or `new` for the fields below.
    #[serde(default)]
    pub address_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub zip: String,
    #[serde(default)]
    pub country: String,
}

/// Opens the payment session (adding the new address first, when one was typed) and goes to
/// the payment page.
pub async fn submit(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<NewAddressForm>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Shop, "/checkout") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let address = if form.address_id.is_empty() || form.address_id == "new" {
        let id = AddressId(uuid::Uuid::now_v7());
        let address = Address {
            id,
            label: "Delivery".into(),
            name: form.name.clone(),
            street: form.street.clone(),
            city: form.city.clone(),
            zip: form.zip.clone(),
            country: form.country.trim().to_uppercase(),
            is_default: principal.account.addresses.is_empty(),
        };
        let add = AccountCommand::AddAddress {
            account: principal.account.id,
            address,
        };
        if let Err(e) = app.execute(principal.actor(), Command::Account(add)).await {
            return checkout_page(
                &app,
                &viewer,
                Some(super::form_message(&e) + &field_list(&e)),
                form,
            );
        }
        id
    } else {
        match form.address_id.parse() {
            Ok(id) => AddressId(id),
            Err(_) => {
                return checkout_page(
                    &app,
                    &viewer,
                    Some("Choose a delivery address.".into()),
                    form,
                );
            }
        }
    };
    match api::orders::checkout(&app, principal.account.id, address).await {
        Ok(session) => Redirect::to(&pay_link(&session)).into_response(),
        Err(e) => checkout_page(&app, &viewer, Some(e.public_message()), form),
    }
}

fn field_list(e: &ApiError) -> String {
    let fields = e.field_errors();
    if fields.is_empty() {
        return String::new();
    }
    let list: Vec<String> = fields
        .iter()
        .map(|(f, why)| format!("{f}: {why}"))
        .collect();
    format!(" ({})", list.join("; "))
}

fn pay_link(session: &CheckoutView) -> String {
    format!("/pay/{}", session.session_id)
}

#[derive(Template, WebTemplate)]
#[template(path = "pay.html")]
pub struct PayPage {
    chrome: Chrome,
    session: CheckoutView,
    /// `card` (the form), `authenticate` (the bank's extra step).
    step: &'static str,
    card_number: String,
    error: Option<String>,
    /// With Stripe: the publishable key and the payment's client secret for Stripe.js.
    stripe: Option<(String, String)>,
}

fn find_checkout(
    app: &AppState,
    viewer: &Viewer,
    id: uuid::Uuid,
) -> Result<domain::Checkout, Response> {
    let principal = viewer.require(app, Portal::Shop, &format!("/pay/{id}"))?;
    app.state()
        .checkouts
        .get(&CheckoutId(id))
        .filter(|c| c.owner == principal.account.id)
        .cloned()
        .ok_or_else(|| super::not_found_page(app, viewer, "shop", "There is no such payment."))
}

fn pay_page(
    app: &AppState,
    viewer: &Viewer,
    checkout: &domain::Checkout,
    step: &'static str,
    card_number: String,
    error: Option<String>,
) -> Response {
    let page = PayPage {
        chrome: Chrome::with(&app.state(), "shop", viewer),
        session: CheckoutView::build(checkout, None),
        step,
        card_number,
        error,
        stripe: None,
    };
    let status = if page.error.is_some() {
        StatusCode::PAYMENT_REQUIRED
    } else {
        StatusCode::OK
    };
    (status, page).into_response()
}

/// `/pay/{id}`: the payment page of an open checkout.
pub async fn pay_form(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    let checkout = match find_checkout(&app, &viewer, id) {
        Ok(c) => c,
        Err(response) => return response,
    };
    if checkout.status == CheckoutStatus::Paid {
        return Redirect::to(&format!("/checkout/{id}/done")).into_response();
    }
    if checkout.provider == "stripe" {
        // Stripe's Payment Element takes the card; the webhook confirms the payment.
        let key = app
            .config
            .stripe
            .as_ref()
            .and_then(|s| s.publishable_key.clone());
        let secret = api::orders::client_secret(&app, checkout.id).await;
        let page = PayPage {
            chrome: Chrome::with(&app.state(), "shop", &viewer),
            session: CheckoutView::build(&checkout, None),
            step: "card",
            card_number: String::new(),
            error: (key.is_none() || secret.is_none()).then(|| {
                "Card payments are not available right now (the payment form is not configured). Please try again later.".to_string()
            }),
            stripe: key.zip(secret),
        };
        return page.into_response();
    }
    pay_page(&app, &viewer, &checkout, "card", String::new(), None)
}

#[derive(Deserialize)]
pub struct CardForm {
    #[serde(default)]
    card_number: String,
    /// `approve` or `decline`, on the extra authentication step.
    #[serde(default)]
    authentication: String,
}

/// Pays with the sandbox's card form.
pub async fn pay(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<CardForm>,
) -> Response {
    let checkout = match find_checkout(&app, &viewer, id) {
        Ok(c) => c,
        Err(response) => return response,
    };
    // The card form is the sandbox's: with Stripe, the money is taken by Stripe's own form.
    if checkout.provider != "sandbox" || app.payments.name() != "sandbox" {
        return super::not_found_page(&app, &viewer, "shop", "This payment is not taken here.");
    }
    let authentication = match form.authentication.as_str() {
        "approve" => Some(true),
        "decline" => Some(false),
        _ => None,
    };
    let outcome = api::payments::sandbox::pay(
        &app,
        checkout.owner,
        checkout.id,
        &form.card_number,
        authentication,
    )
    .await;
    match outcome {
        Ok(o) if o.status == "succeeded" => {
            Redirect::to(&format!("/checkout/{id}/done")).into_response()
        }
        Ok(o) if o.status == "requires_action" => pay_page(
            &app,
            &viewer,
            &checkout,
            "authenticate",
            form.card_number,
            None,
        ),
        Ok(o) => {
            let state = app.state();
            let checkout = state.checkouts.get(&checkout.id).unwrap_or(&checkout);
            pay_page(
                &app,
                &viewer,
                checkout,
                "card",
                String::new(),
                Some(format!("{}.", capitalized(&o.message))),
            )
        }
        Err(e) => pay_page(
            &app,
            &viewer,
            &checkout,
            "card",
            form.card_number,
            Some(e.public_message()),
        ),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "order_done.html")]
pub struct DonePage {
    chrome: Chrome,
    orders: Vec<OrderView>,
    /// Paid, but the provider's confirmation has not arrived yet (the page refreshes itself).
    waiting: bool,
}

/// `/checkout/{id}/done`: the thank-you page with the orders the payment placed.
pub async fn done(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    let checkout = match find_checkout(&app, &viewer, id) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let state = app.state();
    let orders: Vec<OrderView> = checkout
        .priced
        .shops
        .iter()
        .filter_map(|s| state.orders.get(&checkout.order_id(s.shop_id)))
        .map(|o| OrderView::build(&state, o, false))
        .collect();
    DonePage {
        chrome: Chrome::with(&state, "shop", &viewer),
        waiting: orders.is_empty() && checkout.status == CheckoutStatus::Open,
        orders,
    }
    .into_response()
}
