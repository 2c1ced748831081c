use crate::account::AccountCommand;
use crate::activity::{ActivityDetails, ActivityKind};
use crate::actor::Actor;
use crate::cart::{CartCommand, WishlistCommand};
use crate::catalog::{NewProduct, ProductChanges};
use crate::chat::ChatCommand;
use crate::checkout::{CheckoutCommand, PaymentCommand};
use crate::discount::DiscountCode;
use crate::ids::{DiscountCodeId, ProductId, ShopId};
use crate::media::MediaCommand;
use crate::notification::NotificationCommand;
use crate::order::OrderCommand;
use crate::review::ReviewCommand;
use crate::settlement::Settlement;
use crate::shop::{NewShop, ShopCommand};
use crate::site::SiteConfig;
use chrono::{DateTime, Utc};

/// Who asks, and when. The caller reads the clock; the domain never does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub actor: Actor,
    pub at: DateTime<Utc>,
}

/// Something someone wants to happen. [`crate::decide`] accepts or refuses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    ConfigureSite(SiteConfig),
    CreateShop(NewShop),
    CreateProduct(NewProduct),
    UpdateProduct {
        id: ProductId,
        changes: ProductChanges,
    },
    /// Soft delete: hidden at once, restorable for 24 hours, then purged.
    DeleteProduct {
        id: ProductId,
    },
    RestoreProduct {
        id: ProductId,
    },
    /// Removes a product deleted more than 24 hours ago (the system's scheduled job).
    PurgeProduct {
        id: ProductId,
    },
    /// Moderation by an admin: `reason: Some(..)` hides the product, `None` shows it again.
    ModerateProduct {
        id: ProductId,
        reason: Option<String>,
    },
    /// A shopper follows (`follow: true`) or unfollows a shop; repeating either changes nothing.
    FollowShop {
        shop: ShopId,
        follow: bool,
    },
    CreateDiscountCode(DiscountCode),
    DeleteDiscountCode {
        id: DiscountCodeId,
    },
    /// A shop's profile and settings, its scheduled deletion and the purge.
    Shop(ShopCommand),
    /// Uploaded images.
    Media(MediaCommand),
    /// Accounts: registration, passwords, bans, promotions, addresses.
    Account(AccountCommand),
    /// The shopper's (or visitor's) cart.
    Cart(CartCommand),
    Wishlist(WishlistCommand),
    /// Payment sessions of carts.
    Checkout(CheckoutCommand),
    /// What the payment provider reported.
    Payment(PaymentCommand),
    /// Sellers moving their orders forward.
    Order(OrderCommand),
    /// Shoppers reviewing what they received.
    Review(ReviewCommand),
    /// The payment integration recording what it did at the provider.
    Settle(Settlement),
    /// Notifications delivered by their pipeline, and read by their receivers.
    Notification(NotificationCommand),
    /// Conversations between shoppers and shops.
    Chat(ChatCommand),
    RecordActivity {
        kind: ActivityKind,
        details: ActivityDetails,
    },
}
