//! Shops: one per seller, with a public profile, the seller's settings and a scheduled deletion.

use crate::Result;
use crate::actor::Actor;
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, MediaId, ShopId};
use crate::media::check_images;
use crate::state::State;
use crate::validate::{country, long_text, non_empty};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a shop scheduled for deletion can be restored before the purge closes it for good.
pub const SHOP_RESTORE_WINDOW_DAYS: i64 = 28;

/// A seller's shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shop {
    pub id: ShopId,
    /// The seller who owns it; `None` for shops seeded by the system before accounts exist.
    pub owner: Option<AccountId>,
    pub name: String,
    pub slug: String,
    pub bio: String,
    /// A category slug from the site configuration.
    pub category: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub profile: ShopProfile,
    #[serde(default)]
    pub settings: ShopSettings,
    /// When the seller asked to delete the shop: it stays open and restorable for
    /// [`SHOP_RESTORE_WINDOW_DAYS`], then the purge closes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_requested_at: Option<DateTime<Utc>>,
    /// The shop's connected account at the payment provider (Stripe Connect), once linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_account: Option<String>,
}

/// What shoppers see of a shop besides its name and bio. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<MediaId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<MediaId>,
    /// A postal address for pick-up or returns, as one text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Free text such as "Mon–Fri 9–18".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_hours: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Social links, at most [`MAX_LINKS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// The seller's own settings: never shown to shoppers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopSettings {
    /// A product with this many or fewer units left is "low on stock".
    pub low_stock_threshold: u32,
    /// Mail the seller for each new order.
    pub email_new_orders: bool,
    /// Mail the seller when a product runs low.
    pub email_low_stock: bool,
}

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            low_stock_threshold: 5,
            email_new_orders: true,
            email_low_stock: true,
        }
    }
}

const MAX_LINKS: usize = 8;
const MAX_NAME: usize = 200;

/// What a seller fills in to open a shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShop {
    pub id: ShopId,
    pub owner: Option<AccountId>,
    pub name: String,
    pub bio: String,
    pub category: String,
    pub country: String,
}

/// A partial edit of a shop: `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Replaces the whole profile when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ShopProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ShopSettings>,
}

impl Shop {
    /// Applies an edit. The slug stays: links to the shop keep working after a rename.
    pub fn apply(&mut self, changes: &ShopChanges) {
        if let Some(name) = &changes.name {
            self.name = name.trim().to_string();
        }
        if let Some(bio) = &changes.bio {
            self.bio = bio.clone();
        }
        if let Some(category) = &changes.category {
            self.category = category.clone();
        }
        if let Some(country) = &changes.country {
            self.country = country.clone();
        }
        if let Some(profile) = &changes.profile {
            self.profile = profile.clone();
        }
        if let Some(settings) = &changes.settings {
            self.settings = settings.clone();
        }
    }

    /// When the purge may close the shop, if its deletion was requested.
    pub fn purge_due_at(&self) -> Option<DateTime<Utc>> {
        self.deletion_requested_at
            .map(|at| at + chrono::Duration::days(SHOP_RESTORE_WINDOW_DAYS))
    }
}

/// What a seller (or the scheduled purge) does with an existing shop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShopCommand {
    Update {
        id: ShopId,
        changes: ShopChanges,
    },
    /// Schedules the deletion: the shop stays open for [`SHOP_RESTORE_WINDOW_DAYS`].
    RequestDeletion {
        id: ShopId,
    },
    /// Cancels a scheduled deletion within the window.
    Restore {
        id: ShopId,
    },
    /// Closes a shop whose window has passed (the system's scheduled job): its products are
    /// purged and its seller cannot open a shop again.
    Purge {
        id: ShopId,
    },
    /// Records the shop's connected account at the payment provider (the system, after the
    /// provider created it).
    LinkPayoutAccount {
        id: ShopId,
        account: String,
    },
}

pub(crate) fn decide(state: &State, command: &ShopCommand, ctx: &Context) -> Result<Vec<Event>> {
    match command {
        ShopCommand::Update { id, changes } => {
            let shop = managed_shop(state, *id, ctx)?;
            update(state, shop, changes, ctx)
        }
        ShopCommand::RequestDeletion { id } => {
            let shop = managed_shop(state, *id, ctx)?;
            if shop.deletion_requested_at.is_some() {
                return Err(DomainError::Conflict(
                    "the shop's deletion is scheduled already".into(),
                ));
            }
            Ok(vec![Event::ShopDeletionRequested {
                id: *id,
                at: ctx.at,
            }])
        }
        ShopCommand::Restore { id } => {
            let shop = managed_shop(state, *id, ctx)?;
            match shop.purge_due_at() {
                None => Err(DomainError::Conflict(
                    "the shop is not scheduled for deletion".into(),
                )),
                Some(due) if ctx.at >= due => Err(DomainError::Conflict(format!(
                    "the {SHOP_RESTORE_WINDOW_DAYS}-day restore window has passed"
                ))),
                Some(_) => Ok(vec![Event::ShopRestored {
                    id: *id,
                    at: ctx.at,
                }]),
            }
        }
        ShopCommand::LinkPayoutAccount { id, account } => {
            if ctx.actor != Actor::System {
                return Err(DomainError::Forbidden(
                    "only the payment integration links payout accounts".into(),
                ));
            }
            let shop = state
                .shops
                .get(id)
                .ok_or_else(|| DomainError::not_found("shop", id))?;
            crate::validate::non_empty("account", account, 100)?;
            if shop.payout_account.as_deref() == Some(account.as_str()) {
                return Ok(Vec::new());
            }
            Ok(vec![Event::ShopPayoutAccountLinked {
                id: *id,
                account: account.clone(),
                at: ctx.at,
            }])
        }
        ShopCommand::Purge { id } => {
            if ctx.actor != Actor::System {
                return Err(DomainError::Forbidden(
                    "only the scheduled purge closes shops".into(),
                ));
            }
            let shop = state
                .shops
                .get(id)
                .ok_or_else(|| DomainError::not_found("shop", id))?;
            if !shop.purge_due_at().is_some_and(|due| ctx.at >= due) {
                return Err(DomainError::Conflict(format!(
                    "only shops whose deletion was requested {SHOP_RESTORE_WINDOW_DAYS} days ago are purged"
                )));
            }
            // Every product goes: one not deleted yet is deleted first, so a reader of the log
            // (silver.products) sees it deleted like any other purged product.
            let mut events = Vec::new();
            for product in state.products_of(*id) {
                if product.deleted_at.is_none() {
                    let mut after = product.clone();
                    after.deleted_at = Some(ctx.at);
                    after.updated_at = ctx.at;
                    events.push(Event::ProductDeleted {
                        id: product.id,
                        at: ctx.at,
                        after: Some(Box::new(after)),
                    });
                }
                events.push(Event::ProductPurged {
                    id: product.id,
                    at: ctx.at,
                });
            }
            events.push(Event::ShopPurged {
                id: *id,
                owner: shop.owner,
                at: ctx.at,
            });
            Ok(events)
        }
    }
}

fn update(state: &State, shop: &Shop, changes: &ShopChanges, ctx: &Context) -> Result<Vec<Event>> {
    if changes == &ShopChanges::default() {
        return Err(DomainError::invalid("changes", "nothing to change"));
    }
    if let Some(name) = &changes.name {
        non_empty("name", name, MAX_NAME)?;
    }
    if let Some(bio) = &changes.bio {
        long_text("bio", bio)?;
    }
    if let Some(category) = &changes.category
        && !state.site.has(category, None)
    {
        return Err(DomainError::invalid(
            "category",
            format!("unknown category '{category}'"),
        ));
    }
    if let Some(code) = &changes.country {
        country("country", code)?;
    }
    if let Some(profile) = &changes.profile {
        check_profile(state, shop.id, profile)?;
    }
    if let Some(settings) = &changes.settings
        && settings.low_stock_threshold > 100_000
    {
        return Err(DomainError::invalid(
            "low_stock_threshold",
            "at most 100000",
        ));
    }
    let mut after = shop.clone();
    after.apply(changes);
    Ok(vec![Event::ShopUpdated {
        id: shop.id,
        changes: changes.clone(),
        at: ctx.at,
        after: Box::new(after),
    }])
}

fn check_profile(state: &State, shop: ShopId, profile: &ShopProfile) -> Result<()> {
    for (field, image) in [("avatar", profile.avatar), ("banner", profile.banner)] {
        check_images(state, shop, field, image.as_slice(), 1)?;
    }
    for (field, text, max) in [
        ("address", &profile.address, 300),
        ("opening_hours", &profile.opening_hours, 200),
    ] {
        if let Some(text) = text {
            non_empty(field, text, max)?;
        }
    }
    if profile.links.len() > MAX_LINKS {
        return Err(DomainError::invalid(
            "links",
            format!("at most {MAX_LINKS}"),
        ));
    }
    for link in profile.website.iter().chain(&profile.links) {
        web_link(link)?;
    }
    Ok(())
}

/// An `http(s)://host…` link without spaces or markup.
pub(crate) fn web_link(link: &str) -> Result<()> {
    let field = "links";
    non_empty(field, link, 500)?;
    let rest = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"))
        .ok_or_else(|| DomainError::invalid(field, format!("'{link}' must start with https://")))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if !host.contains('.')
        || link
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
    {
        return Err(DomainError::invalid(
            field,
            format!("'{link}' is not a web address"),
        ));
    }
    Ok(())
}

/// The shop, if the actor manages it; someone else's shop is "not found".
fn managed_shop<'s>(state: &'s State, id: ShopId, ctx: &Context) -> Result<&'s Shop> {
    let shop = state
        .shops
        .get(&id)
        .ok_or_else(|| DomainError::not_found("shop", id))?;
    crate::decide::may_manage(shop, ctx).map_err(|_| DomainError::not_found("shop", id))?;
    Ok(shop)
}
