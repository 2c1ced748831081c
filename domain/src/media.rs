//! Uploaded images. The bytes live in the media store; the log records who owns each image, because
//! ownership decides who may put it on a product, a shop or the site, and who may delete it.

use crate::Result;
use crate::actor::{Actor, Role};
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, MediaId, ShopId};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An image that was decoded, resized and stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub id: MediaId,
    /// The account that uploaded it.
    pub owner: AccountId,
    /// The seller's shop it belongs to; `None` for the site's own images (uploaded by admins).
    pub shop_id: Option<ShopId>,
    /// The original's size in pixels.
    pub width: u32,
    pub height: u32,
    /// Bytes stored for all variants together.
    pub stored_bytes: u64,
    pub uploaded_at: DateTime<Utc>,
}

/// How old an upload must be before the purge removes it when nothing uses it (a fresh upload
/// waits for the product form it belongs to).
pub const UNUSED_MEDIA_HOURS: i64 = 24;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaCommand {
    /// Records an upload the API has stored.
    Register(Media),
    /// Deletes an image when nothing uses it: by its owner (or an admin), or by the system's purge
    /// once it is [`UNUSED_MEDIA_HOURS`] old.
    Delete { id: MediaId },
}

pub(crate) fn decide(state: &State, command: &MediaCommand, ctx: &Context) -> Result<Vec<Event>> {
    match command {
        MediaCommand::Register(media) => {
            if state.media.contains_key(&media.id) {
                return Err(DomainError::Conflict(format!(
                    "media {} already exists",
                    media.id
                )));
            }
            match ctx.actor {
                Actor::System => {}
                Actor::Account { id, .. }
                    if id == media.owner && may_use(state, media, ctx.actor) => {}
                _ => {
                    return Err(DomainError::Forbidden(
                        "sellers upload images for their own shop, admins for the site".into(),
                    ));
                }
            }
            Ok(vec![Event::MediaUploaded(Box::new(Media {
                uploaded_at: ctx.at,
                ..media.clone()
            }))])
        }
        MediaCommand::Delete { id } => {
            let media = state
                .media
                .get(id)
                .ok_or_else(|| DomainError::not_found("image", id))?;
            match ctx.actor {
                Actor::System => {
                    if ctx.at - media.uploaded_at < chrono::Duration::hours(UNUSED_MEDIA_HOURS) {
                        return Err(DomainError::Conflict(
                            "only uploads unused for a day are purged".into(),
                        ));
                    }
                }
                actor if may_use(state, media, actor) => {}
                // Someone else's image is "not found": whether it exists is none of their business.
                _ => return Err(DomainError::not_found("image", id)),
            }
            let users = state.media_users(*id);
            if !users.is_empty() {
                return Err(DomainError::Conflict(format!(
                    "the image is in use by {}; remove it there first",
                    users.join(", ")
                )));
            }
            Ok(vec![Event::MediaDeleted {
                id: *id,
                at: ctx.at,
            }])
        }
    }
}

/// Whether `actor` may attach or delete this image: its shop's seller, or an admin for site images.
pub(crate) fn may_use(state: &State, media: &Media, actor: Actor) -> bool {
    match (actor, media.shop_id) {
        (Actor::System, _) => true,
        (
            Actor::Account {
                role: Role::Seller,
                id,
            },
            Some(shop),
        ) => state.shops.get(&shop).is_some_and(|s| s.owner == Some(id)),
        (
            Actor::Account {
                role: Role::Admin, ..
            },
            None,
        ) => true,
        // A shopper's own uploads are chat attachments.
        (
            Actor::Account {
                role: Role::Shopper,
                id,
            },
            None,
        ) => media.owner == id,
        _ => false,
    }
}

/// Checks that every image exists, belongs to `shop` and appears once.
pub(crate) fn check_images(
    state: &State,
    shop: ShopId,
    field: &'static str,
    images: &[MediaId],
    max: usize,
) -> Result<()> {
    if images.len() > max {
        return Err(DomainError::invalid(field, format!("at most {max} images")));
    }
    for (i, id) in images.iter().enumerate() {
        if images[..i].contains(id) {
            return Err(DomainError::invalid(
                field,
                format!("image {id} appears twice"),
            ));
        }
        match state.media.get(id) {
            Some(media) if media.shop_id == Some(shop) => {}
            _ => {
                return Err(DomainError::invalid(
                    field,
                    format!("image {id} is not one of this shop's uploads"),
                ));
            }
        }
    }
    Ok(())
}
