//! Payments behind one trait, [`PaymentProvider`]: the embedded sandbox (default) and Stripe with
//! Connect (`STRIPE_SECRET_KEY`, cargo feature `stripe`).
//!
//! The flow is Stripe's for both: a checkout asks the provider for a payment (a PaymentIntent)
//! of the cart's total; the shopper pays on the provider's page (the sandbox's card page, or
//! Stripe's); the provider reports the outcome with a signed webhook, which [`webhook::receive`]
//! verifies ([`signature::verify`]) and turns into a domain command: one order per shop, exactly
//! once. Then [`follow_up`] does what the events ask of the world outside: a transfer per shop to
//! its connected account (the platform keeps its fee), refunds, cancelled payments, and mail.

pub mod sandbox;
pub mod signature;
#[cfg(feature = "stripe")]
pub mod stripe;
pub mod webhook;

use crate::app::AppState;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{CheckoutId, Event, Money, Order, Settlement, Shop, State};

/// What the service needs to talk to Stripe (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`).
#[derive(Clone)]
pub struct StripeConfig {
    pub secret_key: String,
    pub webhook_secret: String,
    /// The publishable key Stripe.js needs on the payment page (`STRIPE_PUBLISHABLE_KEY`).
    pub publishable_key: Option<String>,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("publishable_key", &self.publishable_key)
            .finish()
    }
}

/// A payment the provider opened for a checkout.
#[derive(Clone, Debug)]
pub struct Intent {
    /// The provider's id of the payment (`pi_…`).
    pub payment_ref: String,
    /// What the browser needs to pay with Stripe.js; `None` for the sandbox, which has its own page.
    pub client_secret: Option<String>,
}

/// A connected account and the link its seller follows to finish setting it up.
#[derive(Clone, Debug)]
pub struct Onboarding {
    pub account: String,
    pub url: String,
}

/// Money moved to a shop's connected account.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PayoutLine {
    pub reference: String,
    pub amount: crate::views::MoneyView,
    /// `pending`, `available`, `paid`, …
    pub status: String,
    pub at: DateTime<Utc>,
}

/// A seller's view of their money at the provider.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PayoutSummary {
    pub provider: String,
    /// The connected account, once there is one.
    pub account: Option<String>,
    /// Whether the provider pays this shop out (`false` until onboarding is complete).
    pub payouts_enabled: bool,
    pub available: crate::views::MoneyView,
    pub pending: crate::views::MoneyView,
    /// Recent transfers and payouts, newest first.
    pub recent: Vec<PayoutLine>,
    /// Where the seller completes their payout details, when the provider needs them to.
    pub onboarding_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment provider refused: {0}")]
    Refused(String),
    #[error("the payment provider could not be reached: {0}")]
    Unreachable(String),
}

impl From<PaymentError> for crate::error::ApiError {
    fn from(e: PaymentError) -> Self {
        crate::error::ApiError::Unavailable(e.to_string())
    }
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `sandbox` or `stripe`, as recorded on checkouts.
    fn name(&self) -> &'static str;
    /// The secret webhooks are signed with.
    fn webhook_secret(&self) -> &str;
    /// Opens a payment of `amount` for a checkout (idempotent per checkout).
    async fn create_intent(
        &self,
        checkout: CheckoutId,
        amount: Money,
    ) -> Result<Intent, PaymentError>;
    /// Cancels a payment that will not be made (its checkout was replaced or expired).
    async fn cancel_intent(&self, payment_ref: &str) -> Result<(), PaymentError>;
    /// Gives a captured payment back in full.
    async fn refund(&self, payment_ref: &str) -> Result<(), PaymentError>;
    /// Pays a shop its part of an order (the order's payout: its total less the platform's fee);
    /// answers the provider's transfer id. Idempotent per order.
    async fn transfer(
        &self,
        order: &Order,
        shop: &Shop,
        payment_ref: &str,
    ) -> Result<String, PaymentError>;
    /// Takes back a cancelled (refunded) order's transfer from its shop.
    async fn reverse_transfer(&self, order: &Order, shop: &Shop) -> Result<(), PaymentError>;
    /// Where the shop's seller completes their payout details, creating the shop's connected
    /// account first when it has none; `None` when the provider needs no onboarding (sandbox).
    async fn onboarding(
        &self,
        shop: &Shop,
        email: &str,
        return_url: &str,
    ) -> Result<Option<Onboarding>, PaymentError>;
    /// The shop's balance and recent payouts.
    async fn payouts(
        &self,
        state: &State,
        shop: &Shop,
        now: DateTime<Utc>,
    ) -> Result<PayoutSummary, PaymentError>;
}

/// The provider the configuration names: Stripe when `STRIPE_SECRET_KEY` is set (and the build has
/// the `stripe` feature), else the sandbox.
pub fn provider(
    config: &crate::config::Config,
) -> Result<std::sync::Arc<dyn PaymentProvider>, String> {
    match &config.stripe {
        None => Ok(std::sync::Arc::new(sandbox::Sandbox::new())),
        #[cfg(feature = "stripe")]
        Some(stripe) => Ok(std::sync::Arc::new(stripe::Stripe::new(stripe)?)),
        #[cfg(not(feature = "stripe"))]
        Some(_) => Err("STRIPE_SECRET_KEY is set, but this build has no `stripe` feature".into()),
    }
}

/// Does what a batch of checkout, payment and order events asks of the world outside the log:
/// cancels payments that will not be made, refunds money the marketplace cannot keep, pays each
/// shop its part, and sends the mail. Failures are logged, never undone: the events are durable.
pub async fn follow_up(app: &AppState, events: &[Event]) {
    // The money first, all of it at once (each settlement is its own provider call and record).
    let settlements: Vec<Settlement> = events
        .iter()
        .filter_map(|event| match event {
            Event::PaymentRefunded {
                refund_due: true,
                checkout,
                ..
            } => Some(Settlement::Refund {
                checkout: *checkout,
            }),
            Event::OrderPlaced(order) => Some(Settlement::Transfer {
                order: order.id,
                reference: String::new(),
            }),
            Event::OrderCancelled { id, .. } => Some(Settlement::Reversal { order: *id }),
            _ => None,
        })
        .collect();
    futures::future::join_all(settlements.into_iter().map(|s| settle(app, s))).await;
    for event in events {
        match event {
            Event::CheckoutClosed {
                payment_ref, id, ..
            } => {
                if let Err(e) = app.payments.cancel_intent(payment_ref).await {
                    tracing::warn!(checkout = %id, error = %e, "the provider did not cancel a closed checkout's payment");
                }
            }
            Event::OrderPlaced(order) => crate::orders::mail_order_placed(app, order).await,
            Event::OrderStatusChanged { id, .. } => {
                crate::orders::mail_status_changed(app, *id).await
            }
            _ => {}
        }
    }
}

/// Does one settlement at the provider and records it. A failure is logged and left for
/// [`settle_due`] to retry; a settlement recorded already is skipped.
pub async fn settle(app: &AppState, settlement: Settlement) {
    let state = app.state();
    let provider = app.payments.as_ref();
    let done: Result<Option<Settlement>, PaymentError> = match &settlement {
        Settlement::Transfer { order, .. } => match state.orders.get(order) {
            Some(o) if o.transfer.is_none() && o.cancelled.is_none() => {
                let payment_ref = state
                    .checkouts
                    .get(&o.checkout_id)
                    .map(|c| c.payment_ref.clone())
                    .unwrap_or_default();
                match state.shops.get(&o.part.shop_id) {
                    Some(shop) => provider
                        .transfer(o, shop, &payment_ref)
                        .await
                        .map(|reference| {
                            Some(Settlement::Transfer {
                                order: *order,
                                reference,
                            })
                        }),
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        },
        Settlement::Reversal { order } => match state.orders.get(order) {
            Some(o) if o.transfer.is_some() && !o.transfer_reversed => {
                match state.shops.get(&o.part.shop_id) {
                    Some(shop) => provider
                        .reverse_transfer(o, shop)
                        .await
                        .map(|()| Some(settlement.clone())),
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        },
        Settlement::Refund { checkout } => match state.checkouts.get(checkout) {
            Some(c) if c.refund_owed && !c.refund_sent => provider
                .refund(&c.payment_ref)
                .await
                .map(|()| Some(settlement.clone())),
            _ => Ok(None),
        },
    };
    match done {
        Ok(Some(record)) => {
            if let Err(e) = app
                .execute(domain::Actor::System, domain::Command::Settle(record))
                .await
            {
                tracing::warn!(error = %e, "a settlement was made but not recorded; it is retried (idempotently)");
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(?settlement, error = %e, "a settlement failed at the provider; it is retried")
        }
    }
}

/// Retries every settlement the events asked for more than a minute before `now` and that is not
/// recorded: transfers, reversals and owed refunds lost to a crash or a provider failure.
/// Returns how many it tried.
pub async fn settle_due(app: &AppState, now: DateTime<Utc>) -> usize {
    let due = domain::unsettled(&app.state(), now - chrono::Duration::minutes(1));
    let count = due.len();
    for settlement in due {
        settle(app, settlement).await;
    }
    count
}

/// The contract every provider keeps, run against the sandbox always and against Stripe's test
/// mode when `MARKETPLACE_TEST_STRIPE_KEY` (a `sk_test_…` key) is set.
#[cfg(test)]
mod contract {
    use super::*;
    use domain::{Currency, ShopId};

    fn shop() -> Shop {
        serde_json::from_value(serde_json::json!({
            "id": ShopId(uuid::Uuid::now_v7()),
            "owner": null,
            "name": "Contract Shop",
            "slug": "contract-shop",
            "bio": "",
            "category": "home",
            "country": "DE",
            "created_at": chrono::Utc::now(),
        }))
        .expect("a shop")
    }

    async fn keeps_the_contract(provider: &dyn PaymentProvider) {
        assert!(!provider.webhook_secret().is_empty());
        let checkout = CheckoutId(uuid::Uuid::now_v7());
        let amount = Money::new(1234, Currency::USD);
        let first = provider.create_intent(checkout, amount).await.unwrap();
        let again = provider.create_intent(checkout, amount).await.unwrap();
        assert!(!first.payment_ref.is_empty());
        assert_eq!(
            first.payment_ref, again.payment_ref,
            "one payment per checkout, however often asked"
        );
        let other = provider
            .create_intent(CheckoutId(uuid::Uuid::now_v7()), amount)
            .await
            .unwrap();
        assert_ne!(first.payment_ref, other.payment_ref);
        provider.cancel_intent(&first.payment_ref).await.unwrap();
        provider.cancel_intent(&other.payment_ref).await.unwrap();
        // A shop with no connected account and no orders has nothing to be paid yet.
        let summary = provider
            .payouts(&State::default(), &shop(), chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(summary.provider, provider.name());
        assert_eq!((summary.available.amount, summary.pending.amount), (0, 0));
        assert!(summary.recent.is_empty());
    }

    #[tokio::test]
    async fn the_sandbox_keeps_the_contract() {
        keeps_the_contract(&sandbox::Sandbox::new()).await;
    }

    #[cfg(feature = "stripe")]
    #[tokio::test]
    async fn stripe_keeps_the_contract() {
        let Ok(secret_key) = std::env::var("MARKETPLACE_TEST_STRIPE_KEY") else {
            eprintln!(
                "SKIPPED: MARKETPLACE_TEST_STRIPE_KEY is not set (Stripe is not reachable here)"
            );
            return;
        };
        let config = StripeConfig {
            secret_key,
            webhook_secret: "whsec_contract".into(),
            publishable_key: None,
        };
        keeps_the_contract(&stripe::Stripe::new(&config).unwrap()).await;
    }
}
