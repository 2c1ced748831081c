//! Orders in the three portals: the shopper's orders and order page with its timeline
//! (`/orders`), the seller's orders with the status update and payouts (`/seller/orders`,
//! `/seller/payouts`), and the admin's orders and payments (`/admin/orders`, `/admin/payments`).

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Empty, Portal, Viewer};
use api::AppState;
use api::orders::views::OrderView;
use api::payments::PayoutSummary;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Command, DeliveryStatus, Order, OrderCommand, OrderId};
use serde::Deserialize;

/// One step of an order's timeline.
pub struct Step {
    label: &'static str,
    /// When the order reached it, if it did.
    at: Option<String>,
    current: bool,
}

fn timeline(order: &Order) -> Vec<Step> {
    DeliveryStatus::ALL
        .iter()
        .map(|status| Step {
            label: status.label(),
            at: order
                .history
                .iter()
                .find(|h| h.status == *status)
                .map(|h| h.at.format("%b %d, %H:%M").to_string()),
            current: order.status == *status,
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<usize>,
}

impl ListQuery {
    fn status(&self) -> Option<DeliveryStatus> {
        DeliveryStatus::parse(&self.status)
    }
}

pub struct StatusChoice {
    value: &'static str,
    label: &'static str,
}

fn statuses() -> Vec<StatusChoice> {
    DeliveryStatus::ALL
        .iter()
        .map(|s| StatusChoice {
            value: s.as_str(),
            label: s.label(),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "orders.html")]
pub struct OrdersPage {
    chrome: Chrome,
    /// `shop`, `seller` or `admin`: where the order links lead.
    base: &'static str,
    heading: &'static str,
    page: api::Page<OrderView>,
    status: String,
    statuses: Vec<StatusChoice>,
    csv: bool,
}

/// `/orders`: the shopper's orders, newest first.
pub async fn mine(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Shop, "/orders") {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let state = app.state();
    let status = query.status();
    let orders = state
        .orders_of_shopper(principal.account.id)
        .filter(|o| status.is_none_or(|s| o.status == s));
    OrdersPage {
        chrome: Chrome::with(&state, "shop", &viewer),
        base: "/orders",
        heading: "Your orders",
        page: api::Page::of(orders, query.page, Some(20), |o| {
            OrderView::build(&state, o, false)
        }),
        status: query.status.clone(),
        statuses: statuses(),
        csv: false,
    }
    .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
pub struct OrderPage {
    chrome: Chrome,
    order: OrderView,
    steps: Vec<Step>,
    /// The seller's page: the status form and the money.
    for_shop: bool,
    /// The statuses the seller may move the order to (forward only).
    next_statuses: Vec<StatusChoice>,
    back: &'static str,
}

/// `/orders/{id}`: one of the shopper's orders.
pub async fn one_of_mine(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    let principal = match viewer.require(&app, Portal::Shop, &format!("/orders/{id}")) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    let state = app.state();
    let Some(order) = state
        .orders
        .get(&OrderId(id))
        .filter(|o| o.shopper == principal.account.id)
    else {
        return super::not_found_page(&app, &viewer, "shop", "There is no such order.");
    };
    OrderPage {
        chrome: Chrome::with(&state, "shop", &viewer),
        order: OrderView::build(&state, order, false),
        steps: timeline(order),
        for_shop: false,
        next_statuses: Vec::new(),
        back: "/orders",
    }
    .into_response()
}

fn seller_shop(
    app: &AppState,
    viewer: &Viewer,
    here: &str,
) -> Result<(domain::AccountId, domain::ShopId), Response> {
    let principal = viewer.require(app, Portal::Seller, here)?;
    match app.state().shop_of(principal.account.id) {
        Some(shop) => Ok((principal.account.id, shop.id)),
        None => Err(Redirect::to("/seller/onboarding").into_response()),
    }
}

/// `/seller/orders`: the shop's orders, newest first, by status.
pub async fn shop_orders(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let (_, shop) = match seller_shop(&app, &viewer, "/seller/orders") {
        Ok(s) => s,
        Err(response) => return response,
    };
    let state = app.state();
    let status = query.status();
    let orders = state
        .orders_of_shop(shop)
        .filter(|o| status.is_none_or(|s| o.status == s));
    OrdersPage {
        chrome: Chrome::with(&state, "seller", &viewer).in_section("orders"),
        base: "/seller/orders",
        heading: "Orders",
        page: api::Page::of(orders, query.page, Some(20), |o| {
            OrderView::build(&state, o, true)
        }),
        status: query.status.clone(),
        statuses: statuses(),
        csv: false,
    }
    .into_response()
}

fn shop_order_page(
    app: &AppState,
    viewer: &Viewer,
    shop: domain::ShopId,
    id: uuid::Uuid,
) -> Response {
    let state = app.state();
    let Some(order) = state
        .orders
        .get(&OrderId(id))
        .filter(|o| o.part.shop_id == shop)
    else {
        return super::not_found_page(
            app,
            viewer,
            "seller",
            "There is no such order in your shop.",
        );
    };
    OrderPage {
        chrome: Chrome::with(&state, "seller", viewer).in_section("orders"),
        order: OrderView::build(&state, order, true),
        steps: timeline(order),
        for_shop: true,
        next_statuses: DeliveryStatus::ALL
            .iter()
            .filter(|s| **s > order.status && order.cancelled.is_none())
            .map(|s| StatusChoice {
                value: s.as_str(),
                label: s.label(),
            })
            .collect(),
        back: "/seller/orders",
    }
    .into_response()
}

/// `/seller/orders/{id}`: one of the shop's orders, with the status update.
pub async fn shop_order(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> Response {
    match seller_shop(&app, &viewer, &format!("/seller/orders/{id}")) {
        Ok((_, shop)) => shop_order_page(&app, &viewer, shop, id),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

/// Moves one of the shop's orders forward; the shopper gets a mail.
pub async fn set_status(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Response {
    let here = format!("/seller/orders/{id}");
    let (seller, shop) = match seller_shop(&app, &viewer, &here) {
        Ok(s) => s,
        Err(response) => return response,
    };
    if app
        .state()
        .orders
        .get(&OrderId(id))
        .is_none_or(|o| o.part.shop_id != shop)
    {
        return super::not_found_page(
            &app,
            &viewer,
            "seller",
            "There is no such order in your shop.",
        );
    }
    let Some(status) = DeliveryStatus::parse(&form.status) else {
        return shop_order_page(&app, &viewer, shop, id);
    };
    let actor = domain::Actor::Account {
        role: domain::Role::Seller,
        id: seller,
    };
    let command = Command::Order(OrderCommand::SetDeliveryStatus {
        id: OrderId(id),
        status,
    });
    match app.execute(actor, command).await {
        Ok(events) => {
            api::payments::follow_up(&app, &events).await;
            Redirect::to(&here).into_response()
        }
        Err(e) => super::refused_page(&app, &viewer, Portal::Seller, &e.public_message()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "payouts.html")]
pub struct PayoutsPage {
    chrome: Chrome,
    summary: Option<PayoutSummary>,
    error: Option<String>,
}

/// `/seller/payouts`: the shop's balance and transfers at the payment provider.
pub async fn payouts(State(app): State<AppState>, viewer: Viewer) -> Response {
    let (_, shop) = match seller_shop(&app, &viewer, "/seller/payouts") {
        Ok(s) => s,
        Err(response) => return response,
    };
    let state = app.state();
    let Some(shop) = state.shops.get(&shop) else {
        return Redirect::to("/seller/onboarding").into_response();
    };
    let (summary, error) = match app.payments.payouts(&state, shop, chrono::Utc::now()).await {
        Ok(summary) => (Some(summary), None),
        Err(e) => (None, Some(e.to_string())),
    };
    PayoutsPage {
        chrome: Chrome::with(&state, "seller", &viewer).in_section("payouts"),
        summary,
        error,
    }
    .into_response()
}

/// Sends the seller to the provider's onboarding for their payouts (Stripe Connect).
pub async fn onboarding(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let (seller, shop) = match seller_shop(&app, &viewer, "/seller/payouts") {
        Ok(s) => s,
        Err(response) => return response,
    };
    let state = app.state();
    let (Some(shop), Some(account)) = (state.shops.get(&shop), state.accounts.get(&seller)) else {
        return Redirect::to("/seller/payouts").into_response();
    };
    let return_url = format!("http://{}/seller/payouts", app.config.addr);
    match app
        .payments
        .onboarding(shop, &account.email, &return_url)
        .await
    {
        Ok(Some(link)) => {
            let command = Command::Shop(domain::ShopCommand::LinkPayoutAccount {
                id: shop.id,
                account: link.account,
            });
            if let Err(e) = app.execute(domain::Actor::System, command).await {
                return super::refused_page(&app, &viewer, Portal::Seller, &e.public_message());
            }
            Redirect::to(&link.url).into_response()
        }
        Ok(None) => Redirect::to("/seller/payouts").into_response(),
        Err(e) => super::refused_page(&app, &viewer, Portal::Seller, &e.to_string()),
    }
}

/// `/admin/orders`: every order, newest first, by status, with a CSV download.
pub async fn all_orders(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(response) = viewer.require_admin(&app, "/admin/orders") {
        return response;
    }
    let state = app.state();
    let status = query.status();
    let orders = state
        .orders
        .values()
        .rev()
        .filter(|o| status.is_none_or(|s| o.status == s));
    OrdersPage {
        chrome: Chrome::with(&state, "admin", &viewer).in_section("orders"),
        base: "/admin/orders",
        heading: "Orders",
        page: api::Page::of(orders, query.page, Some(50), |o| {
            OrderView::build(&state, o, true)
        }),
        status: query.status.clone(),
        statuses: statuses(),
        csv: true,
    }
    .into_response()
}

/// One payment session, as the admin's payments list shows it.
pub struct PaymentRow {
    id: String,
    shopper: String,
    amount: String,
    fee: String,
    shops: usize,
    provider: String,
    payment_ref: String,
    status: String,
    created_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_payments.html")]
pub struct PaymentsPage {
    chrome: Chrome,
    page: api::Page<PaymentRow>,
}

/// `/admin/payments`: every payment session (checkout) and where it stands.
pub async fn payments(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(response) = viewer.require_admin(&app, "/admin/payments") {
        return response;
    }
    let state = app.state();
    let rows = state.checkouts.values().rev();
    let page = api::Page::of(rows, query.page, Some(50), |c| PaymentRow {
        id: c.id.to_string(),
        shopper: state
            .accounts
            .get(&c.owner)
            .map_or_else(|| c.owner.to_string(), |a| a.email.clone()),
        amount: c.priced.total.display(),
        fee: c.priced.fee.display(),
        shops: c.priced.shops.len(),
        provider: c.provider.clone(),
        payment_ref: c.payment_ref.clone(),
        status: c.status.as_str().to_string(),
        created_at: c.created_at.format("%Y-%m-%d %H:%M").to_string(),
    });
    PaymentsPage {
        chrome: Chrome::with(&state, "admin", &viewer).in_section("payments"),
        page,
    }
    .into_response()
}
