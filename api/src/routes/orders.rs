//! Checkout, the payment webhook, the sandbox's card endpoint, and orders for shoppers, sellers
//! and admins.

use crate::app::AppState;
use crate::auth::{Admin, CurrentSeller, Shopper};
use crate::csv::Csv;
use crate::error::{ApiError, ErrorBody};
use crate::orders::views::{CheckoutView, OrderView};
use crate::payments::PayoutSummary;
use crate::payments::sandbox::SandboxOutcome;
use crate::payments::webhook::Receipt;
use crate::views::Page;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::{
    AddressId, CheckoutId, Command, DeliveryStatus, Order, OrderCommand, OrderId, ShopId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckoutRequest {
    /// One of the shopper's addresses.
    address_id: uuid::Uuid,
}

/// Opens the one payment session of the cart (the same session again until the cart changes or
/// the session expires). Prices are read from the catalog now; the stock is held for 30 minutes.
#[utoipa::path(post, path = "/api/checkout", tag = "orders", request_body = CheckoutRequest,
    responses((status = 200, body = CheckoutView), (status = 409, body = ErrorBody, description = "Empty cart, not enough stock, a code no longer valid"),
              (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn checkout(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    body: Result<Json<CheckoutRequest>, JsonRejection>,
) -> Result<Json<CheckoutView>, ApiError> {
    let Json(request) = body?;
    crate::orders::checkout(&app, user.account.id, AddressId(request.address_id))
        .await
        .map(Json)
}

/// Where the payment provider reports payments (Stripe's webhook format and signature).
#[utoipa::path(post, path = "/api/payments/webhook", tag = "orders",
    request_body(content = String, description = "The provider's event, verified on the raw bytes with the `Stripe-Signature` header"),
    responses((status = 200, body = Receipt), (status = 400, body = ErrorBody, description = "Bad or stale signature, or not an event"),
              (status = 409, body = ErrorBody)))]
pub(super) async fn webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Receipt>, ApiError> {
    let signature = headers
        .get(crate::payments::signature::HEADER)
        .and_then(|v| v.to_str().ok());
    crate::payments::webhook::receive(&app, &body, signature)
        .await
        .map(Json)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SandboxCard {
    card_number: String,
    /// The answer to the extra authentication step, for cards that ask for one.
    authentication: Option<bool>,
}

/// The sandbox provider's card form: pays one of the shopper's open checkouts with a test card.
#[utoipa::path(post, path = "/api/payments/sandbox/{checkout_id}", tag = "orders", request_body = SandboxCard,
    params(("checkout_id" = uuid::Uuid, Path)),
    responses((status = 200, body = SandboxOutcome), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Paid, expired or closed"),
              (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn sandbox_pay(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    Path(checkout): Path<uuid::Uuid>,
    body: Result<Json<SandboxCard>, JsonRejection>,
) -> Result<Json<SandboxOutcome>, ApiError> {
    let Json(card) = body?;
    if app.payments.name() != "sandbox" {
        return Err(ApiError::NotFound(
            "the sandbox provider is not in use".into(),
        ));
    }
    crate::payments::sandbox::pay(
        &app,
        user.account.id,
        CheckoutId(checkout),
        &card.card_number,
        card.authentication,
    )
    .await
    .map(Json)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct OrderFilter {
    /// Only orders at this delivery status.
    status: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// A delivery status from the query or body (`field`), or a 422 listing the accepted values.
fn delivery_status(raw: &str, field: &str) -> Result<DeliveryStatus, ApiError> {
    DeliveryStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            field,
            "ordered, packed, shipped, out_for_delivery or delivered",
        )
    })
}

/// The shopper's orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(OrderFilter),
    responses((status = 200, body = Page<OrderView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn my_orders(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    filter: Result<Query<OrderFilter>, QueryRejection>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let Query(filter) = filter?;
    let status = filter
        .status
        .as_deref()
        .map(|s| delivery_status(s, "status"))
        .transpose()?;
    let state = app.state();
    let orders = state
        .orders_of_shopper(user.account.id)
        .filter(|o| status.is_none_or(|s| o.status == s));
    Ok(Json(Page::of(orders, filter.page, filter.per_page, |o| {
        OrderView::build(&state, o, false)
    })))
}

/// One of the shopper's orders.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn my_order(
    State(app): State<AppState>,
    Shopper(user): Shopper,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<OrderView>, ApiError> {
    let state = app.state();
    let order = state
        .orders
        .get(&OrderId(id))
        .filter(|o| o.shopper == user.account.id)
        .ok_or_else(|| ApiError::NotFound(format!("order {id} not found")))?;
    Ok(Json(OrderView::build(&state, order, false)))
}

fn seller_shop(seller: &CurrentSeller) -> Result<ShopId, ApiError> {
    seller
        .shop
        .as_ref()
        .map(|s| s.id)
        .ok_or_else(|| ApiError::NotFound("open your shop first".into()))
}

/// The shop's orders, newest first.
#[utoipa::path(get, path = "/api/seller/orders", tag = "seller", params(OrderFilter),
    responses((status = 200, body = Page<OrderView>), (status = 404, body = ErrorBody, description = "No shop yet"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn shop_orders(
    State(app): State<AppState>,
    seller: CurrentSeller,
    filter: Result<Query<OrderFilter>, QueryRejection>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let Query(filter) = filter?;
    let status = filter
        .status
        .as_deref()
        .map(|s| delivery_status(s, "status"))
        .transpose()?;
    let shop = seller_shop(&seller)?;
    let state = app.state();
    let orders = state
        .orders_of_shop(shop)
        .filter(|o| status.is_none_or(|s| o.status == s));
    Ok(Json(Page::of(orders, filter.page, filter.per_page, |o| {
        OrderView::build(&state, o, true)
    })))
}

fn shop_order(state: &domain::State, shop: ShopId, id: uuid::Uuid) -> Result<&Order, ApiError> {
    // Another shop's order is "not found", like one that does not exist.
    state
        .orders
        .get(&OrderId(id))
        .filter(|o| o.part.shop_id == shop)
        .ok_or_else(|| ApiError::NotFound(format!("order {id} not found")))
}

/// One of the shop's orders.
#[utoipa::path(get, path = "/api/seller/orders/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn shop_order_detail(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
) -> Result<Json<OrderView>, ApiError> {
    let shop = seller_shop(&seller)?;
    let state = app.state();
    Ok(Json(OrderView::build(
        &state,
        shop_order(&state, shop, id)?,
        true,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveryUpdate {
    /// `ordered`, `packed`, `shipped`, `out_for_delivery` or `delivered`; forward only.
    delivery_status: String,
}

/// Moves one of the shop's orders forward; the shopper is told by mail.
#[utoipa::path(patch, path = "/api/seller/orders/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)), request_body = DeliveryUpdate,
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Backwards, or cancelled"),
              (status = 422, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn update_order(
    State(app): State<AppState>,
    seller: CurrentSeller,
    Path(id): Path<uuid::Uuid>,
    body: Result<Json<DeliveryUpdate>, JsonRejection>,
) -> Result<Json<OrderView>, ApiError> {
    let Json(update) = body?;
    let status = delivery_status(&update.delivery_status, "delivery_status")?;
    let shop = seller_shop(&seller)?;
    shop_order(&app.state(), shop, id)?;
    let command = Command::Order(OrderCommand::SetDeliveryStatus {
        id: OrderId(id),
        status,
    });
    let events = app.execute(seller.principal.actor(), command).await?;
    crate::payments::follow_up(&app, &events).await;
    let state = app.state();
    Ok(Json(OrderView::build(
        &state,
        shop_order(&state, shop, id)?,
        true,
    )))
}

/// The shop's money at the payment provider: balance, recent transfers and payouts.
#[utoipa::path(get, path = "/api/seller/payouts", tag = "seller",
    responses((status = 200, body = PayoutSummary), (status = 404, body = ErrorBody, description = "No shop yet"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(super) async fn payouts(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<PayoutSummary>, ApiError> {
    let shop = seller
        .shop
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("open your shop first".into()))?;
    Ok(Json(
        app.payments.payouts(&app.state(), shop, Utc::now()).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub(super) struct OnboardingLink {
    /// Where the seller completes their payout details; `null` when the provider needs none.
    url: Option<String>,
}

/// A link to the provider's onboarding for the shop's connected account (Stripe Connect).
#[utoipa::path(post, path = "/api/seller/payouts/onboarding", tag = "seller",
    responses((status = 200, body = OnboardingLink), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub(super) async fn onboarding(
    State(app): State<AppState>,
    seller: CurrentSeller,
) -> Result<Json<OnboardingLink>, ApiError> {
    let shop = seller
        .shop
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("open your shop first".into()))?;
    let return_url = format!("http://{}/seller/payouts", app.config.addr);
    let Some(link) = app
        .payments
        .onboarding(shop, &seller.principal.account.email, &return_url)
        .await?
    else {
        return Ok(Json(OnboardingLink { url: None }));
    };
    let command = Command::Shop(domain::ShopCommand::LinkPayoutAccount {
        id: shop.id,
        account: link.account,
    });
    app.execute(domain::Actor::System, command).await?;
    Ok(Json(OnboardingLink {
        url: Some(link.url),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminOrderFilter {
    status: Option<String>,
    /// `csv` downloads every matching order as CSV instead of a page of JSON.
    format: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// Every order, newest first; `?format=csv` downloads them.
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin", params(AdminOrderFilter),
    responses((status = 200, body = Page<OrderView>, description = "JSON, or text/csv with format=csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn admin_orders(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<AdminOrderFilter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) = filter?;
    let status = filter
        .status
        .as_deref()
        .map(|s| delivery_status(s, "status"))
        .transpose()?;
    let state = app.state();
    let orders = state
        .orders
        .values()
        .rev()
        .filter(|o| status.is_none_or(|s| o.status == s));
    if filter.format.as_deref() == Some("csv") {
        return Ok(orders_csv(&state, orders).download("orders.csv"));
    }
    let page = Page::of(orders, filter.page, filter.per_page, |o| {
        OrderView::build(&state, o, true)
    });
    Ok((StatusCode::OK, Json(page)).into_response())
}

/// Orders as CSV: one row per order, money in minor units, no personal data beyond the city and
/// country of delivery.
pub fn orders_csv<'a>(state: &domain::State, orders: impl Iterator<Item = &'a Order>) -> Csv {
    let mut csv = Csv::new(&[
        "number",
        "order_id",
        "placed_at",
        "shop",
        "status",
        "cancelled",
        "currency",
        "subtotal",
        "discount",
        "total",
        "fee",
        "payout",
        "items",
        "code",
        "city",
        "country",
    ]);
    for o in orders {
        let shop = state
            .shops
            .get(&o.part.shop_id)
            .map_or(o.part.shop_name.as_str(), |s| s.name.as_str());
        let items: u32 = o.part.lines.iter().map(|l| l.quantity).sum();
        csv.row([
            o.number(),
            o.id.to_string(),
            o.placed_at.to_rfc3339(),
            shop.to_string(),
            o.status.as_str().to_string(),
            o.cancelled.is_some().to_string(),
            o.part.total.currency.to_string(),
            o.part.subtotal.amount.to_string(),
            o.part.discount.amount.to_string(),
            o.part.total.amount.to_string(),
            o.part.fee.amount.to_string(),
            o.part.payout.amount.to_string(),
            items.to_string(),
            o.part
                .code
                .as_ref()
                .map_or(String::new(), |c| c.code.clone()),
            o.address.city.clone(),
            o.address.country.clone(),
        ]);
    }
    csv
}

/// One payment session as admins see it.
#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    pub session_id: uuid::Uuid,
    pub shopper_email: Option<String>,
    pub provider: String,
    pub payment_ref: String,
    /// `open`, `paid`, `cancelled`, `expired`, `failed`, `refunded`.
    pub status: String,
    pub amount: crate::views::MoneyView,
    pub fee: crate::views::MoneyView,
    pub shops: usize,
    pub created_at: chrono::DateTime<Utc>,
}

/// Every payment session, newest first; `?format=csv` downloads them.
#[utoipa::path(get, path = "/api/admin/payments", tag = "admin", params(AdminOrderFilter),
    responses((status = 200, body = Page<PaymentView>, description = "JSON, or text/csv with format=csv"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn admin_payments(
    State(app): State<AppState>,
    Admin(_): Admin,
    filter: Result<Query<AdminOrderFilter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) = filter?;
    let state = app.state();
    let view = |c: &domain::Checkout| PaymentView {
        session_id: c.id.0,
        shopper_email: state.accounts.get(&c.owner).map(|a| a.email.clone()),
        provider: c.provider.clone(),
        payment_ref: c.payment_ref.clone(),
        status: c.status.as_str().to_string(),
        amount: c.priced.total.into(),
        fee: c.priced.fee.into(),
        shops: c.priced.shops.len(),
        created_at: c.created_at,
    };
    let sessions = state.checkouts.values().rev().filter(|c| {
        filter
            .status
            .as_deref()
            .is_none_or(|s| c.status.as_str() == s)
    });
    if filter.format.as_deref() == Some("csv") {
        let mut csv = Csv::new(&[
            "session_id",
            "created_at",
            "shopper_email",
            "provider",
            "payment_ref",
            "status",
            "currency",
            "amount",
            "fee",
            "shops",
        ]);
        for c in sessions {
            let v = view(c);
            csv.row([
                v.session_id.to_string(),
                v.created_at.to_rfc3339(),
                v.shopper_email.unwrap_or_default(),
                v.provider,
                v.payment_ref,
                v.status,
                v.amount.currency,
                v.amount.amount.to_string(),
                v.fee.amount.to_string(),
                v.shops.to_string(),
            ]);
        }
        return Ok(csv.download("payments.csv"));
    }
    let page = Page::of(sessions, filter.page, filter.per_page, view);
    Ok((StatusCode::OK, Json(page)).into_response())
}
