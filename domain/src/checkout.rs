//! Pricing a cart, the payment session of a cart (a checkout), and what a payment's outcome
//! does: one order per shop, exactly once; stock held while the shopper pays, released if they
//! do not.

use crate::Result;
use crate::account::Address;
use crate::actor::{Actor, Role};
use crate::cart::{Cart, CartOwner};
use crate::catalog::Product;
use crate::command::Context;
use crate::discount::{Discount, DiscountCode};
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, AddressId, CheckoutId, DiscountCodeId, OrderId, ProductId, ShopId};
use crate::money::{Currency, Money};
use crate::order::{DeliveryStatus, Order, StatusChange};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The marketplace's share of each shop's total, in percent.
pub const PLATFORM_FEE_PERCENT: i64 = 10;
/// How long a checkout holds its stock while the shopper pays.
pub const CHECKOUT_MINUTES: i64 = 30;

/// One product line, priced now from the catalog (never from the client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub title: String,
    pub slug: String,
    /// The product's category (slug) when it was priced, so sales by category need no lookup.
    /// Empty in events written before it was added.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    pub unit_price: Money,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// `unit_price × quantity`.
    pub subtotal: Money,
    /// This line's share of its shop's discount code.
    pub discount: Money,
    /// Why the line cannot be bought now (out of stock, removed, …); such lines count for nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The code applied to one shop's lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCode {
    pub id: DiscountCodeId,
    pub code: String,
    pub public_name: String,
}

/// One shop's part of a cart (and, once paid, of its order): lines, code and totals.
/// `total = subtotal − discount`; the platform keeps `fee` and the shop is paid `payout`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopPart {
    pub shop_id: ShopId,
    pub shop_name: String,
    pub lines: Vec<PricedLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<AppliedCode>,
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
    pub fee: Money,
    pub payout: Money,
}

/// A cart priced against the catalog at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedCart {
    pub currency: Currency,
    pub shops: Vec<ShopPart>,
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
    pub fee: Money,
    /// Everything that stops a checkout now, in words a shopper understands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// Why a product cannot be bought at `now`, if it cannot.
pub(crate) fn not_on_sale(product: &Product, now: DateTime<Utc>) -> Option<String> {
    if !product.is_visible() {
        return Some(format!("'{}' is no longer for sale", product.title));
    }
    if let Some(start) = product.details.starts_at
        && now < start
    {
        return Some(format!(
            "the offer '{}' starts {}",
            product.title,
            start.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if product.details.ends_at.is_some_and(|end| end <= now) {
        return Some(format!("the offer '{}' has ended", product.title));
    }
    None
}

/// Why a discount code cannot be used now, if it cannot: its window, and its uses (counting the
/// checkouts of other shoppers that hold it while they pay).
pub(crate) fn code_unusable(
    state: &State,
    code: &DiscountCode,
    now: DateTime<Utc>,
    owner: Option<AccountId>,
) -> Option<String> {
    if !code.is_live(now) {
        return Some(match code.starts_at {
            Some(start) if now < start => format!(
                "{} is not valid before {}",
                code.code,
                start.format("%Y-%m-%d")
            ),
            _ => format!("{} has expired", code.code),
        });
    }
    let max = code.max_uses?;
    let used = state.code_uses.get(&code.id).copied().unwrap_or(0);
    let held = state
        .code_holds
        .get(&code.id)
        .into_iter()
        .flat_map(|holds| holds.iter())
        .filter_map(|id| state.checkouts.get(id))
        .filter(|c| c.holds_stock(now) && Some(c.owner) != owner)
        .count() as u32;
    (used + held >= max).then(|| format!("{} has been used up", code.code))
}

/// Prices a cart from the catalog at `now`. Never fails: what stops a checkout is listed in
/// `problems` (and on the lines concerned), so the cart page can show it.
pub fn price_cart(state: &State, cart: &Cart, now: DateTime<Utc>) -> PricedCart {
    let owner = cart.owner.account();
    let currency = cart
        .lines
        .iter()
        .find_map(|l| state.products.get(&l.product_id))
        .map_or(Currency::USD, |p| p.current_price().currency);
    let zero = Money::new(0, currency);
    let mut problems = Vec::new();
    let mut shops: Vec<ShopPart> = Vec::new();
    for line in &cart.lines {
        let Some(product) = state.products.get(&line.product_id) else {
            problems.push("a product in the cart was removed by its shop".to_string());
            continue;
        };
        let unit_price = product.current_price();
        let problem = not_on_sale(product, now)
            .or_else(|| {
                let available = state.available(product, now, owner);
                (line.quantity > available).then(|| match available {
                    0 => format!("'{}' is out of stock", product.title),
                    n => format!("only {n} of '{}' left", product.title),
                })
            })
            .or_else(|| {
                (unit_price.currency != currency).then(|| {
                    format!(
                        "'{}' is priced in {}, the cart in {currency}: buy it separately",
                        product.title, unit_price.currency
                    )
                })
            });
        if let Some(p) = &problem {
            problems.push(p.clone());
        }
        let subtotal = match problem {
            None => Money::new(unit_price.amount * i64::from(line.quantity), currency),
            Some(_) => zero,
        };
        let priced = PricedLine {
            product_id: product.id,
            title: product.title.clone(),
            slug: product.slug.clone(),
            category: product.category.clone(),
            unit_price,
            quantity: line.quantity,
            options: line.options.clone(),
            subtotal,
            discount: zero,
            problem,
        };
        match shops.iter_mut().find(|s| s.shop_id == product.shop_id) {
            Some(part) => part.lines.push(priced),
            None => shops.push(ShopPart {
                shop_id: product.shop_id,
                shop_name: state
                    .shops
                    .get(&product.shop_id)
                    .map_or_else(String::new, |s| s.name.clone()),
                lines: vec![priced],
                code: None,
                subtotal: zero,
                discount: zero,
                total: zero,
                fee: zero,
                payout: zero,
            }),
        }
    }
    for part in &mut shops {
        let code = cart
            .codes
            .iter()
            .filter_map(|id| state.discount_codes.get(id))
            .find(|c| c.shop_id == part.shop_id);
        if let Some(code) = code {
            match code_unusable(state, code, now, owner) {
                Some(reason) => problems.push(format!("{reason}: remove it to check out")),
                None => {
                    if let Some(problem) = apply_discount(part, code) {
                        problems.push(problem);
                    }
                }
            }
        }
        part.subtotal = Money::new(part.lines.iter().map(|l| l.subtotal.amount).sum(), currency);
        part.discount = Money::new(part.lines.iter().map(|l| l.discount.amount).sum(), currency);
        part.total = Money::new(part.subtotal.amount - part.discount.amount, currency);
        part.fee = Money::new(platform_fee(part.total.amount), currency);
        part.payout = Money::new(part.total.amount - part.fee.amount, currency);
    }
    let sum =
        |f: fn(&ShopPart) -> Money| Money::new(shops.iter().map(|s| f(s).amount).sum(), currency);
    PricedCart {
        currency,
        subtotal: sum(|s| s.subtotal),
        discount: sum(|s| s.discount),
        total: sum(|s| s.total),
        fee: sum(|s| s.fee),
        shops,
        problems,
    }
}

/// The platform's fee on a shop's total, rounded half up to the minor unit.
fn platform_fee(total: i64) -> i64 {
    (total * PLATFORM_FEE_PERCENT + 50) / 100
}

/// Spreads a code's discount over the lines it covers, so that the lines' discounts add up to the
/// shop's discount exactly (a fixed amount is split in proportion, the remainder cent by cent).
fn apply_discount(part: &mut ShopPart, code: &DiscountCode) -> Option<String> {
    let covered: Vec<usize> = part
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.problem.is_none()
                && (code.product_ids.is_empty() || code.product_ids.contains(&l.product_id))
        })
        .map(|(i, _)| i)
        .collect();
    let base: i64 = covered.iter().map(|&i| part.lines[i].subtotal.amount).sum();
    if base <= 0 {
        return None;
    }
    match code.discount {
        Discount::Percent { percent } => {
            for &i in &covered {
                let line = &mut part.lines[i];
                line.discount.amount = line.subtotal.amount * i64::from(percent) / 100;
            }
        }
        Discount::Fixed { amount } => {
            if amount.currency != part.lines[covered[0]].subtotal.currency {
                return Some(format!(
                    "{} takes off {}, but the cart is in {}: remove it to check out",
                    code.code, amount.currency, part.lines[covered[0]].subtotal.currency
                ));
            }
            let off = amount.amount.min(base);
            let mut given = 0;
            for &i in &covered {
                // In i128: a large fixed amount times a large line would overflow i64.
                let share = (i128::from(off) * i128::from(part.lines[i].subtotal.amount)
                    / i128::from(base)) as i64;
                part.lines[i].discount.amount = share;
                given += share;
            }
            for &i in covered.iter().cycle().take((off - given) as usize) {
                part.lines[i].discount.amount += 1;
            }
        }
    }
    part.code = Some(AppliedCode {
        id: code.id,
        code: code.code.clone(),
        public_name: code.public_name.clone(),
    });
    None
}

/// Where a checkout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    /// Waiting for the payment; holds its stock until `expires_at`.
    Open,
    Paid,
    /// Replaced by a checkout of the changed cart.
    Cancelled,
    Expired,
    /// The payment failed; the shopper may check out again.
    Failed,
    /// Paid, then the money went back (the orders, if any, are cancelled).
    Refunded,
}

impl CheckoutStatus {
    /// As written in events and shown in the API (`open`, `paid`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckoutStatus::Open => "open",
            CheckoutStatus::Paid => "paid",
            CheckoutStatus::Cancelled => "cancelled",
            CheckoutStatus::Expired => "expired",
            CheckoutStatus::Failed => "failed",
            CheckoutStatus::Refunded => "refunded",
        }
    }
}

/// The one payment session of one version of a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    pub id: CheckoutId,
    pub owner: AccountId,
    pub cart_version: u64,
    pub address: Address,
    pub priced: PricedCart,
    /// `sandbox` or `stripe`.
    pub provider: String,
    /// The provider's payment (a Stripe PaymentIntent id).
    pub payment_ref: String,
    pub status: CheckoutStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The marketplace owes a refund (paid, but nothing could be ordered), and whether it was
    /// made.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refund_owed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refund_sent: bool,
}

impl Checkout {
    /// Whether this session pays `cart` as it is now, to `address`.
    pub fn is_for(&self, cart: &Cart, address: AddressId) -> bool {
        self.cart_version == cart.version && self.address.id == address
    }

    /// Whether it holds its stock (and codes) at `now`.
    pub fn holds_stock(&self, now: DateTime<Utc>) -> bool {
        self.status == CheckoutStatus::Open && now < self.expires_at
    }

    /// The order id of one shop's part: derived, so a replayed payment can only name the same
    /// orders.
    /// The checkout's time-ordered first half is kept (orders sort by when they were placed);
    /// the second half is mixed with the shop's id.
    pub fn order_id(&self, shop: ShopId) -> OrderId {
        let mut bytes = *self.id.0.as_bytes();
        for (b, s) in bytes[8..].iter_mut().zip(&shop.0.as_bytes()[8..]) {
            *b ^= s;
        }
        // Keep it a well-formed UUID (version 8, "custom").
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        OrderId(uuid::Uuid::from_bytes(bytes))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckoutCommand {
    /// Opens the payment session of the shopper's cart as it is now. `amount` is what the
    /// provider was asked to charge; if prices moved since, the command is refused.
    Open {
        id: CheckoutId,
        address: AddressId,
        provider: String,
        payment_ref: String,
        amount: Money,
    },
    /// Releases an unpaid checkout whose time is up (the system's scheduled job).
    Expire { id: CheckoutId },
}

/// What the payment provider reported (through a verified webhook).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentCommand {
    Succeeded {
        checkout: CheckoutId,
        payment_ref: String,
        amount: Money,
    },
    Failed {
        checkout: CheckoutId,
        payment_ref: String,
        reason: String,
    },
    Refunded {
        checkout: CheckoutId,
        payment_ref: String,
    },
}

pub(crate) fn decide(
    state: &State,
    command: &CheckoutCommand,
    ctx: &Context,
) -> Result<Vec<Event>> {
    match command {
        CheckoutCommand::Open {
            id,
            address,
            provider,
            payment_ref,
            amount,
        } => open(state, *id, *address, provider, payment_ref, *amount, ctx),
        CheckoutCommand::Expire { id } => {
            if ctx.actor != Actor::System {
                return Err(DomainError::Forbidden(
                    "only the system expires checkouts".into(),
                ));
            }
            let checkout = existing(state, *id)?;
            if checkout.status != CheckoutStatus::Open || ctx.at < checkout.expires_at {
                return Ok(Vec::new());
            }
            Ok(vec![closed(
                checkout,
                CheckoutStatus::Expired,
                None,
                ctx.at,
            )])
        }
    }
}

fn existing(state: &State, id: CheckoutId) -> Result<&Checkout> {
    state
        .checkouts
        .get(&id)
        .ok_or_else(|| DomainError::not_found("checkout", id))
}

fn closed(
    checkout: &Checkout,
    status: CheckoutStatus,
    reason: Option<String>,
    at: DateTime<Utc>,
) -> Event {
    Event::CheckoutClosed {
        id: checkout.id,
        owner: checkout.owner,
        payment_ref: checkout.payment_ref.clone(),
        status,
        reason,
        at,
    }
}

fn open(
    state: &State,
    id: CheckoutId,
    address: AddressId,
    provider: &str,
    payment_ref: &str,
    amount: Money,
    ctx: &Context,
) -> Result<Vec<Event>> {
    let Actor::Account {
        role: Role::Shopper,
        id: shopper,
    } = ctx.actor
    else {
        return Err(DomainError::Forbidden(
            "sign in as a shopper to check out".into(),
        ));
    };
    if state.checkouts.contains_key(&id) {
        return Err(DomainError::Conflict(format!(
            "checkout {id} exists already"
        )));
    }
    let cart = state
        .carts
        .get(&CartOwner::Account(shopper))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| DomainError::Conflict("the cart is empty".into()))?;
    let mut events = Vec::new();
    if let Some(current) = state.open_checkout_of(shopper, ctx.at)
        && current.is_for(cart, address)
    {
        // Another request opened this cart's session a moment ago: it stands, this one
        // records nothing (the caller answers with the standing session).
        return Ok(Vec::new());
    }
    // Whatever session the shopper had open ends now: replaced (the cart or the address
    // changed), or expired if its time was up and the job has not closed it yet.
    if let Some(previous) = state
        .open_checkouts
        .get(&shopper)
        .and_then(|id| state.checkouts.get(id))
        .filter(|c| c.status == CheckoutStatus::Open)
    {
        let (status, reason) = if previous.holds_stock(ctx.at) {
            (CheckoutStatus::Cancelled, "the cart or the address changed")
        } else {
            (CheckoutStatus::Expired, "its time was up")
        };
        events.push(closed(previous, status, Some(reason.into()), ctx.at));
    }
    let address = state
        .accounts
        .get(&shopper)
        .and_then(|a| a.addresses.iter().find(|a| a.id == address))
        .cloned()
        .ok_or_else(|| DomainError::invalid("address_id", "not one of your addresses"))?;
    let priced = price_cart(state, cart, ctx.at);
    if let Some(problem) = priced.problems.first() {
        return Err(DomainError::Conflict(problem.clone()));
    }
    if priced.total.amount <= 0 {
        return Err(DomainError::Conflict("there is nothing to pay for".into()));
    }
    if priced.total != amount {
        return Err(DomainError::Conflict(format!(
            "the total is now {}; review the cart and pay again",
            priced.total.display()
        )));
    }
    events.push(Event::CheckoutOpened(Box::new(Checkout {
        id,
        owner: shopper,
        cart_version: cart.version,
        address,
        priced,
        provider: provider.to_string(),
        payment_ref: payment_ref.to_string(),
        status: CheckoutStatus::Open,
        created_at: ctx.at,
        expires_at: ctx.at + chrono::Duration::minutes(CHECKOUT_MINUTES),
        refund_owed: false,
        refund_sent: false,
    })));
    Ok(events)
}

pub(crate) fn decide_payment(
    state: &State,
    command: &PaymentCommand,
    ctx: &Context,
) -> Result<Vec<Event>> {
    if ctx.actor != Actor::System {
        return Err(DomainError::Forbidden(
            "only the payment provider reports payments".into(),
        ));
    }
    let (id, reference) = match command {
        PaymentCommand::Succeeded {
            checkout,
            payment_ref,
            ..
        }
        | PaymentCommand::Failed {
            checkout,
            payment_ref,
            ..
        }
        | PaymentCommand::Refunded {
            checkout,
            payment_ref,
        } => (*checkout, payment_ref),
    };
    let checkout = existing(state, id)?;
    if &checkout.payment_ref != reference {
        return Err(DomainError::Conflict(format!(
            "payment {reference} does not belong to checkout {id}"
        )));
    }
    match command {
        PaymentCommand::Succeeded { amount, .. } => succeeded(state, checkout, *amount, ctx),
        PaymentCommand::Failed { reason, .. } => Ok(match checkout.status {
            // A failure reported after a success (or twice) changes nothing.
            CheckoutStatus::Open => vec![closed(
                checkout,
                CheckoutStatus::Failed,
                Some(reason.clone()),
                ctx.at,
            )],
            _ => Vec::new(),
        }),
        // Recorded whatever came first: a success reported after its refund (events arrive in
        // any order) then finds the session refunded and places nothing.
        PaymentCommand::Refunded { .. } => Ok(match checkout.status {
            CheckoutStatus::Refunded => Vec::new(),
            _ => refund(
                state,
                checkout,
                "refunded by the payment provider",
                false,
                ctx.at,
            ),
        }),
    }
}

fn succeeded(
    state: &State,
    checkout: &Checkout,
    amount: Money,
    ctx: &Context,
) -> Result<Vec<Event>> {
    if matches!(
        checkout.status,
        CheckoutStatus::Paid | CheckoutStatus::Refunded
    ) {
        return Ok(Vec::new()); // a replay
    }
    let at = ctx.at;
    let events = vec![Event::PaymentCaptured {
        checkout: checkout.id,
        owner: checkout.owner,
        payment_ref: checkout.payment_ref.clone(),
        amount,
        fee: checkout.priced.fee,
        at,
    }];
    // Money taken that is not what the session asked for is given back, never kept silently.
    if amount != checkout.priced.total {
        let reason = format!(
            "the provider captured {} for a session of {}",
            amount.display(),
            checkout.priced.total.display()
        );
        return Ok(refund_unfulfillable(state, checkout, events, &reason, at));
    }
    // Paid after its session ended (expired, failed, replaced): what was true then is checked
    // again — the products still on sale, the codes still usable, the stock still there — or
    // nothing is ordered and the money goes back.
    if !checkout.holds_stock(at) {
        let gone = checkout
            .priced
            .shops
            .iter()
            .flat_map(|s| &s.lines)
            .filter_map(|l| state.products.get(&l.product_id))
            .find_map(|p| not_on_sale(p, at));
        let code = checkout
            .priced
            .shops
            .iter()
            .filter_map(|s| s.code.as_ref())
            .filter_map(|c| state.discount_codes.get(&c.id))
            .find_map(|c| code_unusable(state, c, at, Some(checkout.owner)));
        if let Some(reason) = gone.or(code) {
            return Ok(refund_unfulfillable(state, checkout, events, &reason, at));
        }
    }
    let mut events = events;
    let mut taken: BTreeMap<ProductId, u32> = BTreeMap::new();
    for line in checkout.priced.shops.iter().flat_map(|s| &s.lines) {
        let Some(product) = state.products.get(&line.product_id) else {
            let reason = "a product was removed before the payment arrived";
            return Ok(refund_unfulfillable(state, checkout, events, reason, at));
        };
        // What other shoppers' live checkouts hold stays theirs; this checkout's own hold (if
        // it still has one) is part of what is left.
        let taken = taken.entry(product.id).or_default();
        if state.available(product, at, Some(checkout.owner)) < *taken + line.quantity {
            let reason = "paid after the session had ended, and the stock was gone";
            return Ok(refund_unfulfillable(state, checkout, events, reason, at));
        }
        *taken += line.quantity;
    }
    let stock: BTreeMap<ProductId, u32> = taken
        .iter()
        .filter_map(|(id, n)| Some((*id, state.products.get(id)?.stock - n)))
        .collect();
    for part in &checkout.priced.shops {
        events.push(Event::OrderPlaced(Box::new(Order {
            id: checkout.order_id(part.shop_id),
            checkout_id: checkout.id,
            shopper: checkout.owner,
            address: checkout.address.clone(),
            part: part.clone(),
            status: DeliveryStatus::Ordered,
            history: vec![StatusChange {
                status: DeliveryStatus::Ordered,
                at,
            }],
            cancelled: None,
            placed_at: at,
            transfer: None,
            transfer_reversed: false,
        })));
    }
    events.extend(stock_changes(state, &stock, at));
    Ok(events)
}

fn refund_unfulfillable(
    state: &State,
    checkout: &Checkout,
    mut events: Vec<Event>,
    reason: &str,
    at: DateTime<Utc>,
) -> Vec<Event> {
    let mut paid = checkout.clone();
    paid.status = CheckoutStatus::Paid;
    events.extend(refund(state, &paid, reason, true, at));
    events
}

/// The money goes back: the checkout's orders are cancelled and their stock returns.
/// `refund_due` says the marketplace must ask the provider for the refund (it was not the
/// provider who reported it).
fn refund(
    state: &State,
    checkout: &Checkout,
    reason: &str,
    refund_due: bool,
    at: DateTime<Utc>,
) -> Vec<Event> {
    let mut events = vec![Event::PaymentRefunded {
        checkout: checkout.id,
        owner: checkout.owner,
        payment_ref: checkout.payment_ref.clone(),
        amount: checkout.priced.total,
        reason: reason.to_string(),
        refund_due,
        at,
    }];
    let mut restock: BTreeMap<ProductId, u32> = BTreeMap::new();
    for part in &checkout.priced.shops {
        let id = checkout.order_id(part.shop_id);
        let Some(order) = state.orders.get(&id).filter(|o| o.cancelled.is_none()) else {
            continue;
        };
        let mut after = order.clone();
        after.cancelled = Some(crate::order::Cancellation {
            reason: reason.to_string(),
            at,
        });
        events.push(Event::OrderCancelled {
            id,
            shop: order.part.shop_id,
            shopper: order.shopper,
            reason: reason.to_string(),
            at,
            after: Some(Box::new(after)),
        });
        for line in &order.part.lines {
            if let Some(product) = state.products.get(&line.product_id) {
                let stock = restock.entry(product.id).or_insert(product.stock);
                *stock = stock.saturating_add(line.quantity);
            }
        }
    }
    events.extend(stock_changes(state, &restock, at));
    events
}

/// `product.updated` events that set each product's stock, with the product after the change.
fn stock_changes(state: &State, stock: &BTreeMap<ProductId, u32>, at: DateTime<Utc>) -> Vec<Event> {
    stock
        .iter()
        .filter_map(|(id, &stock)| {
            let product = state.products.get(id)?;
            let changes = crate::catalog::ProductChanges {
                stock: Some(stock),
                ..Default::default()
            };
            let mut after = product.clone();
            after.apply(&changes, at);
            Some(Event::ProductUpdated {
                id: *id,
                changes,
                at,
                after: Some(Box::new(after)),
            })
        })
        .collect()
}

impl State {
    /// How many of a product can still be put in a cart at `now`: its stock less what other
    /// shoppers' open checkouts hold (`owner`'s own checkout holds nothing against them).
    pub fn available(
        &self,
        product: &Product,
        now: DateTime<Utc>,
        owner: Option<AccountId>,
    ) -> u32 {
        let held: u32 = self
            .reservations
            .get(&product.id)
            .into_iter()
            .flat_map(|holds| holds.iter())
            .filter_map(|(checkout, quantity)| {
                let c = self.checkouts.get(checkout)?;
                (c.holds_stock(now) && Some(c.owner) != owner).then_some(*quantity)
            })
            .sum();
        product.stock.saturating_sub(held)
    }

    /// The shopper's open checkout that still holds its stock at `now`.
    pub fn open_checkout_of(&self, shopper: AccountId, now: DateTime<Utc>) -> Option<&Checkout> {
        self.open_checkouts
            .get(&shopper)
            .and_then(|id| self.checkouts.get(id))
            .filter(|c| c.holds_stock(now))
    }

    pub(crate) fn apply_checkout(&mut self, event: &Event) {
        match event {
            Event::CartUpdated { owner, cart, .. } => match owner {
                // A visitor's emptied cart is gone; a shopper's stays (empty) so its version
                // keeps counting up and an old session can never match a new cart.
                CartOwner::Session(_) if cart.is_empty() && cart.codes.is_empty() => {
                    self.carts.remove(owner);
                }
                _ => {
                    self.carts.insert(*owner, (**cart).clone());
                }
            },
            Event::WishlistAdded {
                account, product, ..
            } => {
                self.wishlists
                    .entry(*account)
                    .or_default()
                    .push_back(*product);
            }
            Event::WishlistRemoved {
                account, product, ..
            } => {
                if let Some(list) = self.wishlists.get_mut(account) {
                    list.retain(|p| p != product);
                }
            }
            Event::CheckoutOpened(checkout) => {
                for line in checkout.priced.shops.iter().flat_map(|s| &s.lines) {
                    *self
                        .reservations
                        .entry(line.product_id)
                        .or_default()
                        .entry(checkout.id)
                        .or_default() += line.quantity;
                }
                for code in checkout.priced.shops.iter().filter_map(|s| s.code.as_ref()) {
                    self.code_holds
                        .entry(code.id)
                        .or_default()
                        .insert(checkout.id);
                }
                self.open_checkouts.insert(checkout.owner, checkout.id);
                self.payment_refs
                    .insert(checkout.payment_ref.clone(), checkout.id);
                self.checkouts.insert(checkout.id, (**checkout).clone());
            }
            Event::CheckoutClosed { id, status, .. } => self.close_checkout(*id, *status),
            Event::PaymentCaptured { checkout, .. } => {
                self.close_checkout(*checkout, CheckoutStatus::Paid);
            }
            Event::PaymentRefunded {
                checkout,
                refund_due,
                ..
            } => {
                self.close_checkout(*checkout, CheckoutStatus::Refunded);
                if *refund_due && let Some(c) = self.checkouts.get_mut(checkout) {
                    c.refund_owed = true;
                }
            }
            _ => {}
        }
    }

    fn close_checkout(&mut self, id: CheckoutId, status: CheckoutStatus) {
        let Some(checkout) = self.checkouts.get_mut(&id) else {
            return;
        };
        checkout.status = status;
        let checkout = checkout.clone();
        for line in checkout.priced.shops.iter().flat_map(|s| &s.lines) {
            if let Some(holds) = self.reservations.get_mut(&line.product_id) {
                holds.remove(&id);
                if holds.is_empty() {
                    self.reservations.remove(&line.product_id);
                }
            }
        }
        for code in checkout.priced.shops.iter().filter_map(|s| s.code.as_ref()) {
            if let Some(holds) = self.code_holds.get_mut(&code.id) {
                holds.remove(&id);
            }
        }
        if self.open_checkouts.get(&checkout.owner) == Some(&id) {
            self.open_checkouts.remove(&checkout.owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountCommand, NewAccount, PasswordHash};
    use crate::cart::CartCommand;
    use crate::catalog::{NewProduct, ProductStatus};
    use crate::command::Command;
    use crate::ids::{AccountId, DiscountCodeId, SessionId};
    use crate::order::OrderCommand;
    use crate::shop::NewShop;
    use crate::site::{Category, SiteConfig};
    use chrono::TimeZone;
    use uuid::Uuid;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    fn run_at(
        state: &mut State,
        command: Command,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<Vec<Event>> {
        let events = crate::decide(state, &command, &Context { actor, at })?;
        for event in &events {
            state.apply(event);
        }
        Ok(events)
    }

    fn run(state: &mut State, command: Command, actor: Actor) -> Result<Vec<Event>> {
        run_at(state, command, actor, t0())
    }

    fn uid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn shopper(n: u128) -> Actor {
        Actor::Account {
            role: Role::Shopper,
            id: AccountId(uid(n)),
        }
    }

    fn seller(n: u128) -> Actor {
        Actor::Account {
            role: Role::Seller,
            id: AccountId(uid(n)),
        }
    }

    fn product(n: u128) -> ProductId {
        ProductId(uid(n))
    }

    fn usd(amount: i64) -> Money {
        Money::new(amount, Currency::USD)
    }

    /// Two shops (sellers 100 and 200) with products 11, 12 (shop 1) and 21 (shop 2), and
    /// shoppers 500 and 501 with an address each.
    fn market() -> State {
        let mut state = State::default();
        let site = SiteConfig {
            name: "Test".into(),
            categories: vec![Category {
                slug: "home".into(),
                name: "Home".into(),
                subcategories: vec![],
            }],
            ..Default::default()
        };
        run(&mut state, Command::ConfigureSite(site), Actor::System).unwrap();
        for (shop, owner) in [(1, 100), (2, 200)] {
            let new = NewShop {
                id: ShopId(uid(shop)),
                owner: Some(AccountId(uid(owner))),
                name: format!("Shop {shop}"),
                bio: String::new(),
                category: "home".into(),
                country: "DE".into(),
            };
            run(&mut state, Command::CreateShop(new), Actor::System).unwrap();
        }
        for (n, shop, price, stock) in [(11, 1, 1000, 5), (12, 1, 250, 5), (21, 2, 3333, 1)] {
            let new = NewProduct {
                id: product(n),
                shop_id: ShopId(uid(shop)),
                title: format!("Product {n}"),
                description: "Good".into(),
                category: "home".into(),
                subcategory: None,
                price: usd(price),
                sale_price: None,
                stock,
                status: ProductStatus::Active,
                images: vec![],
                details: Default::default(),
            };
            run(&mut state, Command::CreateProduct(new), Actor::System).unwrap();
        }
        for n in [500, 501] {
            let account = NewAccount {
                id: AccountId(uid(n)),
                email: format!("s{n}@example.com"),
                name: format!("Shopper {n}"),
                role: Role::Shopper,
                phone: None,
                country: Some("DE".into()),
            };
            let register = AccountCommand::Register {
                account,
                password_hash: PasswordHash("h".into()),
            };
            run(&mut state, Command::Account(register), Actor::System).unwrap();
            let address = Address {
                id: AddressId(uid(n + 1000)),
                label: "Home".into(),
                name: "S".into(),
                street: "Main 1".into(),
                city: "Berlin".into(),
                zip: "10115".into(),
                country: "DE".into(),
                is_default: true,
            };
            let add = AccountCommand::AddAddress {
                account: AccountId(uid(n)),
                address,
            };
            run(&mut state, Command::Account(add), shopper(n)).unwrap();
        }
        state
    }

    fn set(state: &mut State, who: Actor, p: u128, quantity: u32) -> Result<Vec<Event>> {
        let command = CartCommand::SetItem {
            product: product(p),
            quantity,
            options: Default::default(),
            client: Default::default(),
        };
        run(state, Command::Cart(command), who)
    }

    fn code(
        state: &mut State,
        id: u128,
        shop: u128,
        name: &str,
        discount: Discount,
        max_uses: Option<u32>,
    ) {
        let code = DiscountCode {
            id: DiscountCodeId(uid(id)),
            shop_id: ShopId(uid(shop)),
            code: name.into(),
            public_name: name.into(),
            discount,
            starts_at: None,
            ends_at: None,
            max_uses,
            product_ids: vec![],
            created_at: t0(),
        };
        run(state, Command::CreateDiscountCode(code), Actor::System).unwrap();
    }

    fn open(state: &mut State, who: u128, checkout: u128, at: DateTime<Utc>) -> Result<Vec<Event>> {
        let cart = &state.carts[&CartOwner::Account(AccountId(uid(who)))];
        let amount = price_cart(state, cart, at).total;
        let command = CheckoutCommand::Open {
            id: CheckoutId(uid(checkout)),
            address: AddressId(uid(who + 1000)),
            provider: "sandbox".into(),
            payment_ref: format!("pi_{checkout}"),
            amount,
        };
        run_at(state, Command::Checkout(command), shopper(who), at)
    }

    fn paid(state: &mut State, checkout: u128, at: DateTime<Utc>) -> Result<Vec<Event>> {
        let amount = state.checkouts[&CheckoutId(uid(checkout))].priced.total;
        let command = PaymentCommand::Succeeded {
            checkout: CheckoutId(uid(checkout)),
            payment_ref: format!("pi_{checkout}"),
            amount,
        };
        run_at(state, Command::Payment(command), Actor::System, at)
    }

    #[test]
    fn a_cart_of_two_shops_is_priced_per_shop_with_its_own_code_and_fee() {
        let mut state = market();
        set(&mut state, shopper(500), 11, 2).unwrap();
        set(&mut state, shopper(500), 12, 1).unwrap();
        set(&mut state, shopper(500), 21, 1).unwrap();
        code(
            &mut state,
            900,
            1,
            "TENOFF",
            Discount::Percent { percent: 10 },
            None,
        );
        code(
            &mut state,
            901,
            2,
            "FIVE",
            Discount::Fixed { amount: usd(500) },
            None,
        );
        for name in ["tenoff", "FIVE"] {
            let apply = CartCommand::ApplyCode { code: name.into() };
            run(&mut state, Command::Cart(apply), shopper(500)).unwrap();
        }
        let cart = &state.carts[&CartOwner::Account(AccountId(uid(500)))];
        let priced = price_cart(&state, cart, t0());
        assert!(priced.problems.is_empty(), "{:?}", priced.problems);
        let [one, two] = &priced.shops[..] else {
            panic!("two shops")
        };
        // Shop 1: 2 × 10.00 + 2.50 = 22.50, 10% off = 2.25, fee 10% of 20.25 = 2.03 (rounded).
        assert_eq!(
            (one.subtotal, one.discount, one.total),
            (usd(2250), usd(225), usd(2025))
        );
        assert_eq!((one.fee, one.payout), (usd(203), usd(1822)));
        assert_eq!(
            one.lines.iter().map(|l| l.discount.amount).sum::<i64>(),
            225
        );
        // Shop 2: 33.33 − 5.00 = 28.33, fee 2.83.
        assert_eq!(
            (two.total, two.fee, two.payout),
            (usd(2833), usd(283), usd(2550))
        );
        assert_eq!(priced.total, usd(2025 + 2833));
        assert_eq!(priced.fee, usd(203 + 283));
    }

    #[test]
    fn paying_places_one_order_per_shop_once_and_takes_the_stock() {
        let mut state = market();
        set(&mut state, shopper(500), 11, 2).unwrap();
        set(&mut state, shopper(500), 21, 1).unwrap();
        code(
            &mut state,
            900,
            1,
            "ONCE",
            Discount::Percent { percent: 50 },
            Some(1),
        );
        run(
            &mut state,
            Command::Cart(CartCommand::ApplyCode {
                code: "ONCE".into(),
            }),
            shopper(500),
        )
        .unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        // What the open checkout holds is not for anyone else: the only unit of 21, the code.
        assert!(matches!(
            set(&mut state, shopper(501), 21, 1),
            Err(DomainError::Conflict(_))
        ));
        let apply = CartCommand::ApplyCode {
            code: "ONCE".into(),
        };
        set(&mut state, shopper(501), 11, 1).unwrap();
        assert!(run(&mut state, Command::Cart(apply), shopper(501)).is_err());

        let events = paid(&mut state, 7, t0()).unwrap();
        let orders: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::OrderPlaced(_)))
            .collect();
        assert_eq!(orders.len(), 2);
        assert_eq!(state.orders.len(), 2);
        assert_eq!(state.products[&product(11)].stock, 3);
        assert_eq!(state.products[&product(21)].stock, 0);
        assert_eq!(state.code_uses[&DiscountCodeId(uid(900))], 1);
        assert!(
            state.carts[&CartOwner::Account(AccountId(uid(500)))].is_empty(),
            "the paid cart is emptied"
        );
        let order = state.orders_of_shop(ShopId(uid(1))).next().unwrap();
        assert_eq!(
            (order.part.total, order.part.discount),
            (usd(1000), usd(1000))
        );
        // Replays change nothing.
        for _ in 0..3 {
            assert_eq!(paid(&mut state, 7, t0()).unwrap(), vec![]);
        }
        assert_eq!(state.orders.len(), 2);
        // A report about a payment that is not this checkout's is refused.
        let forged = PaymentCommand::Succeeded {
            checkout: CheckoutId(uid(7)),
            payment_ref: "pi_other".into(),
            amount: usd(1),
        };
        assert!(run(&mut state, Command::Payment(forged), Actor::System).is_err());
    }

    #[test]
    fn a_checkout_is_one_per_cart_version_and_releases_its_hold_when_it_expires() {
        let mut state = market();
        set(&mut state, shopper(500), 21, 1).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        // The same cart again: nothing new (the caller answers with checkout 7).
        assert_eq!(open(&mut state, 500, 8, t0()).unwrap(), vec![]);
        assert!(set(&mut state, shopper(501), 21, 1).is_err());
        // Later than its lifetime, the hold is gone even before the job closes it.
        let later = t0() + chrono::Duration::minutes(CHECKOUT_MINUTES + 1);
        let p = state.products[&product(21)].clone();
        assert_eq!(state.available(&p, later, None), 1);
        let expire = CheckoutCommand::Expire {
            id: CheckoutId(uid(7)),
        };
        let events = run_at(
            &mut state,
            Command::Checkout(expire.clone()),
            Actor::System,
            later,
        )
        .unwrap();
        assert!(matches!(
            events[..],
            [Event::CheckoutClosed {
                status: CheckoutStatus::Expired,
                ..
            }]
        ));
        assert!(state.reservations.is_empty());
        // Someone else buys the last unit; the late payment of checkout 7 is refunded, not ordered.
        set(&mut state, shopper(501), 21, 1).unwrap();
        open(&mut state, 501, 9, later).unwrap();
        paid(&mut state, 9, later).unwrap();
        let events = paid(&mut state, 7, later).unwrap();
        assert!(events.iter().any(|e| matches!(
            e,
            Event::PaymentRefunded {
                refund_due: true,
                ..
            }
        )));
        assert!(!events.iter().any(|e| matches!(e, Event::OrderPlaced(_))));
        assert_eq!(state.orders.len(), 1);
        assert_eq!(state.products[&product(21)].stock, 0);
    }

    #[test]
    fn a_changed_cart_replaces_its_checkout_and_a_refund_restocks() {
        let mut state = market();
        set(&mut state, shopper(500), 11, 1).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        set(&mut state, shopper(500), 11, 2).unwrap();
        let events = open(&mut state, 500, 8, t0()).unwrap();
        assert!(matches!(
            events[0],
            Event::CheckoutClosed {
                status: CheckoutStatus::Cancelled,
                ..
            }
        ));
        assert_eq!(state.reservations[&product(11)].len(), 1);
        paid(&mut state, 8, t0()).unwrap();
        assert_eq!(state.products[&product(11)].stock, 3);
        let refund = PaymentCommand::Refunded {
            checkout: CheckoutId(uid(8)),
            payment_ref: "pi_8".into(),
        };
        let events = run(&mut state, Command::Payment(refund.clone()), Actor::System).unwrap();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::OrderCancelled { .. }))
        );
        assert_eq!(state.products[&product(11)].stock, 5);
        assert_eq!(
            run(&mut state, Command::Payment(refund), Actor::System).unwrap(),
            vec![]
        );
    }

    #[test]
    fn only_the_shops_seller_moves_an_order_and_only_forward() {
        let mut state = market();
        set(&mut state, shopper(500), 11, 1).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        paid(&mut state, 7, t0()).unwrap();
        let id = *state.orders.keys().next().unwrap();
        let to = |status| Command::Order(OrderCommand::SetDeliveryStatus { id, status });
        assert!(matches!(
            run(&mut state, to(DeliveryStatus::Shipped), seller(200)),
            Err(DomainError::NotFound { .. })
        ));
        assert!(run(&mut state, to(DeliveryStatus::Shipped), shopper(500)).is_err());
        run(&mut state, to(DeliveryStatus::Shipped), seller(100)).unwrap();
        assert!(matches!(
            run(&mut state, to(DeliveryStatus::Packed), seller(100)),
            Err(DomainError::Conflict(_))
        ));
        run(&mut state, to(DeliveryStatus::Delivered), seller(100)).unwrap();
        let order = &state.orders[&id];
        assert_eq!(order.history.len(), 3);
        assert_eq!(order.status, DeliveryStatus::Delivered);
    }

    #[test]
    fn only_shoppers_who_received_a_product_review_it_once() {
        use crate::review::ReviewCommand;
        let mut state = market();
        set(&mut state, shopper(500), 11, 2).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        paid(&mut state, 7, t0()).unwrap();
        assert_eq!(state.units_sold[&product(11)], 2);
        assert_eq!(state.shop_sales[&ShopId(uid(1))], 1);
        let review = |id: u128, rating: u8| {
            Command::Review(ReviewCommand::Post {
                id: crate::ids::ReviewId(uid(id)),
                product: product(11),
                rating,
                text: "  Lovely glaze.  ".into(),
            })
        };
        // Not delivered yet; never bought; not a shopper.
        assert!(matches!(
            run(&mut state, review(1, 5), shopper(500)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            run(&mut state, review(1, 5), shopper(501)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            run(&mut state, review(1, 5), seller(100)),
            Err(DomainError::Forbidden(_))
        ));
        let id = *state.orders.keys().next().unwrap();
        let delivered = OrderCommand::SetDeliveryStatus {
            id,
            status: DeliveryStatus::Delivered,
        };
        run(&mut state, Command::Order(delivered), seller(100)).unwrap();
        assert!(matches!(
            run(&mut state, review(1, 6), shopper(500)),
            Err(DomainError::Invalid { .. })
        ));
        run(&mut state, review(1, 4), shopper(500)).unwrap();
        assert!(matches!(
            run(&mut state, review(2, 5), shopper(500)),
            Err(DomainError::Conflict(_))
        ));
        let rating = state.ratings[&product(11)];
        assert_eq!((rating.count, rating.average()), (1, 4.0));
        assert_eq!(state.shop_ratings[&ShopId(uid(1))].count, 1);
        assert_eq!(
            state.reviews_of(product(11)).next().unwrap().text,
            "Lovely glaze."
        );
    }

    #[test]
    fn an_emptied_and_refilled_cart_or_a_new_address_never_reuses_an_old_session() {
        let mut state = market();
        set(&mut state, shopper(500), 11, 1).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        // Emptied, then refilled with something else: a new version, so a new session.
        set(&mut state, shopper(500), 11, 0).unwrap();
        set(&mut state, shopper(500), 12, 1).unwrap();
        let events = open(&mut state, 500, 8, t0()).unwrap();
        assert!(matches!(
            events[0],
            Event::CheckoutClosed {
                status: CheckoutStatus::Cancelled,
                ..
            }
        ));
        assert_eq!(
            state.checkouts[&CheckoutId(uid(8))].priced.shops[0].lines[0].product_id,
            product(12)
        );
        // The same cart to another address: a new session too.
        let other = Address {
            id: AddressId(uid(9999)),
            label: "Work".into(),
            name: "S".into(),
            street: "Office 2".into(),
            city: "Berlin".into(),
            zip: "10117".into(),
            country: "DE".into(),
            is_default: false,
        };
        let add = AccountCommand::AddAddress {
            account: AccountId(uid(500)),
            address: other,
        };
        run(&mut state, Command::Account(add), shopper(500)).unwrap();
        let amount = state.checkouts[&CheckoutId(uid(8))].priced.total;
        let to_work = CheckoutCommand::Open {
            id: CheckoutId(uid(9)),
            address: AddressId(uid(9999)),
            provider: "sandbox".into(),
            payment_ref: "pi_9".into(),
            amount,
        };
        run(&mut state, Command::Checkout(to_work), shopper(500)).unwrap();
        assert_eq!(
            state.checkouts[&CheckoutId(uid(8))].status,
            CheckoutStatus::Cancelled
        );
        assert_eq!(state.checkouts[&CheckoutId(uid(9))].address.city, "Berlin");
        assert_eq!(
            state.checkouts[&CheckoutId(uid(9))].address.street,
            "Office 2"
        );
    }

    #[test]
    fn refunds_before_success_and_late_payments_for_ended_offers_place_nothing() {
        let mut state = market();
        set(&mut state, shopper(500), 11, 1).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        let refunded = PaymentCommand::Refunded {
            checkout: CheckoutId(uid(7)),
            payment_ref: "pi_7".into(),
        };
        run(&mut state, Command::Payment(refunded), Actor::System).unwrap();
        assert_eq!(
            paid(&mut state, 7, t0()).unwrap(),
            vec![],
            "the success came after its refund"
        );
        assert!(state.orders.is_empty());
        assert!(state.reservations.is_empty());

        // A payment arriving after its session expired, for a product no longer on sale.
        set(&mut state, shopper(501), 12, 1).unwrap();
        open(&mut state, 501, 8, t0()).unwrap();
        let hide = Command::ModerateProduct {
            id: product(12),
            reason: Some("recall".into()),
        };
        run(&mut state, hide, Actor::System).unwrap();
        let later = t0() + chrono::Duration::minutes(CHECKOUT_MINUTES + 5);
        let events = paid(&mut state, 8, later).unwrap();
        assert!(events.iter().any(|e| matches!(
            e,
            Event::PaymentRefunded {
                refund_due: true,
                ..
            }
        )));
        assert!(state.orders.is_empty());
        // A capture of another amount than asked is refunded, not kept.
        set(&mut state, shopper(500), 11, 1).unwrap();
        open(&mut state, 500, 10, t0()).unwrap();
        let odd = PaymentCommand::Succeeded {
            checkout: CheckoutId(uid(10)),
            payment_ref: "pi_10".into(),
            amount: usd(1),
        };
        let events = run(&mut state, Command::Payment(odd), Actor::System).unwrap();
        assert!(events.iter().any(|e| matches!(
            e,
            Event::PaymentRefunded {
                refund_due: true,
                ..
            }
        )));
        assert!(state.orders.is_empty());
    }

    #[test]
    fn transfers_reversals_and_owed_refunds_are_due_until_recorded_once() {
        use crate::settlement::{Settlement, unsettled};
        let mut state = market();
        set(&mut state, shopper(500), 11, 1).unwrap();
        open(&mut state, 500, 7, t0()).unwrap();
        paid(&mut state, 7, t0()).unwrap();
        let order = *state.orders.keys().next().unwrap();
        let later = t0() + chrono::Duration::minutes(5);
        assert_eq!(
            unsettled(&state, t0()),
            vec![],
            "nothing is due before its time"
        );
        assert!(matches!(
            &unsettled(&state, later)[..],
            [Settlement::Transfer { .. }]
        ));
        let done = Settlement::Transfer {
            order,
            reference: "tr_1".into(),
        };
        assert_eq!(
            run(&mut state, Command::Settle(done.clone()), Actor::System)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            run(&mut state, Command::Settle(done.clone()), Actor::System).unwrap(),
            vec![]
        );
        assert!(run(&mut state, Command::Settle(done), shopper(500)).is_err());
        assert!(unsettled(&state, later).is_empty());
        // A refund cancels the order: its transfer is due back.
        let refund = PaymentCommand::Refunded {
            checkout: CheckoutId(uid(7)),
            payment_ref: "pi_7".into(),
        };
        run(&mut state, Command::Payment(refund), Actor::System).unwrap();
        assert_eq!(
            unsettled(&state, later),
            vec![Settlement::Reversal { order }]
        );
        run(
            &mut state,
            Command::Settle(Settlement::Reversal { order }),
            Actor::System,
        )
        .unwrap();
        assert!(unsettled(&state, later).is_empty());
        // A payment the marketplace cannot keep owes a refund until it is made.
        set(&mut state, shopper(501), 12, 1).unwrap();
        open(&mut state, 501, 8, t0()).unwrap();
        let odd = PaymentCommand::Succeeded {
            checkout: CheckoutId(uid(8)),
            payment_ref: "pi_8".into(),
            amount: usd(1),
        };
        run(&mut state, Command::Payment(odd), Actor::System).unwrap();
        assert_eq!(
            unsettled(&state, later),
            vec![Settlement::Refund {
                checkout: CheckoutId(uid(8))
            }]
        );
        run(
            &mut state,
            Command::Settle(Settlement::Refund {
                checkout: CheckoutId(uid(8)),
            }),
            Actor::System,
        )
        .unwrap();
        assert!(unsettled(&state, later).is_empty());
    }

    #[test]
    fn a_visitors_cart_joins_the_shoppers_at_sign_in() {
        let mut state = market();
        let visitor = Actor::Anonymous {
            session: SessionId(uid(77)),
        };
        set(&mut state, visitor, 11, 2).unwrap();
        set(&mut state, visitor, 12, 1).unwrap();
        set(&mut state, shopper(500), 11, 4).unwrap();
        let merge = CartCommand::Merge {
            session: SessionId(uid(77)),
        };
        run(&mut state, Command::Cart(merge), shopper(500)).unwrap();
        let cart = &state.carts[&CartOwner::Account(AccountId(uid(500)))];
        assert_eq!(cart.quantity_of(product(11)), 5, "capped at the stock");
        assert_eq!(cart.quantity_of(product(12)), 1);
        assert!(
            !state
                .carts
                .contains_key(&CartOwner::Session(SessionId(uid(77))))
        );
        // Sellers buy nothing with their working accounts.
        assert!(matches!(
            set(&mut state, seller(100), 11, 1),
            Err(DomainError::Forbidden(_))
        ));
    }
}
