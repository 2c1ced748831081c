//! `POST /api/payments/webhook`: the provider's word on a payment, verified on the raw body and
//! turned into a domain command. Replays and out-of-order deliveries change nothing (the domain
//! knows what each checkout already is); an event about a payment this marketplace never opened is
//! acknowledged and ignored, so the provider stops retrying it.

use super::signature;
use crate::app::AppState;
use crate::error::ApiError;
use chrono::Utc;
use domain::{Actor, Command, Currency, Money, PaymentCommand};
use serde::Deserialize;

#[derive(Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// What a delivery did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub received: bool,
    /// The event's id at the provider.
    pub event: String,
    /// What it meant here: `recorded`, `already_recorded`, `ignored`.
    pub outcome: String,
}

/// Verifies and applies one webhook delivery.
pub async fn receive(
    app: &AppState,
    body: &[u8],
    header: Option<&str>,
) -> Result<Receipt, ApiError> {
    let refused = |message: String| ApiError::BadRequest {
        code: "bad_signature",
        message,
    };
    let header = header.ok_or_else(|| refused("the Stripe-Signature header is missing".into()))?;
    signature::verify(
        app.payments.webhook_secret(),
        header,
        body,
        Utc::now().timestamp(),
    )
    .map_err(|e| refused(e.to_string()))?;
    let event: StripeEvent = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the event is not a Stripe event: {e}")))?;
    let receipt = |outcome: &str| Receipt {
        received: true,
        event: event.id.clone(),
        outcome: outcome.into(),
    };
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let payment_ref = match event.kind.as_str() {
        "charge.refunded" => text("payment_intent"),
        _ => text("id"),
    };
    let Some(payment_ref) = payment_ref else {
        return Ok(receipt("ignored"));
    };
    let state = app.state();
    let Some(&checkout) = state.payment_refs.get(&payment_ref) else {
        tracing::warn!(event = %event.id, kind = %event.kind, payment_ref, "a webhook about a payment this marketplace did not open");
        return Ok(receipt("ignored"));
    };
    let command = match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let amount = object
                .get("amount_received")
                .or_else(|| object.get("amount"))
                .and_then(|v| v.as_i64())
                .ok_or_else(|| ApiError::bad_request("the payment has no amount"))?;
            let currency = text("currency")
                .and_then(|c| Currency::parse(&c.to_ascii_uppercase()).ok())
                .ok_or_else(|| ApiError::bad_request("the payment has no valid currency"))?;
            PaymentCommand::Succeeded {
                checkout,
                payment_ref,
                amount: Money::new(amount, currency),
            }
        }
        "payment_intent.payment_failed" | "payment_intent.canceled" => PaymentCommand::Failed {
            checkout,
            payment_ref,
            reason: object
                .pointer("/last_payment_error/message")
                .and_then(|v| v.as_str())
                .unwrap_or(if event.kind.ends_with("canceled") {
                    "the payment was cancelled"
                } else {
                    "the payment failed"
                })
                .to_string(),
        },
        // Only a full refund cancels the orders; a partial one is the seller's business.
        "charge.refunded" if object.get("refunded").and_then(|v| v.as_bool()) == Some(true) => {
            PaymentCommand::Refunded {
                checkout,
                payment_ref,
            }
        }
        _ => return Ok(receipt("ignored")),
    };
    let events = app
        .execute(Actor::System, Command::Payment(command))
        .await?;
    if events.is_empty() {
        return Ok(receipt("already_recorded"));
    }
    tracing::info!(event = %event.id, kind = %event.kind, checkout = %checkout, events = events.len(), "payment recorded");
    super::follow_up(app, &events).await;
    Ok(receipt("recorded"))
}
