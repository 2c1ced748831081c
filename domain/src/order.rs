//! Orders: one shop's part of a paid checkout, and its way to the shopper's door.

use crate::Result;
use crate::account::Address;
use crate::actor::{Actor, Role};
use crate::checkout::ShopPart;
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, CheckoutId, OrderId};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an order is on its way. It only ever moves forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Ordered,
    Packed,
    Shipped,
    OutForDelivery,
    Delivered,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Ordered,
        DeliveryStatus::Packed,
        DeliveryStatus::Shipped,
        DeliveryStatus::OutForDelivery,
        DeliveryStatus::Delivered,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Ordered => "ordered",
            DeliveryStatus::Packed => "packed",
            DeliveryStatus::Shipped => "shipped",
            DeliveryStatus::OutForDelivery => "out_for_delivery",
            DeliveryStatus::Delivered => "delivered",
        }
    }

    /// In words, for pages and mail.
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryStatus::Ordered => "Ordered",
            DeliveryStatus::Packed => "Packed",
            DeliveryStatus::Shipped => "Shipped",
            DeliveryStatus::OutForDelivery => "Out for delivery",
            DeliveryStatus::Delivered => "Delivered",
        }
    }

    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// One shop's order: its lines, code and totals exactly as charged, the delivery address, and
/// the delivery status with its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub checkout_id: CheckoutId,
    pub shopper: AccountId,
    pub address: Address,
    #[serde(flatten)]
    pub part: ShopPart,
    pub status: DeliveryStatus,
    pub history: Vec<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Cancellation>,
    pub placed_at: DateTime<Utc>,
    /// The provider's transfer of the payout to the shop, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<String>,
    /// The transfer was taken back (the order was refunded).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transfer_reversed: bool,
}

impl Order {
    /// A short reference people can read out ("M-3F9A2C7D"), from the id's shop-mixed tail.
    pub fn number(&self) -> String {
        self.id.number()
    }
}

impl OrderId {
    /// The order's number, as [`Order::number`] gives it.
    pub fn number(&self) -> String {
        format!(
            "M-{}",
            &self.0.simple().to_string()[24..].to_ascii_uppercase()
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderCommand {
    /// The shop's seller moves the order forward.
    SetDeliveryStatus { id: OrderId, status: DeliveryStatus },
}

pub(crate) fn decide(state: &State, command: &OrderCommand, ctx: &Context) -> Result<Vec<Event>> {
    match command {
        OrderCommand::SetDeliveryStatus { id, status } => {
            let order = state
                .orders
                .get(id)
                .ok_or_else(|| DomainError::not_found("order", id))?;
            let owns = match ctx.actor {
                Actor::System => true,
                Actor::Account {
                    role: Role::Seller,
                    id: seller,
                } => state
                    .shops
                    .get(&order.part.shop_id)
                    .is_some_and(|s| s.owner == Some(seller)),
                _ => false,
            };
            if !owns {
                // Another shop's order is "not found": its existence is none of their business.
                return Err(DomainError::not_found("order", id));
            }
            if order.cancelled.is_some() {
                return Err(DomainError::Conflict("the order was cancelled".into()));
            }
            if *status == order.status {
                return Ok(Vec::new());
            }
            if *status < order.status {
                return Err(DomainError::Conflict(format!(
                    "the order is {} already; its status only moves forward",
                    order.status.label().to_lowercase()
                )));
            }
            let mut after = order.clone();
            after.status = *status;
            after.history.push(StatusChange {
                status: *status,
                at: ctx.at,
            });
            Ok(vec![Event::OrderStatusChanged {
                id: *id,
                shop: order.part.shop_id,
                shopper: order.shopper,
                from: order.status,
                to: *status,
                at: ctx.at,
                after: Some(Box::new(after)),
            }])
        }
    }
}

impl State {
    pub(crate) fn apply_order(&mut self, event: &Event) {
        match event {
            Event::OrderPlaced(order) => {
                if let Some(code) = &order.part.code {
                    *self.code_uses.entry(code.id).or_default() += 1;
                }
                // The paid cart is emptied (once: emptying moves its version on), unless the
                // shopper changed it after opening the session.
                let owner = crate::cart::CartOwner::Account(order.shopper);
                let paid_version = self
                    .checkouts
                    .get(&order.checkout_id)
                    .map(|c| c.cart_version);
                if let Some(cart) = self.carts.get_mut(&owner)
                    && Some(cart.version) == paid_version
                {
                    cart.lines.clear();
                    cart.codes.clear();
                    cart.version += 1;
                    cart.updated_at = order.placed_at;
                }
                for line in &order.part.lines {
                    *self.units_sold.entry(line.product_id).or_default() +=
                        u64::from(line.quantity);
                }
                *self.shop_sales.entry(order.part.shop_id).or_default() += 1;
                self.shopper_orders
                    .entry(order.shopper)
                    .or_default()
                    .push_back(order.id);
                self.shop_orders
                    .entry(order.part.shop_id)
                    .or_default()
                    .push_back(order.id);
                self.orders.insert(order.id, (**order).clone());
            }
            Event::OrderStatusChanged { id, to, at, .. } => {
                if let Some(order) = self.orders.get_mut(id) {
                    order.status = *to;
                    order.history.push(StatusChange {
                        status: *to,
                        at: *at,
                    });
                }
            }
            Event::OrderCancelled { id, reason, at, .. } => {
                let Some(order) = self.orders.get_mut(id) else {
                    return;
                };
                order.cancelled = Some(Cancellation {
                    reason: reason.clone(),
                    at: *at,
                });
                let order = order.clone();
                for line in &order.part.lines {
                    if let Some(units) = self.units_sold.get_mut(&line.product_id) {
                        *units = units.saturating_sub(u64::from(line.quantity));
                    }
                }
                if let Some(sales) = self.shop_sales.get_mut(&order.part.shop_id) {
                    *sales = sales.saturating_sub(1);
                }
                // A refunded order gives its code's use back.
                if let Some(uses) = order
                    .part
                    .code
                    .as_ref()
                    .and_then(|c| self.code_uses.get_mut(&c.id))
                {
                    *uses = uses.saturating_sub(1);
                }
            }
            _ => {}
        }
    }

    /// A shopper's orders, newest first.
    pub fn orders_of_shopper(&self, shopper: AccountId) -> impl Iterator<Item = &Order> {
        self.shopper_orders
            .get(&shopper)
            .into_iter()
            .flat_map(|ids| ids.iter().rev())
            .filter_map(|id| self.orders.get(id))
    }

    /// A shop's orders, newest first.
    pub fn orders_of_shop(&self, shop: crate::ids::ShopId) -> impl Iterator<Item = &Order> {
        self.shop_orders
            .get(&shop)
            .into_iter()
            .flat_map(|ids| ids.iter().rev())
            .filter_map(|id| self.orders.get(id))
    }
}
