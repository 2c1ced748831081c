//! Discount codes: a seller's codes for their own shop's products.

use crate::Result;
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{DiscountCodeId, ProductId, ShopId};
use crate::money::Money;
use crate::state::State;
use crate::validate::non_empty;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a code takes off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// Whole percent, 1 to 100.
    Percent { percent: u32 },
    /// A fixed amount off the order's lines of this shop.
    Fixed { amount: Money },
}

/// A discount code, unique across the marketplace (case-insensitive; stored upper-case).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountCode {
    pub id: DiscountCodeId,
    pub shop_id: ShopId,
    pub code: String,
    /// What shoppers see ("Winter sale").
    pub public_name: String,
    pub discount: Discount,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub max_uses: Option<u32>,
    /// Only these products (all of the shop's when empty).
    pub product_ids: Vec<ProductId>,
    pub created_at: DateTime<Utc>,
}

impl DiscountCode {
    /// Whether the code can be used at `now` (its window; uses are counted at checkout).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.starts_at.is_none_or(|s| s <= now) && self.ends_at.is_none_or(|e| now < e)
    }
}

/// Upper-cases and trims a code and checks its shape: 3 to 32 letters, digits, `-` or `_`.
pub fn normalize_code(raw: &str) -> Result<String> {
    let code = raw.trim().to_ascii_uppercase();
    let shape = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if shape {
        Ok(code)
    } else {
        Err(DomainError::invalid(
            "code",
            "3 to 32 letters, digits, dashes or underscores",
        ))
    }
}

pub(crate) fn create(state: &State, new: &DiscountCode, ctx: &Context) -> Result<Vec<Event>> {
    let shop = state
        .shops
        .get(&new.shop_id)
        .ok_or_else(|| DomainError::not_found("shop", new.shop_id))?;
    crate::decide::may_manage(shop, ctx)?;
    if state.discount_codes.contains_key(&new.id) {
        return Err(DomainError::Conflict(format!(
            "discount code {} already exists",
            new.id
        )));
    }
    let code = normalize_code(&new.code)?;
    if state.discount_code_names.contains_key(&code) {
        return Err(DomainError::Conflict(format!(
            "the code {code} is taken; choose another"
        )));
    }
    non_empty("public_name", &new.public_name, 100)?;
    match new.discount {
        Discount::Percent { percent } if !(1..=100).contains(&percent) => {
            return Err(DomainError::invalid("value", "a percentage from 1 to 100"));
        }
        Discount::Fixed { amount }
            if amount.amount <= 0 || amount.amount > crate::money::MAX_AMOUNT =>
        {
            return Err(DomainError::invalid("value", "an amount above zero"));
        }
        _ => {}
    }
    if let (Some(start), Some(end)) = (new.starts_at, new.ends_at)
        && start >= end
    {
        return Err(DomainError::invalid("ends_at", "must be after starts_at"));
    }
    if new.max_uses == Some(0) {
        return Err(DomainError::invalid("max_uses", "at least 1 when given"));
    }
    for product in &new.product_ids {
        let owned = state
            .products
            .get(product)
            .is_some_and(|p| p.shop_id == new.shop_id && p.deleted_at.is_none());
        if !owned {
            return Err(DomainError::invalid(
                "product_ids",
                format!("product {product} is not one of this shop's products"),
            ));
        }
    }
    Ok(vec![Event::DiscountCodeCreated(DiscountCode {
        code,
        public_name: new.public_name.trim().to_string(),
        created_at: ctx.at,
        ..new.clone()
    })])
}

pub(crate) fn delete(state: &State, id: DiscountCodeId, ctx: &Context) -> Result<Vec<Event>> {
    let code = state
        .discount_codes
        .get(&id)
        .ok_or_else(|| DomainError::not_found("discount code", id))?;
    let shop = state
        .shops
        .get(&code.shop_id)
        .ok_or_else(|| DomainError::not_found("shop", code.shop_id))?;
    // Another seller's code is "not found": its existence is none of their business.
    crate::decide::may_manage(shop, ctx)
        .map_err(|_| DomainError::not_found("discount code", id))?;
    Ok(vec![Event::DiscountCodeDeleted { id, at: ctx.at }])
}
