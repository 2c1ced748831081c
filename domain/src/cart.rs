//! Carts and wishlists, kept on the server: a visitor's cart lives under their browser session
//! until they sign in, then joins their account's cart.

use crate::Result;
use crate::activity::{ActivityDetails, ClientContext};
use crate::actor::{Actor, Role};
use crate::command::Context;
use crate::discount::normalize_code;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, DiscountCodeId, ProductId, SessionId};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most lines one cart holds, and the most of one product in it.
pub const MAX_CART_LINES: usize = 100;
pub const MAX_QUANTITY: u32 = 999;
const MAX_WISHLIST: usize = 500;

/// Whose cart: a signed-in shopper's, or an anonymous browser session's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartOwner {
    Account(AccountId),
    Session(SessionId),
}

impl CartOwner {
    /// The cart an actor works on: shoppers and anonymous visitors have one; sellers, admins and
    /// analysts buy nothing with their working accounts.
    pub fn of(actor: &Actor) -> Result<CartOwner> {
        match *actor {
            Actor::Account {
                role: Role::Shopper,
                id,
            } => Ok(CartOwner::Account(id)),
            Actor::Anonymous { session } => Ok(CartOwner::Session(session)),
            _ => Err(DomainError::Forbidden(
                "only shoppers and visitors have a cart".into(),
            )),
        }
    }

    pub fn account(&self) -> Option<AccountId> {
        match self {
            CartOwner::Account(id) => Some(*id),
            CartOwner::Session(_) => None,
        }
    }
}

/// One product in a cart, with the options the shopper chose (`color`, `size`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// A cart: its lines in the order they were added, at most one discount code per shop, and a
/// version that changes with every edit (a checkout belongs to one version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub owner: CartOwner,
    pub lines: Vec<CartLine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<DiscountCodeId>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
}

impl Cart {
    /// A cart with nothing in it yet.
    pub fn empty(owner: CartOwner, at: DateTime<Utc>) -> Cart {
        Cart {
            owner,
            lines: Vec::new(),
            codes: Vec::new(),
            version: 0,
            updated_at: at,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn quantity_of(&self, product: ProductId) -> u32 {
        self.lines
            .iter()
            .find(|l| l.product_id == product)
            .map_or(0, |l| l.quantity)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CartCommand {
    /// Sets a product's quantity (0 removes it) and options.
    SetItem {
        product: ProductId,
        quantity: u32,
        options: BTreeMap<String, String>,
        /// Where the shopper is (device, country): recorded with the `add_to_cart` activity when
        /// the quantity goes up.
        client: ClientContext,
    },
    ApplyCode {
        code: String,
    },
    RemoveCode {
        code: String,
    },
    /// At sign-in: the visitor's anonymous cart joins the shopper's own.
    Merge {
        session: SessionId,
    },
    /// Forgets a visitor's cart nobody touched for [`VISITOR_CART_DAYS`] (the system's purge).
    Forget {
        session: SessionId,
    },
}

/// How long a visitor's cart is kept after its last change.
pub const VISITOR_CART_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WishlistCommand {
    /// `client` goes with the `add_to_wishlist` activity.
    Add {
        product: ProductId,
        client: ClientContext,
    },
    Remove {
        product: ProductId,
    },
}

pub(crate) fn decide(state: &State, command: &CartCommand, ctx: &Context) -> Result<Vec<Event>> {
    if let CartCommand::Forget { session } = command {
        if ctx.actor != Actor::System {
            return Err(DomainError::Forbidden(
                "only the purge forgets carts".into(),
            ));
        }
        let owner = CartOwner::Session(*session);
        let idle = state
            .carts
            .get(&owner)
            .is_some_and(|c| ctx.at - c.updated_at > chrono::Duration::days(VISITOR_CART_DAYS));
        return Ok(if idle {
            vec![updated(Cart::empty(owner, ctx.at), ctx.at)]
        } else {
            Vec::new()
        });
    }
    let owner = CartOwner::of(&ctx.actor)?;
    let current = state
        .carts
        .get(&owner)
        .cloned()
        .unwrap_or_else(|| Cart::empty(owner, ctx.at));
    let mut cart = current.clone();
    let mut activity = None;
    match command {
        CartCommand::SetItem {
            product,
            quantity,
            options,
            client,
        } => {
            set_item(state, &mut cart, *product, *quantity, options, ctx)?;
            if *quantity > current.quantity_of(*product) {
                activity = Some(Event::AddToCart(ActivityDetails {
                    product_id: Some(*product),
                    shop_id: state.products.get(product).map(|p| p.shop_id),
                    query: None,
                    recommendation: None,
                    client: client.clone(),
                }));
            }
        }
        CartCommand::ApplyCode { code } => apply_code(state, &mut cart, code, ctx)?,
        CartCommand::RemoveCode { code } => {
            let name = normalize_code(code)?;
            let id = state.discount_code_names.get(&name).copied();
            if !id.is_some_and(|id| cart.codes.contains(&id)) {
                return Err(DomainError::not_found("discount code in the cart", name));
            }
            cart.codes.retain(|c| Some(*c) != id);
        }
        CartCommand::Merge { session } => return merge(state, cart, *session, ctx),
        // Answered above, before the owner was needed.
        CartCommand::Forget { .. } => return Ok(Vec::new()),
    }
    if cart == current {
        return Ok(Vec::new());
    }
    Ok(std::iter::once(updated(cart, ctx.at))
        .chain(activity)
        .collect())
}

fn updated(mut cart: Cart, at: DateTime<Utc>) -> Event {
    cart.version += 1;
    cart.updated_at = at;
    Event::CartUpdated {
        owner: cart.owner,
        cart: Box::new(cart),
        at,
    }
}

fn set_item(
    state: &State,
    cart: &mut Cart,
    product_id: ProductId,
    quantity: u32,
    options: &BTreeMap<String, String>,
    ctx: &Context,
) -> Result<()> {
    if quantity == 0 {
        cart.lines.retain(|l| l.product_id != product_id);
        drop_unused_codes(state, cart);
        return Ok(());
    }
    if quantity > MAX_QUANTITY {
        return Err(DomainError::invalid(
            "quantity",
            format!("at most {MAX_QUANTITY}"),
        ));
    }
    let product = state
        .products
        .get(&product_id)
        .filter(|p| p.is_visible())
        .ok_or_else(|| DomainError::not_found("product", product_id))?;
    if let Some(reason) = crate::checkout::not_on_sale(product, ctx.at) {
        return Err(DomainError::Conflict(reason));
    }
    let available = state.available(product, ctx.at, cart.owner.account());
    if quantity > available {
        return Err(DomainError::Conflict(match available {
            0 => format!("'{}' is out of stock", product.title),
            n => format!("only {n} of '{}' left", product.title),
        }));
    }
    for (name, value) in options {
        let allowed = match name.as_str() {
            "color" => &product.details.colors,
            "size" => &product.details.sizes,
            _ => {
                return Err(DomainError::invalid(
                    "options",
                    format!("'{name}' is not an option (color or size)"),
                ));
            }
        };
        if !allowed.iter().any(|a| a == value) {
            return Err(DomainError::invalid(
                "options",
                format!("'{}' has no {name} '{value}'", product.title),
            ));
        }
    }
    let full = cart.lines.len() >= MAX_CART_LINES;
    match cart.lines.iter_mut().find(|l| l.product_id == product_id) {
        Some(line) => {
            line.quantity = quantity;
            line.options = options.clone();
        }
        None if full => {
            return Err(DomainError::Conflict(format!(
                "a cart holds at most {MAX_CART_LINES} products"
            )));
        }
        None => cart.lines.push(CartLine {
            product_id,
            quantity,
            options: options.clone(),
        }),
    }
    Ok(())
}

/// A code whose shop has nothing left in the cart goes with its last line.
fn drop_unused_codes(state: &State, cart: &mut Cart) {
    let shops: Vec<_> = cart
        .lines
        .iter()
        .filter_map(|l| state.products.get(&l.product_id).map(|p| p.shop_id))
        .collect();
    cart.codes.retain(|c| {
        state
            .discount_codes
            .get(c)
            .is_some_and(|code| shops.contains(&code.shop_id))
    });
}

fn apply_code(state: &State, cart: &mut Cart, raw: &str, ctx: &Context) -> Result<()> {
    let name = normalize_code(raw)?;
    let code = state
        .discount_code_names
        .get(&name)
        .and_then(|id| state.discount_codes.get(id))
        .ok_or_else(|| DomainError::invalid("code", format!("there is no code {name}")))?;
    if cart.codes.contains(&code.id) {
        return Ok(());
    }
    if let Some(reason) = crate::checkout::code_unusable(state, code, ctx.at, cart.owner.account())
    {
        return Err(DomainError::invalid("code", reason));
    }
    let shop_name = state
        .shops
        .get(&code.shop_id)
        .map_or("its shop", |s| s.name.as_str());
    let eligible = cart.lines.iter().any(|l| {
        state.products.get(&l.product_id).is_some_and(|p| {
            p.shop_id == code.shop_id
                && (code.product_ids.is_empty() || code.product_ids.contains(&p.id))
        })
    });
    if !eligible {
        return Err(DomainError::invalid(
            "code",
            format!("{name} is for products of {shop_name}; none of them is in the cart"),
        ));
    }
    if let crate::discount::Discount::Fixed { amount } = code.discount {
        let other = cart
            .lines
            .iter()
            .filter_map(|l| state.products.get(&l.product_id))
            .filter(|p| p.shop_id == code.shop_id)
            .map(|p| p.current_price().currency)
            .find(|c| *c != amount.currency);
        if let Some(other) = other {
            return Err(DomainError::invalid(
                "code",
                format!(
                    "{name} takes off {}, but these products are priced in {other}",
                    amount.currency
                ),
            ));
        }
    }
    // One code per shop: a new one replaces the shop's previous code.
    cart.codes.retain(|c| {
        state
            .discount_codes
            .get(c)
            .is_some_and(|other| other.shop_id != code.shop_id)
    });
    cart.codes.push(code.id);
    Ok(())
}

fn merge(state: &State, mut cart: Cart, session: SessionId, ctx: &Context) -> Result<Vec<Event>> {
    let CartOwner::Account(account) = cart.owner else {
        return Err(DomainError::Forbidden(
            "only a signed-in shopper merges a cart".into(),
        ));
    };
    let Some(visitor) = state.carts.get(&CartOwner::Session(session)) else {
        return Ok(Vec::new());
    };
    for line in &visitor.lines {
        let Some(product) = state.products.get(&line.product_id) else {
            continue;
        };
        let room = state.available(product, ctx.at, Some(account));
        let room_for_more = cart.lines.len() < MAX_CART_LINES;
        match cart
            .lines
            .iter_mut()
            .find(|l| l.product_id == line.product_id)
        {
            // Together, but never more than is left (and never less than the shopper had).
            Some(mine) => {
                mine.quantity = (mine.quantity + line.quantity)
                    .min(room.max(mine.quantity))
                    .min(MAX_QUANTITY)
            }
            None if room_for_more => cart.lines.push(line.clone()),
            None => {}
        }
    }
    for code in &visitor.codes {
        let shop = state.discount_codes.get(code).map(|c| c.shop_id);
        let has_one = cart
            .codes
            .iter()
            .any(|c| state.discount_codes.get(c).map(|c| c.shop_id) == shop);
        if !has_one {
            cart.codes.push(*code);
        }
    }
    let emptied = Cart::empty(CartOwner::Session(session), ctx.at);
    Ok(vec![updated(cart, ctx.at), updated(emptied, ctx.at)])
}

pub(crate) fn decide_wishlist(
    state: &State,
    command: &WishlistCommand,
    ctx: &Context,
) -> Result<Vec<Event>> {
    let Actor::Account {
        role: Role::Shopper,
        id: account,
    } = ctx.actor
    else {
        return Err(DomainError::Forbidden(
            "only signed-in shoppers keep a wishlist".into(),
        ));
    };
    let list = state.wishlists.get(&account);
    let has = |p: &ProductId| list.is_some_and(|l| l.contains(p));
    match command {
        WishlistCommand::Add { product, client } => {
            if !state.products.get(product).is_some_and(|p| p.is_visible()) {
                return Err(DomainError::not_found("product", product));
            }
            if has(product) {
                return Ok(Vec::new());
            }
            if list.is_some_and(|l| l.len() >= MAX_WISHLIST) {
                return Err(DomainError::Conflict(format!(
                    "a wishlist holds at most {MAX_WISHLIST} products"
                )));
            }
            let shop_id = state.products.get(product).map(|p| p.shop_id);
            Ok(vec![
                Event::WishlistAdded {
                    account,
                    product: *product,
                    at: ctx.at,
                },
                Event::AddToWishlist(ActivityDetails {
                    product_id: Some(*product),
                    shop_id,
                    query: None,
                    recommendation: None,
                    client: client.clone(),
                }),
            ])
        }
        WishlistCommand::Remove { product } => Ok(if has(product) {
            vec![Event::WishlistRemoved {
                account,
                product: *product,
                at: ctx.at,
            }]
        } else {
            Vec::new()
        }),
    }
}
