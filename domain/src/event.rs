//! Facts: what happened. Events are the only thing written to the log; the state is their fold.

use crate::account::{Address, NewAccount, PasswordHash};
use crate::activity::{ActivityDetails, ActivityKind};
use crate::actor::Role;
use crate::cart::{Cart, CartOwner};
use crate::catalog::{Product, ProductChanges};
use crate::chat::{Conversation, Message, Side};
use crate::checkout::{Checkout, CheckoutStatus};
use crate::discount::DiscountCode;
use crate::ids::{
    AccountId, AddressId, CheckoutId, ConversationId, DiscountCodeId, MediaId, OrderId, ProductId,
    ShopId,
};
use crate::log_line::LogLine;
use crate::media::Media;
use crate::money::Money;
use crate::notification::Notification;
use crate::order::{DeliveryStatus, Order};
use crate::review::Review;
use crate::settlement::Settlement;
use crate::shop::{Shop, ShopChanges};
use crate::site::SiteConfig;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A domain event. On the wire it is `{"kind": "...", "payload": {...}}`; the envelope adds the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Event {
    #[serde(rename = "site.configured")]
    SiteConfigured(SiteConfig),
    #[serde(rename = "shop.created")]
    ShopCreated(Shop),
    /// The shop after the change rides along, like `product.updated`'s.
    #[serde(rename = "shop.updated")]
    ShopUpdated {
        id: ShopId,
        changes: ShopChanges,
        at: DateTime<Utc>,
        after: Box<Shop>,
    },
    #[serde(rename = "shop.deletion_requested")]
    ShopDeletionRequested { id: ShopId, at: DateTime<Utc> },
    #[serde(rename = "shop.restored")]
    ShopRestored { id: ShopId, at: DateTime<Utc> },
    /// Closed for good; its products were purged by the events before this one.
    #[serde(rename = "shop.purged")]
    ShopPurged {
        id: ShopId,
        owner: Option<AccountId>,
        at: DateTime<Utc>,
    },
    #[serde(rename = "shop.payout_account_linked")]
    ShopPayoutAccountLinked {
        id: ShopId,
        account: String,
        at: DateTime<Utc>,
    },
    #[serde(rename = "media.uploaded")]
    MediaUploaded(Box<Media>),
    #[serde(rename = "media.deleted")]
    MediaDeleted { id: MediaId, at: DateTime<Utc> },
    #[serde(rename = "product.created")]
    ProductCreated(Product),
    #[serde(rename = "product.updated")]
    ProductUpdated {
        id: ProductId,
        changes: ProductChanges,
        at: DateTime<Utc>,
        /// The whole product after the change, so a reader of the log (the silver pipeline)
        /// needs no state to follow it. Absent in events written before it was added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<Product>>,
    },
    /// Soft delete; `after` is the product as it now is (deleted), like `product.updated`'s.
    #[serde(rename = "product.deleted")]
    ProductDeleted {
        id: ProductId,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<Product>>,
    },
    #[serde(rename = "product.restored")]
    ProductRestored {
        id: ProductId,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<Product>>,
    },
    /// An admin hid the product (`after.hidden` set) or showed it again (`after.hidden` empty).
    #[serde(rename = "product.moderated")]
    ProductModerated {
        id: ProductId,
        at: DateTime<Utc>,
        after: Box<Product>,
    },
    #[serde(rename = "shop.followed")]
    ShopFollowed {
        shop: ShopId,
        account: AccountId,
        at: DateTime<Utc>,
    },
    #[serde(rename = "shop.unfollowed")]
    ShopUnfollowed {
        shop: ShopId,
        account: AccountId,
        at: DateTime<Utc>,
    },
    #[serde(rename = "product.purged")]
    ProductPurged { id: ProductId, at: DateTime<Utc> },
    #[serde(rename = "discount_code.created")]
    DiscountCodeCreated(DiscountCode),
    #[serde(rename = "discount_code.deleted")]
    DiscountCodeDeleted {
        id: DiscountCodeId,
        at: DateTime<Utc>,
    },
    #[serde(rename = "account.registered")]
    AccountRegistered {
        account: NewAccount,
        at: DateTime<Utc>,
    },
    /// The only event that carries a credential. It travels on the `credentials` topic, which
    /// never reaches the lake.
    #[serde(rename = "password.set")]
    PasswordSet {
        account: AccountId,
        password_hash: PasswordHash,
        /// Signs the account out everywhere (a reset, or a change the person asked for).
        revoke_sessions: bool,
        at: DateTime<Utc>,
    },
    #[serde(rename = "account.banned")]
    AccountBanned {
        id: AccountId,
        reason: String,
        by: Option<AccountId>,
        at: DateTime<Utc>,
    },
    #[serde(rename = "account.unbanned")]
    AccountUnbanned { id: AccountId, at: DateTime<Utc> },
    #[serde(rename = "account.role_changed")]
    AccountRoleChanged {
        id: AccountId,
        role: Role,
        at: DateTime<Utc>,
    },
    #[serde(rename = "address.added")]
    AddressAdded {
        account: AccountId,
        address: Address,
    },
    #[serde(rename = "address.removed")]
    AddressRemoved { account: AccountId, id: AddressId },
    /// The whole cart after the change; an empty cart is gone.
    #[serde(rename = "cart.updated")]
    CartUpdated {
        owner: CartOwner,
        cart: Box<Cart>,
        at: DateTime<Utc>,
    },
    #[serde(rename = "wishlist.added")]
    WishlistAdded {
        account: AccountId,
        product: ProductId,
        at: DateTime<Utc>,
    },
    #[serde(rename = "wishlist.removed")]
    WishlistRemoved {
        account: AccountId,
        product: ProductId,
        at: DateTime<Utc>,
    },
    /// A payment session opened: the priced cart, the address, and the stock it holds.
    #[serde(rename = "checkout.opened")]
    CheckoutOpened(Box<Checkout>),
    /// An unpaid checkout ended (`cancelled`, `expired` or `failed`); its hold is released.
    #[serde(rename = "checkout.closed")]
    CheckoutClosed {
        id: CheckoutId,
        owner: AccountId,
        payment_ref: String,
        status: CheckoutStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    /// The provider took the shopper's money; the orders follow in the same batch.
    #[serde(rename = "payment.captured")]
    PaymentCaptured {
        checkout: CheckoutId,
        owner: AccountId,
        payment_ref: String,
        amount: Money,
        /// The platform's fee, summed over the shops.
        fee: Money,
        at: DateTime<Utc>,
    },
    /// The money goes back; `refund_due` when the marketplace must ask the provider for it.
    #[serde(rename = "payment.refunded")]
    PaymentRefunded {
        checkout: CheckoutId,
        owner: AccountId,
        payment_ref: String,
        amount: Money,
        reason: String,
        refund_due: bool,
        at: DateTime<Utc>,
    },
    #[serde(rename = "order.placed")]
    OrderPlaced(Box<Order>),
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged {
        id: OrderId,
        shop: ShopId,
        shopper: AccountId,
        from: DeliveryStatus,
        to: DeliveryStatus,
        at: DateTime<Utc>,
        /// The order after the change, like `product.updated`'s (silver.orders follows it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<Order>>,
    },
    #[serde(rename = "order.cancelled")]
    OrderCancelled {
        id: OrderId,
        shop: ShopId,
        shopper: AccountId,
        reason: String,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Box<Order>>,
    },
    /// Done at the payment provider: a transfer, its reversal, an owed refund.
    #[serde(rename = "payment.settled")]
    PaymentSettled {
        settlement: Settlement,
        at: DateTime<Utc>,
    },
    #[serde(rename = "review.posted")]
    ReviewPosted(Box<Review>),
    /// Written by the notification pipeline through the command path.
    #[serde(rename = "notification.created")]
    NotificationCreated(Box<Notification>),
    #[serde(rename = "notifications.read")]
    NotificationsRead {
        account: AccountId,
        ids: Vec<String>,
        at: DateTime<Utc>,
    },
    #[serde(rename = "conversation.started")]
    ConversationStarted(Conversation),
    #[serde(rename = "chat.message")]
    MessageSent(Box<Message>),
    /// A side read its conversation up to `upto`.
    #[serde(rename = "chat.read")]
    ChatRead {
        conversation: ConversationId,
        side: Side,
        reader: AccountId,
        upto: u64,
        /// The mark's position in the chat stream.
        position: u64,
        at: DateTime<Utc>,
    },
    /// A component's or a browser's log line (the `logs` topic; never folded into the state).
    #[serde(rename = "log.line")]
    LogLine(Box<LogLine>),
    #[serde(rename = "product_view")]
    ProductView(ActivityDetails),
    #[serde(rename = "add_to_cart")]
    AddToCart(ActivityDetails),
    #[serde(rename = "add_to_wishlist")]
    AddToWishlist(ActivityDetails),
    #[serde(rename = "shop_visit")]
    ShopVisit(ActivityDetails),
    #[serde(rename = "search")]
    Search(ActivityDetails),
    #[serde(rename = "recommendation_shown")]
    RecommendationShown(ActivityDetails),
    #[serde(rename = "recommendation_click")]
    RecommendationClick(ActivityDetails),
}

impl Event {
    /// Every event kind this version of the domain understands.
    pub const KINDS: [&'static str; 51] = [
        "conversation.started",
        "chat.message",
        "chat.read",
        "log.line",
        "notification.created",
        "notifications.read",
        "payment.settled",
        "review.posted",
        "shop.payout_account_linked",
        "site.configured",
        "cart.updated",
        "wishlist.added",
        "wishlist.removed",
        "checkout.opened",
        "checkout.closed",
        "payment.captured",
        "payment.refunded",
        "order.placed",
        "order.status_changed",
        "order.cancelled",
        "shop.updated",
        "shop.deletion_requested",
        "shop.restored",
        "shop.purged",
        "media.uploaded",
        "media.deleted",
        "shop.followed",
        "shop.unfollowed",
        "product.moderated",
        "product.deleted",
        "product.restored",
        "product.purged",
        "discount_code.created",
        "discount_code.deleted",
        "account.registered",
        "password.set",
        "account.banned",
        "account.unbanned",
        "account.role_changed",
        "address.added",
        "address.removed",
        "shop.created",
        "product.created",
        "product.updated",
        "product_view",
        "add_to_cart",
        "add_to_wishlist",
        "shop_visit",
        "search",
        "recommendation_shown",
        "recommendation_click",
    ];

    pub fn activity(kind: ActivityKind, details: ActivityDetails) -> Event {
        match kind {
            ActivityKind::ProductView => Event::ProductView(details),
            ActivityKind::AddToCart => Event::AddToCart(details),
            ActivityKind::AddToWishlist => Event::AddToWishlist(details),
            ActivityKind::ShopVisit => Event::ShopVisit(details),
            ActivityKind::Search => Event::Search(details),
            ActivityKind::RecommendationShown => Event::RecommendationShown(details),
            ActivityKind::RecommendationClick => Event::RecommendationClick(details),
        }
    }

    /// The activity kind and details, for activity events.
    pub fn as_activity(&self) -> Option<(ActivityKind, &ActivityDetails)> {
        match self {
            Event::ProductView(d) => Some((ActivityKind::ProductView, d)),
            Event::AddToCart(d) => Some((ActivityKind::AddToCart, d)),
            Event::AddToWishlist(d) => Some((ActivityKind::AddToWishlist, d)),
            Event::ShopVisit(d) => Some((ActivityKind::ShopVisit, d)),
            Event::Search(d) => Some((ActivityKind::Search, d)),
            Event::RecommendationShown(d) => Some((ActivityKind::RecommendationShown, d)),
            Event::RecommendationClick(d) => Some((ActivityKind::RecommendationClick, d)),
            _ => None,
        }
    }

    /// Whether this event is a notification or a read mark (the `notifications` topic).
    pub fn is_notification(&self) -> bool {
        matches!(
            self,
            Event::NotificationCreated(_) | Event::NotificationsRead { .. }
        )
    }

    /// Whether this event is a conversation, a message or a read mark (the `chat` topic).
    pub fn is_chat(&self) -> bool {
        matches!(
            self,
            Event::ConversationStarted(_) | Event::MessageSent(_) | Event::ChatRead { .. }
        )
    }

    /// Whether this event carries a credential, and so must never reach the lake.
    pub fn is_credential(&self) -> bool {
        matches!(self, Event::PasswordSet { .. })
    }

    /// The event kind as written in the envelope.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SiteConfigured(_) => "site.configured",
            Event::ShopCreated(_) => "shop.created",
            Event::ShopUpdated { .. } => "shop.updated",
            Event::ShopDeletionRequested { .. } => "shop.deletion_requested",
            Event::ShopRestored { .. } => "shop.restored",
            Event::ShopPurged { .. } => "shop.purged",
            Event::ShopPayoutAccountLinked { .. } => "shop.payout_account_linked",
            Event::MediaUploaded(_) => "media.uploaded",
            Event::MediaDeleted { .. } => "media.deleted",
            Event::ProductCreated(_) => "product.created",
            Event::ProductUpdated { .. } => "product.updated",
            Event::ProductDeleted { .. } => "product.deleted",
            Event::ProductRestored { .. } => "product.restored",
            Event::ProductPurged { .. } => "product.purged",
            Event::ProductModerated { .. } => "product.moderated",
            Event::ShopFollowed { .. } => "shop.followed",
            Event::ShopUnfollowed { .. } => "shop.unfollowed",
            Event::DiscountCodeCreated(_) => "discount_code.created",
            Event::DiscountCodeDeleted { .. } => "discount_code.deleted",
            Event::AccountRegistered { .. } => "account.registered",
            Event::PasswordSet { .. } => "password.set",
            Event::AccountBanned { .. } => "account.banned",
            Event::AccountUnbanned { .. } => "account.unbanned",
            Event::AccountRoleChanged { .. } => "account.role_changed",
            Event::AddressAdded { .. } => "address.added",
            Event::AddressRemoved { .. } => "address.removed",
            Event::CartUpdated { .. } => "cart.updated",
            Event::WishlistAdded { .. } => "wishlist.added",
            Event::WishlistRemoved { .. } => "wishlist.removed",
            Event::CheckoutOpened(_) => "checkout.opened",
            Event::CheckoutClosed { .. } => "checkout.closed",
            Event::PaymentCaptured { .. } => "payment.captured",
            Event::PaymentRefunded { .. } => "payment.refunded",
            Event::OrderPlaced(_) => "order.placed",
            Event::OrderStatusChanged { .. } => "order.status_changed",
            Event::OrderCancelled { .. } => "order.cancelled",
            Event::ReviewPosted(_) => "review.posted",
            Event::PaymentSettled { .. } => "payment.settled",
            Event::NotificationCreated(_) => "notification.created",
            Event::NotificationsRead { .. } => "notifications.read",
            Event::ConversationStarted(_) => "conversation.started",
            Event::MessageSent(_) => "chat.message",
            Event::ChatRead { .. } => "chat.read",
            Event::LogLine(_) => "log.line",
            other => other
                .as_activity()
                .map(|(kind, _)| kind.as_str())
                .unwrap_or("unknown"),
        }
    }

    /// The aggregate this event belongs to, used as the log key (ordering is guaranteed per key).
    /// Activity events have no aggregate; the caller keys them by visitor.
    pub fn aggregate_key(&self) -> Option<String> {
        match self {
            Event::SiteConfigured(_) => Some("site".into()),
            Event::ShopCreated(shop) => Some(shop.id.to_string()),
            Event::ShopUpdated { id, .. }
            | Event::ShopDeletionRequested { id, .. }
            | Event::ShopRestored { id, .. }
            | Event::ShopPurged { id, .. }
            | Event::ShopPayoutAccountLinked { id, .. } => Some(id.to_string()),
            Event::MediaUploaded(media) => Some(media.id.to_string()),
            Event::MediaDeleted { id, .. } => Some(id.to_string()),
            Event::ProductCreated(product) => Some(product.id.to_string()),
            Event::ProductUpdated { id, .. }
            | Event::ProductDeleted { id, .. }
            | Event::ProductRestored { id, .. }
            | Event::ProductPurged { id, .. }
            | Event::ProductModerated { id, .. } => Some(id.to_string()),
            Event::DiscountCodeCreated(code) => Some(code.id.to_string()),
            Event::ShopFollowed { shop, .. } | Event::ShopUnfollowed { shop, .. } => {
                Some(shop.to_string())
            }
            Event::DiscountCodeDeleted { id, .. } => Some(id.to_string()),
            Event::AccountRegistered { account, .. } => Some(account.id.to_string()),
            Event::PasswordSet { account, .. }
            | Event::AddressAdded { account, .. }
            | Event::AddressRemoved { account, .. } => Some(account.to_string()),
            Event::AccountBanned { id, .. }
            | Event::AccountUnbanned { id, .. }
            | Event::AccountRoleChanged { id, .. } => Some(id.to_string()),
            Event::CartUpdated { owner, .. } => Some(match owner {
                CartOwner::Account(id) => id.to_string(),
                CartOwner::Session(id) => id.to_string(),
            }),
            Event::WishlistAdded { account, .. } | Event::WishlistRemoved { account, .. } => {
                Some(account.to_string())
            }
            Event::CheckoutOpened(checkout) => Some(checkout.id.to_string()),
            Event::CheckoutClosed { id, .. } => Some(id.to_string()),
            Event::PaymentCaptured { checkout, .. } | Event::PaymentRefunded { checkout, .. } => {
                Some(checkout.to_string())
            }
            Event::OrderPlaced(order) => Some(order.id.to_string()),
            Event::ReviewPosted(review) => Some(review.product_id.to_string()),
            Event::PaymentSettled { settlement, .. } => Some(match settlement {
                Settlement::Transfer { order, .. } | Settlement::Reversal { order } => {
                    order.to_string()
                }
                Settlement::Refund { checkout } => checkout.to_string(),
            }),
            Event::OrderStatusChanged { id, .. } | Event::OrderCancelled { id, .. } => {
                Some(id.to_string())
            }
            Event::NotificationCreated(n) => Some(n.recipient.to_string()),
            Event::NotificationsRead { account, .. } => Some(account.to_string()),
            Event::ConversationStarted(c) => Some(c.id.to_string()),
            Event::MessageSent(m) => Some(m.conversation.to_string()),
            Event::ChatRead { conversation, .. } => Some(conversation.to_string()),
            Event::LogLine(line) => Some(line.source.clone()),
            _ => None,
        }
    }

    /// Rebuilds an event from its envelope's `kind` and `payload`.
    pub fn from_parts(kind: &str, payload: serde_json::Value) -> Result<Event, serde_json::Error> {
        Event::from_parts_ref(kind, &payload)
    }

    /// Like [`Event::from_parts`], reading the payload in place (no copy of the JSON tree).
    pub fn from_parts_ref(
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<Event, serde_json::Error> {
        use serde::Deserialize;
        use serde::de::value::MapDeserializer;
        let kind = serde_json::Value::String(kind.to_string());
        let fields = [("kind", &kind), ("payload", payload)];
        Event::deserialize(MapDeserializer::<_, serde_json::Error>::new(
            fields.into_iter(),
        ))
    }

    /// Splits an event into its `kind` and `payload`.
    pub fn to_parts(&self) -> (&'static str, serde_json::Value) {
        let payload = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut map)) => {
                map.remove("payload").unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::Null,
        };
        (self.kind(), payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::ClientContext;
    use crate::ids::ProductId;

    #[test]
    fn events_round_trip_through_kind_and_payload() {
        let event = Event::ProductView(ActivityDetails {
            product_id: Some(ProductId(uuid::Uuid::nil())),
            client: ClientContext {
                country: Some("DE".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        let (kind, payload) = event.to_parts();
        assert_eq!(kind, "product_view");
        assert_eq!(payload["country"], "DE");
        assert_eq!(Event::from_parts(kind, payload).unwrap(), event);
        assert!(Event::from_parts("order.teleported", serde_json::json!({})).is_err());
    }

    #[test]
    fn kinds_list_is_complete() {
        for kind in ActivityKind::ALL {
            assert!(Event::KINDS.contains(&kind.as_str()));
        }
        let site = Event::SiteConfigured(SiteConfig::default());
        assert!(Event::KINDS.contains(&site.kind()));
    }
}
