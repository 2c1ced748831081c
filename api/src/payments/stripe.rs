//! Stripe with Connect ("separate charges and transfers"): one PaymentIntent for the whole
//! checkout (its `transfer_group` is the checkout id), then one Transfer per order to the shop's
//! Express account for the order's payout; the platform keeps the 10% fee. Chosen by
//! `STRIPE_SECRET_KEY`; webhooks are verified with `STRIPE_WEBHOOK_SECRET` by the same code as the
//! sandbox's. Every write carries an idempotency key derived from our ids, so a retry never
//! charges, refunds or transfers twice.

use super::{
    Intent, Onboarding, PaymentError, PaymentProvider, PayoutLine, PayoutSummary, StripeConfig,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use domain::{CheckoutId, Currency, Money, Order, Shop, State};
use std::collections::HashMap;
use stripe::{AccountId, Client, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_connect::account::{CreateAccount, CreateAccountType, RetrieveAccount};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::{CreateTransfer, ListTransfer};
use stripe_connect::transfer_reversal::CreateIdTransferReversal;
use stripe_core::balance::RetrieveForMyAccountBalance;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    RetrievePaymentIntent,
};
use stripe_core::payout::ListPayout;
use stripe_core::refund::CreateRefund;

pub struct Stripe {
    client: Client,
    webhook_secret: String,
}

impl Stripe {
    pub fn new(config: &StripeConfig) -> Result<Stripe, String> {
        if config.webhook_secret.is_empty() {
            return Err("STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY".into());
        }
        let client = stripe::ClientBuilder::new(&config.secret_key)
            .build()
            .map_err(|e| format!("the Stripe client could not be built: {e}"))?;
        Ok(Stripe {
            client,
            webhook_secret: config.webhook_secret.clone(),
        })
    }
}

fn once(key: String) -> Result<RequestStrategy, PaymentError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| PaymentError::Refused(e.to_string()))
}

fn currency(c: Currency) -> stripe_types::Currency {
    c.code().to_ascii_lowercase().parse().expect("infallible")
}

fn failed(e: StripeError) -> PaymentError {
    match e {
        StripeError::Stripe(errors, status) => PaymentError::Refused(format!(
            "{status}: {}",
            errors.message.unwrap_or_else(|| "no message".into())
        )),
        other => PaymentError::Unreachable(other.to_string()),
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    async fn create_intent(
        &self,
        checkout: CheckoutId,
        amount: Money,
    ) -> Result<Intent, PaymentError> {
        let intent = CreatePaymentIntent::new(amount.amount, currency(amount.currency))
            .metadata(HashMap::from([(
                "checkout_id".to_string(),
                checkout.to_string(),
            )]))
            .transfer_group(checkout.to_string())
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods::new(true))
            .customize()
            .request_strategy(once(format!("checkout-{checkout}"))?)
            .send(&self.client)
            .await
            .map_err(failed)?;
        Ok(Intent {
            payment_ref: intent.id.to_string(),
            client_secret: intent.client_secret,
        })
    }

    async fn cancel_intent(&self, payment_ref: &str) -> Result<(), PaymentError> {
        CancelPaymentIntent::new(payment_ref)
            .send(&self.client)
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn refund(&self, payment_ref: &str) -> Result<(), PaymentError> {
        CreateRefund::new()
            .payment_intent(payment_ref)
            .customize()
            .request_strategy(once(format!("refund-{payment_ref}"))?)
            .send(&self.client)
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn transfer(
        &self,
        order: &Order,
        shop: &Shop,
        payment_ref: &str,
    ) -> Result<String, PaymentError> {
        let Some(destination) = &shop.payout_account else {
            return Err(PaymentError::Refused(format!(
                "shop {} has no connected account yet; its payout stays with the platform",
                shop.id
            )));
        };
        // Tied to the charge, so the transfer waits for the charge's funds instead of failing.
        let charge = RetrievePaymentIntent::new(payment_ref)
            .send(&self.client)
            .await
            .map_err(failed)?
            .latest_charge
            .map(|c| c.id().to_string());
        let mut request =
            CreateTransfer::new(currency(order.part.payout.currency), destination.as_str())
                .amount(order.part.payout.amount)
                .transfer_group(order.checkout_id.to_string());
        if let Some(charge) = &charge {
            request = request.source_transaction(charge.as_str());
        }
        request
            .customize()
            .request_strategy(once(format!("transfer-{}", order.id))?)
            .send(&self.client)
            .await
            .map(|transfer| transfer.id.to_string())
            .map_err(failed)
    }

    async fn reverse_transfer(&self, order: &Order, shop: &Shop) -> Result<(), PaymentError> {
        let Some(destination) = &shop.payout_account else {
            return Ok(()); // never transferred
        };
        let transfers = ListTransfer::new()
            .transfer_group(order.checkout_id.to_string())
            .destination(destination.as_str())
            .send(&self.client)
            .await
            .map_err(failed)?;
        for transfer in transfers.data.iter().filter(|t| !t.reversed) {
            CreateIdTransferReversal::new(transfer.id.clone())
                .customize()
                .request_strategy(once(format!("reversal-{}", transfer.id))?)
                .send(&self.client)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn onboarding(
        &self,
        shop: &Shop,
        email: &str,
        return_url: &str,
    ) -> Result<Option<Onboarding>, PaymentError> {
        let account = match &shop.payout_account {
            Some(account) => account.clone(),
            None => CreateAccount::new()
                .type_(CreateAccountType::Express)
                .email(email)
                .country(shop.country.as_str())
                .customize()
                .request_strategy(once(format!("account-{}", shop.id))?)
                .send(&self.client)
                .await
                .map_err(failed)?
                .id
                .to_string(),
        };
        let link =
            CreateAccountLink::new(account.as_str(), CreateAccountLinkType::AccountOnboarding)
                .refresh_url(return_url)
                .return_url(return_url)
                .send(&self.client)
                .await
                .map_err(failed)?;
        Ok(Some(Onboarding {
            account,
            url: link.url,
        }))
    }

    async fn payouts(
        &self,
        state: &State,
        shop: &Shop,
        _now: DateTime<Utc>,
    ) -> Result<PayoutSummary, PaymentError> {
        let currency_of_shop = state
            .orders_of_shop(shop.id)
            .next()
            .map_or(Currency::USD, |o| o.part.payout.currency);
        let zero = Money::new(0, currency_of_shop).into();
        let Some(account) = &shop.payout_account else {
            return Ok(PayoutSummary {
                provider: "stripe".into(),
                account: None,
                payouts_enabled: false,
                available: Money::new(0, currency_of_shop).into(),
                pending: zero,
                recent: Vec::new(),
                onboarding_url: None,
            });
        };
        let on_behalf = AccountId::from(account.as_str());
        let details = RetrieveAccount::new(account.as_str())
            .send(&self.client)
            .await
            .map_err(failed)?;
        let balance = RetrieveForMyAccountBalance::new()
            .customize()
            .account_id(on_behalf.clone())
            .send(&self.client)
            .await
            .map_err(failed)?;
        let code = currency_of_shop.code().to_ascii_lowercase();
        let sum = |funds: &[stripe_core::BalanceAmount]| {
            funds
                .iter()
                .filter(|f| f.currency.to_string() == code)
                .map(|f| f.amount)
                .sum::<i64>()
        };
        let payouts = ListPayout::new()
            .limit(20)
            .customize()
            .account_id(on_behalf)
            .send(&self.client)
            .await
            .map_err(failed)?;
        Ok(PayoutSummary {
            provider: "stripe".into(),
            account: Some(account.clone()),
            payouts_enabled: details.payouts_enabled.unwrap_or(false),
            available: Money::new(sum(&balance.available), currency_of_shop).into(),
            pending: Money::new(sum(&balance.pending), currency_of_shop).into(),
            recent: payouts
                .data
                .into_iter()
                .map(|p| PayoutLine {
                    reference: p.id.to_string(),
                    amount: Money::new(
                        p.amount,
                        Currency::parse(&p.currency.to_string().to_ascii_uppercase())
                            .unwrap_or(currency_of_shop),
                    )
                    .into(),
                    status: p.status,
                    at: Utc
                        .timestamp_opt(p.arrival_date, 0)
                        .single()
                        .unwrap_or_default(),
                })
                .collect(),
            onboarding_url: None,
        })
    }
}
