//! Settlements: what the marketplace did at the payment provider because events asked for it — a
//! shop's transfer for its order, taking that transfer back after a refund, a refund the
//! marketplace owed. Each is recorded once done, so a crash between an event and the provider
//! call is retried later, and a retry of something done is a no-op.

use crate::Result;
use crate::actor::Actor;
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{CheckoutId, OrderId};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Settlement {
    /// The order's payout reached its shop (`reference`: the provider's transfer).
    Transfer { order: OrderId, reference: String },
    /// A cancelled order's transfer was taken back.
    Reversal { order: OrderId },
    /// A refund the marketplace owed (a payment it could not fulfil) was made.
    Refund { checkout: CheckoutId },
}

/// Settlements the events ask for that are not recorded yet, for what happened before
/// `settled_before` (younger work is left to the request that caused it).
pub fn unsettled(state: &State, settled_before: DateTime<Utc>) -> Vec<Settlement> {
    let mut due = Vec::new();
    for order in state.orders.values() {
        match (&order.cancelled, &order.transfer) {
            (None, None) if order.placed_at < settled_before => due.push(Settlement::Transfer {
                order: order.id,
                reference: String::new(),
            }),
            (Some(c), Some(_)) if !order.transfer_reversed && c.at < settled_before => {
                due.push(Settlement::Reversal { order: order.id })
            }
            _ => {}
        }
    }
    for checkout in state.checkouts.values() {
        if checkout.refund_owed && !checkout.refund_sent && checkout.created_at < settled_before {
            due.push(Settlement::Refund {
                checkout: checkout.id,
            });
        }
    }
    due
}

pub(crate) fn decide(state: &State, settlement: &Settlement, ctx: &Context) -> Result<Vec<Event>> {
    if ctx.actor != Actor::System {
        return Err(DomainError::Forbidden(
            "only the payment integration records settlements".into(),
        ));
    }
    let done = match settlement {
        Settlement::Transfer { order, reference } => {
            if reference.trim().is_empty() {
                return Err(DomainError::invalid(
                    "reference",
                    "the provider's transfer id",
                ));
            }
            order_of(state, *order)?.transfer.is_some()
        }
        Settlement::Reversal { order } => {
            let order = order_of(state, *order)?;
            order.transfer.is_none() || order.transfer_reversed
        }
        Settlement::Refund { checkout } => {
            let checkout = state
                .checkouts
                .get(checkout)
                .ok_or_else(|| DomainError::not_found("checkout", checkout))?;
            !checkout.refund_owed || checkout.refund_sent
        }
    };
    Ok(if done {
        Vec::new()
    } else {
        vec![Event::PaymentSettled {
            settlement: settlement.clone(),
            at: ctx.at,
        }]
    })
}

fn order_of(state: &State, id: OrderId) -> Result<&crate::order::Order> {
    state
        .orders
        .get(&id)
        .ok_or_else(|| DomainError::not_found("order", id))
}

impl State {
    pub(crate) fn apply_settlement(&mut self, settlement: &Settlement) {
        match settlement {
            Settlement::Transfer { order, reference } => {
                if let Some(order) = self.orders.get_mut(order) {
                    order.transfer = Some(reference.clone());
                }
            }
            Settlement::Reversal { order } => {
                if let Some(order) = self.orders.get_mut(order) {
                    order.transfer_reversed = true;
                }
            }
            Settlement::Refund { checkout } => {
                if let Some(checkout) = self.checkouts.get_mut(checkout) {
                    checkout.refund_sent = true;
                }
            }
        }
    }
}
