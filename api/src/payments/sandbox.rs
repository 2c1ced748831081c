//! The embedded payment provider: a local card page that takes Stripe's test card numbers and
//! reports the outcome with a webhook signed exactly like Stripe's, verified by the same code.
//!
//! | card | outcome |
//! |---|---|
//! | 4242 4242 4242 4242 | paid |
//! | 4000 0025 0000 3155 | asks for an extra authentication step, then paid or failed |
//! | 4000 0000 0000 9995 | declined: insufficient funds |
//! | 4000 0000 0000 0002 | declined |
//!
//! Its ledger is the orders themselves: each order's payout is a transfer to the shop, pending
//! for two days, then available.

use super::{Intent, PaymentError, PaymentProvider, PayoutLine, PayoutSummary};
use crate::app::AppState;
use crate::error::ApiError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AccountId, CheckoutId, CheckoutStatus, Currency, Money, Order, Shop, State};
use rand::Rng;
use serde::Serialize;

/// How long a sandbox transfer stays pending before the seller could be paid it.
const PENDING_DAYS: i64 = 2;

pub struct Sandbox {
    webhook_secret: String,
}

impl Sandbox {
    /// A sandbox with a fresh webhook secret (it signs and checks only its own webhooks).
    pub fn new() -> Sandbox {
        let bytes: [u8; 24] = rand::rng().random();
        Sandbox {
            webhook_secret: format!("whsec_sbx_{}", hex::encode(bytes)),
        }
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

#[async_trait]
impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    async fn create_intent(
        &self,
        checkout: CheckoutId,
        _amount: Money,
    ) -> Result<Intent, PaymentError> {
        Ok(Intent {
            payment_ref: format!("pi_sbx_{}", checkout.0.simple()),
            client_secret: None,
        })
    }

    async fn cancel_intent(&self, payment_ref: &str) -> Result<(), PaymentError> {
        tracing::debug!(payment_ref, "sandbox payment cancelled");
        Ok(())
    }

    async fn refund(&self, payment_ref: &str) -> Result<(), PaymentError> {
        tracing::info!(payment_ref, "sandbox payment refunded");
        Ok(())
    }

    async fn transfer(
        &self,
        order: &Order,
        shop: &Shop,
        _payment_ref: &str,
    ) -> Result<String, PaymentError> {
        tracing::debug!(order = %order.id, shop = %shop.id, amount = order.part.payout.amount, "sandbox transfer");
        Ok(format!("tr_sbx_{}", order.number()))
    }

    async fn reverse_transfer(&self, order: &Order, _shop: &Shop) -> Result<(), PaymentError> {
        // The ledger is the orders: a cancelled order's payout is no longer counted.
        tracing::debug!(order = %order.id, "sandbox transfer reversed");
        Ok(())
    }

    async fn onboarding(
        &self,
        _shop: &Shop,
        _email: &str,
        _return_url: &str,
    ) -> Result<Option<super::Onboarding>, PaymentError> {
        Ok(None)
    }

    async fn payouts(
        &self,
        state: &State,
        shop: &Shop,
        now: DateTime<Utc>,
    ) -> Result<PayoutSummary, PaymentError> {
        let orders: Vec<&Order> = state
            .orders_of_shop(shop.id)
            .filter(|o| o.cancelled.is_none())
            .collect();
        let currency = orders
            .first()
            .map_or(Currency::USD, |o| o.part.payout.currency);
        let settled = |o: &Order| now - o.placed_at >= chrono::Duration::days(PENDING_DAYS);
        let sum = |settled_now: bool| {
            Money::new(
                orders
                    .iter()
                    .filter(|o| settled(o) == settled_now && o.part.payout.currency == currency)
                    .map(|o| o.part.payout.amount)
                    .sum(),
                currency,
            )
            .into()
        };
        Ok(PayoutSummary {
            provider: "sandbox".into(),
            account: Some(format!(
                "acct_sbx_{}",
                &shop.id.0.simple().to_string()[..16]
            )),
            payouts_enabled: true,
            available: sum(true),
            pending: sum(false),
            recent: orders
                .iter()
                .take(20)
                .map(|o| PayoutLine {
                    reference: o
                        .transfer
                        .clone()
                        .unwrap_or_else(|| format!("tr_sbx_{} (due)", o.number())),
                    amount: o.part.payout.into(),
                    status: if settled(o) { "available" } else { "pending" }.into(),
                    at: o.placed_at,
                })
                .collect(),
            onboarding_url: None,
        })
    }
}

/// What the sandbox card page did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SandboxOutcome {
    /// `succeeded`, `failed` or `requires_action` (the card wants the extra authentication step).
    pub status: String,
    pub message: String,
    /// The orders the payment placed.
    pub orders: Vec<uuid::Uuid>,
}

enum Card {
    Pays,
    NeedsAuthentication,
    Declined(&'static str),
}

fn card(number: &str) -> Result<Card, ApiError> {
    let digits: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(12..=19).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !luhn(&digits)
    {
        return Err(ApiError::invalid(
            "card_number",
            "this is not a valid card number",
        ));
    }
    Ok(match digits.as_str() {
        "4242424242424242" | "5555555555554444" => Card::Pays,
        "4000002500003155" | "4000002760003184" => Card::NeedsAuthentication,
        "4000000000009995" => Card::Declined("your card has insufficient funds"),
        _ => {
            Card::Declined("your card was declined (in the sandbox, pay with 4242 4242 4242 4242)")
        }
    })
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Pays a checkout with a card on the sandbox's page. `authentication` answers the extra step
/// (`Some(true)` approves, `Some(false)` fails it) for cards that ask for one.
pub async fn pay(
    app: &AppState,
    shopper: AccountId,
    checkout: CheckoutId,
    card_number: &str,
    authentication: Option<bool>,
) -> Result<SandboxOutcome, ApiError> {
    let state = app.state();
    let found = state
        .checkouts
        .get(&checkout)
        .filter(|c| c.owner == shopper && c.provider == "sandbox")
        .ok_or_else(|| ApiError::NotFound(format!("checkout {checkout} not found")))?
        .clone();
    match found.status {
        CheckoutStatus::Open if Utc::now() < found.expires_at => {}
        CheckoutStatus::Open | CheckoutStatus::Expired => {
            return Err(ApiError::Conflict(
                "this checkout has expired: check out again".into(),
            ));
        }
        CheckoutStatus::Paid | CheckoutStatus::Refunded => {
            return Err(ApiError::Conflict("this checkout is paid already".into()));
        }
        CheckoutStatus::Cancelled | CheckoutStatus::Failed => {
            return Err(ApiError::Conflict(
                "this checkout is closed (the cart changed or the payment failed): check out again"
                    .into(),
            ));
        }
    }
    let outcome = match (card(card_number)?, authentication) {
        (Card::Pays, _) | (Card::NeedsAuthentication, Some(true)) => Ok(()),
        (Card::NeedsAuthentication, None) => {
            return Ok(SandboxOutcome {
                status: "requires_action".into(),
                message: "your bank asks you to confirm this payment".into(),
                orders: Vec::new(),
            });
        }
        (Card::NeedsAuthentication, Some(false)) => Err("the payment was not authenticated"),
        (Card::Declined(reason), _) => Err(reason),
    };
    let amount = found.priced.total;
    let object = serde_json::json!({
        "id": found.payment_ref,
        "object": "payment_intent",
        "amount": amount.amount,
        "amount_received": if outcome.is_ok() { amount.amount } else { 0 },
        "currency": amount.currency.code().to_ascii_lowercase(),
        "metadata": {"checkout_id": checkout.to_string()},
        "last_payment_error": outcome.err().map(|message| serde_json::json!({"message": message})),
        "status": if outcome.is_ok() { "succeeded" } else { "requires_payment_method" },
    });
    let kind = if outcome.is_ok() {
        "payment_intent.succeeded"
    } else {
        "payment_intent.payment_failed"
    };
    deliver(app, kind, object).await?;
    let state = app.state();
    Ok(match outcome {
        Ok(()) => SandboxOutcome {
            status: "succeeded".into(),
            message: "paid".into(),
            orders: found
                .priced
                .shops
                .iter()
                .map(|s| found.order_id(s.shop_id))
                .filter(|id| state.orders.contains_key(id))
                .map(|id| id.0)
                .collect(),
        },
        Err(reason) => SandboxOutcome {
            status: "failed".into(),
            message: reason.into(),
            orders: Vec::new(),
        },
    })
}

/// Signs a Stripe-shaped event and hands it to the webhook, exactly as an HTTP delivery would.
pub async fn deliver(
    app: &AppState,
    kind: &str,
    object: serde_json::Value,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let event = serde_json::json!({
        "id": format!("evt_sbx_{}", uuid::Uuid::now_v7().simple()),
        "object": "event",
        "type": kind,
        "created": now.timestamp(),
        "livemode": false,
        "data": {"object": object},
    });
    let body = serde_json::to_vec(&event).expect("JSON");
    let header = super::signature::sign(app.payments.webhook_secret(), now.timestamp(), &body);
    super::webhook::receive(app, &body, Some(&header))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_are_told_apart_and_bad_numbers_refused() {
        assert!(matches!(card("4242 4242 4242 4242"), Ok(Card::Pays)));
        assert!(matches!(
            card("4000-0025-0000-3155"),
            Ok(Card::NeedsAuthentication)
        ));
        assert!(matches!(card("4000000000000002"), Ok(Card::Declined(_))));
        assert!(card("4242424242424241").is_err(), "fails the Luhn check");
        assert!(card("42").is_err());
    }
}
