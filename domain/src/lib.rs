//! Pure marketplace logic: ids, money, the site configuration, shops, products, shopper activity,
//! and the two functions every write goes through.
//!
//! - [`decide`] takes the current [`State`], a [`Command`] and its [`Context`] (who asks, and when)
//!   and either refuses with a [`DomainError`] or returns the [`Event`]s that record what happened.
//! - [`State::apply`] folds one event into the state. Replaying the log through `apply` rebuilds
//!   the state exactly.
//!
//! This crate has no async runtime, no I/O and no clock: time and new ids come in through the
//! command and its context, so decisions are deterministic and tests run in milliseconds.
//! The state uses persistent maps ([`imbl`]), so cloning it for a scratch copy is O(1).
//!
//! ```text
//! let events = domain::decide(&state, &command, &ctx)?;
//! for event in &events { state.apply(event); }
//! ```

mod account;
mod activity;
mod actor;
mod cart;
mod catalog;
mod chat;
mod checkout;
mod command;
mod decide;
mod discount;
mod error;
mod event;
mod ids;
mod log_line;
mod media;
mod money;
mod notification;
mod order;
mod review;
pub mod rich_text;
mod settlement;
mod shop;
mod site;
mod slug;
mod state;
mod validate;

pub use account::{
    Account, AccountCommand, Address, Ban, Credential, NewAccount, PasswordHash,
    check_registration, normalize_email,
};
pub use activity::{
    ActivityDetails, ActivityKind, ClientContext, Device, MAX_SHOWN, RecommendationContext,
};
pub use actor::{Actor, Role};
pub use cart::{
    Cart, CartCommand, CartLine, CartOwner, MAX_CART_LINES, MAX_QUANTITY, VISITOR_CART_DAYS,
    WishlistCommand,
};
pub use catalog::{
    Hidden, NewProduct, Product, ProductChanges, ProductDetails, ProductStatus,
    RESTORE_WINDOW_HOURS, Spec,
};
pub use chat::{
    ChatCommand, ChatUpdate, Conversation, MAX_MESSAGE_CHARS, Message, Page, ReadMark, Side, Thread,
};
pub use checkout::{
    AppliedCode, CHECKOUT_MINUTES, Checkout, CheckoutCommand, CheckoutStatus, PLATFORM_FEE_PERCENT,
    PaymentCommand, PricedCart, PricedLine, ShopPart, price_cart,
};
pub use command::{Command, Context};
pub use decide::decide;
pub use discount::{Discount, DiscountCode, normalize_code};
pub use error::DomainError;
pub use event::Event;
pub use ids::{
    AccountId, AddressId, CheckoutId, ConversationId, DiscountCodeId, EventId, MediaId, MessageId,
    OrderId, ProductId, ReviewId, SessionId, ShopId,
};
pub use log_line::{LOG_LEVELS, LogLine, MAX_LOG_MESSAGE, severity_of};
pub use media::{Media, MediaCommand, UNUSED_MEDIA_HOURS};
pub use money::{Currency, Money};
pub use notification::{KEPT_PER_RECIPIENT, Notification, NotificationCommand, Recipient};
pub use order::{Cancellation, DeliveryStatus, Order, OrderCommand, StatusChange};
pub use review::{MAX_REVIEW_TEXT, Rating, Review, ReviewCommand, review_entitlement};
pub use settlement::{Settlement, unsettled};
pub use shop::{
    NewShop, SHOP_RESTORE_WINDOW_DAYS, Shop, ShopChanges, ShopCommand, ShopProfile, ShopSettings,
};
pub use site::{Category, SiteConfig, Subcategory};
pub use slug::slugify;
pub use state::State;

/// The result of a domain decision.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;
