//! The state every decision is made against, and the fold that builds it from events.

use crate::account::{Account, Credential};
use crate::cart::{Cart, CartOwner};
use crate::catalog::Product;
use crate::chat::Thread;
use crate::checkout::Checkout;
use crate::discount::DiscountCode;
use crate::event::Event;
use crate::ids::{
    AccountId, CheckoutId, ConversationId, DiscountCodeId, MediaId, OrderId, ProductId, ShopId,
};
use crate::media::Media;
use crate::notification::{Notification, Recipient};
use crate::order::Order;
use crate::review::{Rating, Review};
use crate::shop::Shop;
use crate::site::SiteConfig;
use imbl::{OrdMap, OrdSet};

/// Everything the commerce flows need to know, in memory. Cloning is O(1) (persistent maps), so the
/// command path can decide a batch against a scratch copy and throw it away if the log refuses it.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub site: SiteConfig,
    pub shops: OrdMap<ShopId, Shop>,
    pub products: OrdMap<ProductId, Product>,
    pub product_slugs: OrdMap<String, ProductId>,
    pub shop_slugs: OrdSet<String>,
    /// Products per shop, newest last.
    pub shop_products: OrdMap<ShopId, imbl::Vector<ProductId>>,
    pub accounts: OrdMap<AccountId, Account>,
    /// Normalized e-mail → account.
    pub account_emails: OrdMap<String, AccountId>,
    /// Password hashes and session epochs, from the `credentials` topic only.
    pub credentials: OrdMap<AccountId, Credential>,
    /// Who follows each shop.
    pub followers: OrdMap<ShopId, OrdSet<AccountId>>,
    pub discount_codes: OrdMap<DiscountCodeId, DiscountCode>,
    /// Upper-cased code → id, for uniqueness across the marketplace.
    pub discount_code_names: OrdMap<String, DiscountCodeId>,
    /// Uploaded images and who owns them.
    pub media: OrdMap<MediaId, Media>,
    /// Sellers whose shop was purged: they cannot open another.
    pub closed_shop_owners: OrdSet<AccountId>,
    pub carts: OrdMap<CartOwner, Cart>,
    /// Each shopper's wishlist, oldest first.
    pub wishlists: OrdMap<AccountId, imbl::Vector<ProductId>>,
    pub checkouts: OrdMap<CheckoutId, Checkout>,
    /// The latest open checkout of each shopper.
    pub open_checkouts: OrdMap<AccountId, CheckoutId>,
    /// Provider payment id → checkout.
    pub payment_refs: OrdMap<String, CheckoutId>,
    /// What open checkouts hold of each product (released when they close or expire).
    pub reservations: OrdMap<ProductId, OrdMap<CheckoutId, u32>>,
    /// How many orders used each discount code, and which open checkouts hold one.
    pub code_uses: OrdMap<DiscountCodeId, u32>,
    pub code_holds: OrdMap<DiscountCodeId, OrdSet<CheckoutId>>,
    pub orders: OrdMap<OrderId, Order>,
    pub shopper_orders: OrdMap<AccountId, imbl::Vector<OrderId>>,
    pub shop_orders: OrdMap<ShopId, imbl::Vector<OrderId>>,
    /// Units of each product on orders that stand (cancelled ones are taken off), and each
    /// shop's standing orders: "top sales".
    pub units_sold: OrdMap<ProductId, u64>,
    pub shop_sales: OrdMap<ShopId, u64>,
    /// Each product's reviews, oldest first, and the ratings they add up to.
    pub reviews: OrdMap<ProductId, imbl::Vector<Review>>,
    pub ratings: OrdMap<ProductId, Rating>,
    pub shop_ratings: OrdMap<ShopId, Rating>,
    /// The newest notifications of each recipient, oldest first (see [`crate::notification`]).
    pub notifications: OrdMap<Recipient, imbl::Vector<Notification>>,
    /// What each account has read of what it sees.
    pub notifications_read: OrdMap<AccountId, OrdSet<String>>,
    /// Conversations between shoppers and shops (see [`crate::chat`]).
    pub conversations: OrdMap<ConversationId, Thread>,
    /// (shopper, shop) → their one conversation.
    pub conversation_index: OrdMap<(AccountId, ShopId), ConversationId>,
    pub shopper_conversations: OrdMap<AccountId, OrdSet<ConversationId>>,
    pub shop_conversations: OrdMap<ShopId, OrdSet<ConversationId>>,
    /// The newest position in the chat stream.
    pub chat_position: u64,
}

impl State {
    /// Folds one event into the state. Events were validated by `decide`, so `apply` never fails;
    /// an event about something unknown (impossible in a well-formed log) is ignored.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::SiteConfigured(config) => self.site = config.clone(),
            Event::ShopCreated(shop) => {
                self.shop_slugs.insert(shop.slug.clone());
                self.shop_products.entry(shop.id).or_default();
                self.shops.insert(shop.id, shop.clone());
            }
            Event::ShopUpdated { id, changes, .. } => {
                if let Some(shop) = self.shops.get_mut(id) {
                    shop.apply(changes);
                }
            }
            Event::ShopDeletionRequested { id, at } => {
                if let Some(shop) = self.shops.get_mut(id) {
                    shop.deletion_requested_at = Some(*at);
                }
            }
            Event::ShopPayoutAccountLinked { id, account, .. } => {
                if let Some(shop) = self.shops.get_mut(id) {
                    shop.payout_account = Some(account.clone());
                }
            }
            Event::ShopRestored { id, .. } => {
                if let Some(shop) = self.shops.get_mut(id) {
                    shop.deletion_requested_at = None;
                }
            }
            Event::ShopPurged { id, owner, .. } => {
                // The slug stays taken, so an old link never leads to another shop.
                self.shops.remove(id);
                self.shop_products.remove(id);
                self.followers.remove(id);
                let codes: Vec<_> = self
                    .discount_codes
                    .values()
                    .filter(|c| c.shop_id == *id)
                    .map(|c| (c.id, c.code.clone()))
                    .collect();
                for (code, name) in codes {
                    self.discount_codes.remove(&code);
                    self.discount_code_names.remove(&name);
                }
                if let Some(owner) = owner {
                    self.closed_shop_owners.insert(*owner);
                }
            }
            Event::MediaUploaded(media) => {
                self.media.insert(media.id, (**media).clone());
            }
            Event::MediaDeleted { id, .. } => {
                self.media.remove(id);
            }
            Event::ProductCreated(product) => {
                self.product_slugs.insert(product.slug.clone(), product.id);
                self.shop_products
                    .entry(product.shop_id)
                    .or_default()
                    .push_back(product.id);
                self.products.insert(product.id, product.clone());
            }
            Event::ProductUpdated {
                id, changes, at, ..
            } => {
                if let Some(product) = self.products.get_mut(id) {
                    product.apply(changes, *at);
                }
            }
            Event::ProductDeleted { id, at, .. } => {
                if let Some(product) = self.products.get_mut(id) {
                    product.deleted_at = Some(*at);
                    product.updated_at = *at;
                }
            }
            Event::ProductRestored { id, at, .. } => {
                if let Some(product) = self.products.get_mut(id) {
                    product.deleted_at = None;
                    product.updated_at = *at;
                }
            }
            Event::ProductModerated { id, after, .. } => {
                if let Some(product) = self.products.get_mut(id) {
                    product.hidden = after.hidden.clone();
                    product.updated_at = after.updated_at;
                }
            }
            Event::ProductPurged { id, .. } => {
                if let Some(product) = self.products.remove(id) {
                    self.product_slugs.remove(&product.slug);
                    if let Some(ids) = self.shop_products.get_mut(&product.shop_id) {
                        ids.retain(|p| p != id);
                    }
                    let scoped: Vec<_> = self
                        .discount_codes
                        .values()
                        .filter(|c| c.product_ids.contains(id))
                        .map(|c| c.id)
                        .collect();
                    for code in scoped {
                        if let Some(code) = self.discount_codes.get_mut(&code) {
                            code.product_ids.retain(|p| p != id);
                        }
                    }
                }
            }
            Event::ShopFollowed { shop, account, .. } => {
                self.followers.entry(*shop).or_default().insert(*account);
            }
            Event::ShopUnfollowed { shop, account, .. } => {
                if let Some(followers) = self.followers.get_mut(shop) {
                    followers.remove(account);
                }
            }
            Event::DiscountCodeCreated(code) => {
                self.discount_code_names.insert(code.code.clone(), code.id);
                self.discount_codes.insert(code.id, code.clone());
            }
            Event::DiscountCodeDeleted { id, .. } => {
                if let Some(code) = self.discount_codes.remove(id) {
                    self.discount_code_names.remove(&code.code);
                }
            }
            Event::AccountRegistered { .. }
            | Event::PasswordSet { .. }
            | Event::AccountBanned { .. }
            | Event::AccountUnbanned { .. }
            | Event::AccountRoleChanged { .. }
            | Event::AddressAdded { .. }
            | Event::AddressRemoved { .. } => self.apply_account(event),
            Event::CartUpdated { .. }
            | Event::WishlistAdded { .. }
            | Event::WishlistRemoved { .. }
            | Event::CheckoutOpened(_)
            | Event::CheckoutClosed { .. }
            | Event::PaymentCaptured { .. }
            | Event::PaymentRefunded { .. } => self.apply_checkout(event),
            Event::OrderPlaced(_)
            | Event::OrderStatusChanged { .. }
            | Event::OrderCancelled { .. } => self.apply_order(event),
            Event::ReviewPosted(review) => self.apply_review(review),
            Event::PaymentSettled { settlement, .. } => self.apply_settlement(settlement),
            Event::NotificationCreated(notification) => self.apply_notification(notification),
            Event::NotificationsRead { account, ids, .. } => {
                self.apply_notifications_read(*account, ids)
            }
            Event::ConversationStarted(_) | Event::MessageSent(_) | Event::ChatRead { .. } => {
                self.apply_chat(event)
            }
            // Activity and log lines are history, not state: they live in the lakehouse.
            Event::LogLine(_)
            | Event::ProductView(_)
            | Event::AddToCart(_)
            | Event::AddToWishlist(_)
            | Event::ShopVisit(_)
            | Event::Search(_)
            | Event::RecommendationShown(_)
            | Event::RecommendationClick(_) => {}
        }
    }

    /// The shop a seller owns, if any.
    pub fn shop_of(&self, seller: AccountId) -> Option<&Shop> {
        self.shops.values().find(|s| s.owner == Some(seller))
    }

    /// Every image something uses: products, shop avatars and banners, the site.
    pub fn used_media(&self) -> std::collections::HashSet<MediaId> {
        let products = self
            .products
            .values()
            .flat_map(|p| p.images.iter().copied());
        let shops = self
            .shops
            .values()
            .flat_map(|s| [s.profile.avatar, s.profile.banner])
            .flatten();
        let site = [self.site.logo, self.site.banner].into_iter().flatten();
        let chat = self
            .conversations
            .values()
            .flat_map(|t| t.messages.iter().filter_map(|m| m.image));
        products.chain(shops).chain(site).chain(chat).collect()
    }

    /// What uses an image ("product 'Blue mug'", "the shop's banner", "the site logo"); empty
    /// when nothing does, so it may be deleted.
    pub fn media_users(&self, id: MediaId) -> Vec<String> {
        let mut users: Vec<String> = self
            .products
            .values()
            .filter(|p| p.images.contains(&id))
            .map(|p| format!("product '{}'", p.title))
            .collect();
        for shop in self.shops.values() {
            if shop.profile.avatar == Some(id) {
                users.push(format!("the avatar of shop '{}'", shop.name));
            }
            if shop.profile.banner == Some(id) {
                users.push(format!("the banner of shop '{}'", shop.name));
            }
        }
        if self.site.logo == Some(id) {
            users.push("the site logo".into());
        }
        if self.site.banner == Some(id) {
            users.push("the site banner".into());
        }
        if self
            .conversations
            .values()
            .any(|t| t.messages.iter().any(|m| m.image == Some(id)))
        {
            users.push("a chat message".into());
        }
        users
    }

    pub fn product_by_slug(&self, slug: &str) -> Option<&Product> {
        self.product_slugs
            .get(slug)
            .and_then(|id| self.products.get(id))
    }

    /// A shop's products, newest first.
    pub fn products_of(&self, shop: ShopId) -> impl Iterator<Item = &Product> {
        self.shop_products
            .get(&shop)
            .into_iter()
            .flat_map(|ids| ids.iter().rev())
            .filter_map(|id| self.products.get(id))
    }
}
