//! Reviews: a shopper who received a product rates it (1 to 5 stars) and may say why, once per
//! product. A product's rating is the average of its reviews; a shop's, of all its products'.

use crate::Result;
use crate::actor::{Actor, Role};
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, OrderId, ProductId, ReviewId, ShopId};
use crate::order::DeliveryStatus;
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest review text, in characters.
pub const MAX_REVIEW_TEXT: usize = 2000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: ReviewId,
    pub product_id: ProductId,
    pub shop_id: ShopId,
    pub author: AccountId,
    /// The delivered order that entitles the author to review.
    pub order_id: OrderId,
    /// 1 to 5 stars.
    pub rating: u8,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// How many reviews, and their stars added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rating {
    pub count: u32,
    pub stars: u32,
}

impl Rating {
    /// The average in stars (0 when there are no reviews).
    pub fn average(&self) -> f32 {
        if self.count == 0 {
            0.0
        } else {
            self.stars as f32 / self.count as f32
        }
    }

    fn add(&mut self, stars: u8) {
        self.count += 1;
        self.stars += u32::from(stars);
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewCommand {
    Post {
        id: ReviewId,
        product: ProductId,
        rating: u8,
        text: String,
    },
}

/// The delivered order through which `shopper` received `product`, if there is one: the rule
/// that opens reviews.
pub fn review_entitlement(
    state: &State,
    shopper: AccountId,
    product: ProductId,
) -> Option<OrderId> {
    state
        .orders_of_shopper(shopper)
        .find(|o| {
            o.cancelled.is_none()
                && o.status == DeliveryStatus::Delivered
                && o.part.lines.iter().any(|l| l.product_id == product)
        })
        .map(|o| o.id)
}

pub(crate) fn decide(state: &State, command: &ReviewCommand, ctx: &Context) -> Result<Vec<Event>> {
    let ReviewCommand::Post {
        id,
        product,
        rating,
        text,
    } = command;
    let Actor::Account {
        role: Role::Shopper,
        id: author,
    } = ctx.actor
    else {
        return Err(DomainError::Forbidden(
            "only shoppers review products".into(),
        ));
    };
    let found = state
        .products
        .get(product)
        .ok_or_else(|| DomainError::not_found("product", product))?;
    if !(1..=5).contains(rating) {
        return Err(DomainError::invalid("rating", "1 to 5 stars"));
    }
    let text = text.trim();
    if text.chars().count() > MAX_REVIEW_TEXT {
        return Err(DomainError::invalid(
            "text",
            format!("at most {MAX_REVIEW_TEXT} characters"),
        ));
    }
    if state
        .reviews
        .get(product)
        .is_some_and(|r| r.iter().any(|r| r.author == author))
    {
        return Err(DomainError::Conflict(
            "you have reviewed this product already".into(),
        ));
    }
    let order = review_entitlement(state, author, *product).ok_or_else(|| {
        DomainError::Forbidden(
            "reviews open once an order with this product has been delivered to you".into(),
        )
    })?;
    Ok(vec![Event::ReviewPosted(Box::new(Review {
        id: *id,
        product_id: *product,
        shop_id: found.shop_id,
        author,
        order_id: order,
        rating: *rating,
        text: text.to_string(),
        at: ctx.at,
    }))])
}

impl State {
    pub(crate) fn apply_review(&mut self, review: &Review) {
        self.ratings
            .entry(review.product_id)
            .or_default()
            .add(review.rating);
        self.shop_ratings
            .entry(review.shop_id)
            .or_default()
            .add(review.rating);
        self.reviews
            .entry(review.product_id)
            .or_default()
            .push_back(review.clone());
    }

    /// A product's reviews, newest first.
    pub fn reviews_of(&self, product: ProductId) -> impl Iterator<Item = &Review> {
        self.reviews
            .get(&product)
            .into_iter()
            .flat_map(|r| r.iter().rev())
    }
}
