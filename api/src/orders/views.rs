//! What the cart, checkout and order routes show.

use crate::views::{AddressView, MoneyView};
use chrono::{DateTime, Utc};
use domain::{Checkout, Order, PricedCart, PricedLine, ShopPart, State};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineView {
    pub product_id: uuid::Uuid,
    pub title: String,
    pub slug: String,
    pub unit_price: MoneyView,
    pub quantity: u32,
    /// The options chosen (`color`, `size`).
    pub options: BTreeMap<String, String>,
    pub subtotal: MoneyView,
    pub discount: MoneyView,
    /// `subtotal − discount`.
    pub total: MoneyView,
    /// The product's cover image (card size).
    pub image_url: Option<String>,
    /// Why the line cannot be bought now, if it cannot.
    pub problem: Option<String>,
}

impl LineView {
    fn build(state: &State, line: &PricedLine) -> LineView {
        let cover = state
            .products
            .get(&line.product_id)
            .and_then(|p| p.images.first().copied());
        LineView {
            product_id: line.product_id.0,
            title: line.title.clone(),
            slug: line.slug.clone(),
            unit_price: line.unit_price.into(),
            quantity: line.quantity,
            options: line.options.clone(),
            subtotal: line.subtotal.into(),
            discount: line.discount.into(),
            total: domain::Money::new(
                line.subtotal.amount - line.discount.amount,
                line.subtotal.currency,
            )
            .into(),
            image_url: cover.map(|id| crate::media::url(id, crate::media::Variant::Thumb)),
            problem: line.problem.clone(),
        }
    }
}

/// A discount code applied to one shop's lines.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CodeView {
    pub code: String,
    pub public_name: String,
}

/// One shop's lines and totals.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShopPartView {
    pub shop_id: uuid::Uuid,
    pub shop_name: String,
    pub lines: Vec<LineView>,
    pub code: Option<CodeView>,
    pub subtotal: MoneyView,
    pub discount: MoneyView,
    pub total: MoneyView,
}

impl ShopPartView {
    pub fn build(state: &State, part: &ShopPart) -> ShopPartView {
        ShopPartView {
            shop_id: part.shop_id.0,
            shop_name: part.shop_name.clone(),
            lines: part
                .lines
                .iter()
                .map(|l| LineView::build(state, l))
                .collect(),
            code: part.code.as_ref().map(|c| CodeView {
                code: c.code.clone(),
                public_name: c.public_name.clone(),
            }),
            subtotal: part.subtotal.into(),
            discount: part.discount.into(),
            total: part.total.into(),
        }
    }
}

/// The cart: lines grouped by shop, priced now, with what stops a checkout.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CartView {
    /// How many items (the sum of the quantities).
    pub items: u32,
    pub shops: Vec<ShopPartView>,
    pub subtotal: MoneyView,
    pub discount: MoneyView,
    pub total: MoneyView,
    /// Everything to fix before checking out; empty when the cart can be paid.
    pub problems: Vec<String>,
    /// Changes with every edit.
    pub version: u64,
}

impl CartView {
    pub fn build(state: &State, priced: &PricedCart, version: u64) -> CartView {
        CartView {
            items: priced
                .shops
                .iter()
                .flat_map(|s| &s.lines)
                .map(|l| l.quantity)
                .sum(),
            shops: priced
                .shops
                .iter()
                .map(|s| ShopPartView::build(state, s))
                .collect(),
            subtotal: priced.subtotal.into(),
            discount: priced.discount.into(),
            total: priced.total.into(),
            problems: priced.problems.clone(),
            version,
        }
    }
}

/// One shop's share of a payment.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShopAmount {
    pub shop_id: uuid::Uuid,
    pub shop_name: String,
    pub total: MoneyView,
}

/// The one payment session of the cart.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CheckoutView {
    pub session_id: uuid::Uuid,
    pub amount: MoneyView,
    pub per_shop: Vec<ShopAmount>,
    /// `sandbox` or `stripe`.
    pub provider: String,
    /// `open`, `paid`, `cancelled`, `expired`, `failed`, `refunded`.
    pub status: String,
    /// For Stripe.js (Stripe only).
    pub client_secret: Option<String>,
    /// The page where the shopper pays (the sandbox's card page).
    pub redirect_url: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl CheckoutView {
    pub fn build(checkout: &Checkout, client_secret: Option<String>) -> CheckoutView {
        CheckoutView {
            session_id: checkout.id.0,
            amount: checkout.priced.total.into(),
            per_shop: checkout
                .priced
                .shops
                .iter()
                .map(|s| ShopAmount {
                    shop_id: s.shop_id.0,
                    shop_name: s.shop_name.clone(),
                    total: s.total.into(),
                })
                .collect(),
            provider: checkout.provider.clone(),
            status: checkout.status.as_str().to_string(),
            redirect_url: (checkout.provider == "sandbox").then(|| format!("/pay/{}", checkout.id)),
            client_secret,
            expires_at: checkout.expires_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StatusChangeView {
    /// `ordered`, `packed`, `shipped`, `out_for_delivery`, `delivered`.
    pub status: String,
    pub label: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CancellationView {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// An order as its shopper (and its shop) see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: uuid::Uuid,
    /// A short reference people can read out.
    pub number: String,
    pub checkout_id: uuid::Uuid,
    #[serde(flatten)]
    pub part: ShopPartView,
    pub address: AddressView,
    /// How many items (the sum of the quantities).
    pub items: u32,
    pub status: String,
    pub status_label: String,
    /// Every status the order reached, oldest first.
    pub history: Vec<StatusChangeView>,
    pub cancelled: Option<CancellationView>,
    pub placed_at: DateTime<Utc>,
    /// The platform's fee and what the shop is paid (shown to the shop only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<MoneyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout: Option<MoneyView>,
    /// The shopper's name (shown to the shop only, for the delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shopper_name: Option<String>,
}

impl OrderView {
    pub fn build(state: &State, order: &Order, for_shop: bool) -> OrderView {
        OrderView {
            id: order.id.0,
            number: order.number(),
            checkout_id: order.checkout_id.0,
            part: ShopPartView::build(state, &order.part),
            address: AddressView::from(&order.address),
            items: order.part.lines.iter().map(|l| l.quantity).sum(),
            status: order.status.as_str().into(),
            status_label: order.status.label().into(),
            history: order
                .history
                .iter()
                .map(|h| StatusChangeView {
                    status: h.status.as_str().into(),
                    label: h.status.label().into(),
                    at: h.at,
                })
                .collect(),
            cancelled: order.cancelled.as_ref().map(|c| CancellationView {
                reason: c.reason.clone(),
                at: c.at,
            }),
            placed_at: order.placed_at,
            fee: for_shop.then(|| order.part.fee.into()),
            payout: for_shop.then(|| order.part.payout.into()),
            shopper_name: for_shop
                .then(|| state.accounts.get(&order.shopper).map(|a| a.name.clone()))
                .flatten(),
        }
    }
}
