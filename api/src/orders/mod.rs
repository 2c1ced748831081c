//! Carts, checkouts and orders as the routes and portals use them: the checkout flow (one payment
//! session per cart version, asked of the provider before it is recorded), the job that releases
//! expired checkouts, and the order mail.

pub mod views;

use crate::app::AppState;
use crate::error::ApiError;
use crate::mail::{Letter, LetterLine};
use chrono::{DateTime, Utc};
use domain::{
    AccountId, Actor, AddressId, CartOwner, CheckoutCommand, CheckoutId, CheckoutStatus, Command,
    OrderId, Role, price_cart,
};
use views::{CartView, CheckoutView};

/// The cart of a shopper or visitor, priced now.
pub fn cart_view(app: &AppState, owner: CartOwner) -> CartView {
    let state = app.state();
    let now = Utc::now();
    let empty;
    let cart = match state.carts.get(&owner) {
        Some(cart) => cart,
        None => {
            empty = domain::Cart::empty(owner, now);
            &empty
        }
    };
    CartView::build(&state, &price_cart(&state, cart, now), cart.version)
}

fn secret_key(checkout: CheckoutId) -> String {
    format!("checkout-secret:{checkout}")
}

/// `POST /api/checkout`: the one payment session of the shopper's cart as it is now. A second call
/// for the same cart answers the same session until the cart changes or the session expires;
/// after a change, the old session is cancelled (its hold released, its payment cancelled).
pub async fn checkout(
    app: &AppState,
    shopper: AccountId,
    address: AddressId,
) -> Result<CheckoutView, ApiError> {
    let now = Utc::now();
    let state = app.state();
    let cart = state
        .carts
        .get(&CartOwner::Account(shopper))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::Conflict("the cart is empty".into()))?;
    if let Some(open) = state.open_checkout_of(shopper, now)
        && open.is_for(cart, address)
    {
        return Ok(standing(app, open).await);
    }
    let priced = price_cart(&state, cart, now);
    if let Some(problem) = priced.problems.first() {
        return Err(ApiError::Conflict(problem.clone()));
    }
    let id = CheckoutId(uuid::Uuid::now_v7());
    let intent = app.payments.create_intent(id, priced.total).await?;
    let command = Command::Checkout(CheckoutCommand::Open {
        id,
        address,
        provider: app.payments.name().into(),
        payment_ref: intent.payment_ref.clone(),
        amount: priced.total,
    });
    let actor = Actor::Account {
        role: Role::Shopper,
        id: shopper,
    };
    let events = match app.execute(actor, command).await {
        Ok(events) => events,
        Err(refused) => {
            cancel_quietly(app, &intent.payment_ref).await;
            return Err(refused);
        }
    };
    let state = app.state();
    let Some(opened) = state.checkouts.get(&id) else {
        // A concurrent request opened this cart's session first: that one stands.
        cancel_quietly(app, &intent.payment_ref).await;
        let open = state.open_checkout_of(shopper, now).ok_or_else(|| {
            ApiError::Conflict("the cart changed meanwhile; check out again".into())
        })?;
        return Ok(standing(app, open).await);
    };
    if let Some(secret) = &intent.client_secret {
        let ttl = (opened.expires_at - now).to_std().unwrap_or_default();
        if let Err(e) = app.kv.set(&secret_key(id), secret, ttl).await {
            tracing::warn!(error = %e, "the payment's client secret was not kept; the session is answered without it");
        }
    }
    crate::payments::follow_up(app, &events).await;
    Ok(CheckoutView::build(opened, intent.client_secret))
}

async fn standing(app: &AppState, checkout: &domain::Checkout) -> CheckoutView {
    CheckoutView::build(checkout, client_secret(app, checkout.id).await)
}

/// What Stripe.js needs to pay an open checkout (kept in the key-value store for the
/// checkout's lifetime, never in the log); `None` for the sandbox.
pub async fn client_secret(app: &AppState, checkout: CheckoutId) -> Option<String> {
    app.kv.get(&secret_key(checkout)).await.ok().flatten()
}

async fn cancel_quietly(app: &AppState, payment_ref: &str) {
    if let Err(e) = app.payments.cancel_intent(payment_ref).await {
        tracing::warn!(payment_ref, error = %e, "an unused payment was not cancelled");
    }
}

/// Closes every open checkout whose time is up at `now`, releasing its stock and cancelling its
/// payment. Returns how many it closed.
pub async fn expire_due(app: &AppState, now: DateTime<Utc>) -> usize {
    let state = app.state();
    let due: Vec<CheckoutId> = state
        .open_checkouts
        .values()
        .filter(|&id| {
            state
                .checkouts
                .get(id)
                .is_some_and(|c| c.status == CheckoutStatus::Open && c.expires_at <= now)
        })
        .copied()
        .collect();
    let mut expired = 0;
    for id in due {
        let command = Command::Checkout(CheckoutCommand::Expire { id });
        match app.execute_at(Actor::System, command, now).await {
            Ok(events) if !events.is_empty() => {
                expired += 1;
                crate::payments::follow_up(app, &events).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(checkout = %id, error = %e, "an expired checkout was not closed")
            }
        }
    }
    expired
}

async fn send(app: &AppState, to: String, letter: Letter) {
    if let Err(e) = app.mailer.send(&to, &letter).await {
        tracing::warn!(letter = letter.name(), error = %e, "order mail not sent");
    }
}

/// The shopper's confirmation of one order, and the shop's new-order mail when its settings ask
/// for it. A mail that cannot be sent is logged; the order stands.
pub async fn mail_order_placed(app: &AppState, order: &domain::Order) {
    let state = app.state();
    let lines: Vec<LetterLine> = order
        .part
        .lines
        .iter()
        .map(|l| LetterLine {
            title: l.title.clone(),
            quantity: l.quantity,
            total: domain::Money::new(l.subtotal.amount - l.discount.amount, l.subtotal.currency)
                .display(),
        })
        .collect();
    if let Some(shopper) = state.accounts.get(&order.shopper) {
        let a = &order.address;
        send(
            app,
            shopper.email.clone(),
            Letter::OrderConfirmation {
                name: shopper.name.clone(),
                number: order.number(),
                shop: order.part.shop_name.clone(),
                lines: lines.clone(),
                subtotal: order.part.subtotal.display(),
                discount: (order.part.discount.amount > 0).then(|| order.part.discount.display()),
                total: order.part.total.display(),
                address: format!(
                    "{}, {}, {} {}, {}",
                    a.name, a.street, a.zip, a.city, a.country
                ),
            },
        )
        .await;
    }
    let shop = state.shops.get(&order.part.shop_id);
    if let Some(shop) = shop.filter(|s| s.settings.email_new_orders)
        && let Some(seller) = shop.owner.and_then(|o| state.accounts.get(&o))
    {
        send(
            app,
            seller.email.clone(),
            Letter::NewOrder {
                shop: shop.name.clone(),
                number: order.number(),
                lines,
                total: order.part.total.display(),
                payout: order.part.payout.display(),
            },
        )
        .await;
    }
}

/// Tells the shopper where their order is now.
pub async fn mail_status_changed(app: &AppState, id: OrderId) {
    let state = app.state();
    let Some(order) = state.orders.get(&id) else {
        return;
    };
    if let Some(shopper) = state.accounts.get(&order.shopper) {
        send(
            app,
            shopper.email.clone(),
            Letter::OrderStatus {
                name: shopper.name.clone(),
                number: order.number(),
                shop: order.part.shop_name.clone(),
                status: order.status.label().into(),
            },
        )
        .await;
    }
}

/// At sign-in: the cart the visitor filled before signing in joins the shopper's own.
pub async fn adopt_visitor_cart(
    app: &AppState,
    account: &domain::Account,
    jar: &axum_extra::extract::cookie::CookieJar,
) {
    if account.role != Role::Shopper {
        return;
    }
    let visitor = crate::request::Visitor::from_cookies(jar);
    if visitor.is_new
        || !app
            .state()
            .carts
            .contains_key(&CartOwner::Session(visitor.session))
    {
        return;
    }
    let actor = Actor::Account {
        role: Role::Shopper,
        id: account.id,
    };
    let merge = Command::Cart(domain::CartCommand::Merge {
        session: visitor.session,
    });
    if let Err(e) = app.execute(actor, merge).await {
        tracing::warn!(error = %e, "the visitor's cart did not join the shopper's");
    }
}

/// How often one client address may change visitors' carts: every change is a durable event, so
/// anonymous writes are bounded (a signed-in shopper's are not: they are accountable).
const VISITOR_CART_WRITES: crate::auth::Limit = crate::auth::Limit::new(300, 60);

/// Refuses (429) a visitor's cart change beyond [`VISITOR_CART_WRITES`] per client address.
pub async fn check_visitor_cart_write(
    app: &AppState,
    actor: &Actor,
    client: &str,
) -> Result<(), ApiError> {
    if matches!(actor, Actor::Anonymous { .. }) {
        crate::auth::limits::check(app.kv.as_ref(), "visitor-cart", client, VISITOR_CART_WRITES)
            .await?;
    }
    Ok(())
}
