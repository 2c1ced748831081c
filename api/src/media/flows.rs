//! The media flows every caller shares (the API, the portals, the purge): an upload becomes stored
//! variants plus a `media.uploaded` event; a deletion becomes a `media.deleted` event, then the
//! files go.

use crate::app::AppState;
use crate::error::ApiError;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::{AccountId, Actor, Command, Media, MediaCommand, MediaId, ShopId};

/// Who uploads, and for which shop (`None`: the site's own images, admins only).
#[derive(Clone, Copy, Debug)]
pub struct UploadOwner {
    pub actor: Actor,
    pub account: AccountId,
    pub shop: Option<ShopId>,
}

/// Decodes, resizes and stores an upload, then records it. If the record is refused, the stored
/// files are removed again.
pub async fn upload(app: &AppState, owner: UploadOwner, bytes: Bytes) -> Result<Media, ApiError> {
    let processed = app.media.process(bytes).await?;
    let id = MediaId(uuid::Uuid::now_v7());
    app.media.put(id, &processed).await?;
    let media = Media {
        id,
        owner: owner.account,
        shop_id: owner.shop,
        width: processed.width,
        height: processed.height,
        stored_bytes: processed.stored_bytes(),
        uploaded_at: Utc::now(),
    };
    if let Err(refused) = app
        .execute(owner.actor, Command::Media(MediaCommand::Register(media)))
        .await
    {
        if let Err(e) = app.media.delete(id).await {
            tracing::warn!(media.id = %id, error = %e, "a refused upload's files could not be removed");
        }
        return Err(refused);
    }
    app.state()
        .media
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::Internal("a new image is missing".into()))
}

/// Deletes an image (refused while something uses it), then its files.
pub async fn delete(
    app: &AppState,
    actor: Actor,
    id: MediaId,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    app.execute_at(actor, Command::Media(MediaCommand::Delete { id }), at)
        .await?;
    // The event is durable: the image is gone for everyone. A failure here leaves files no event
    // owns, which the purge's sweep removes later.
    if let Err(e) = app.media.delete(id).await {
        tracing::warn!(media.id = %id, error = %e, "a deleted image's files could not be removed yet");
    }
    Ok(())
}

/// The purge's part: images uploaded more than a day ago that nothing uses now are deleted, and files that no image owns
/// (a crash between storing and recording, or a failed removal) are removed. Returns how many
/// images were deleted.
pub async fn purge_unused(app: &AppState, now: DateTime<Utc>) -> usize {
    let state = app.state();
    let used = state.used_media();
    let due: Vec<MediaId> = state
        .media
        .values()
        .filter(|m| {
            now - m.uploaded_at >= chrono::Duration::hours(domain::UNUSED_MEDIA_HOURS)
                && !used.contains(&m.id)
        })
        .map(|m| m.id)
        .collect();
    let mut deleted = 0;
    for id in due {
        match delete(app, Actor::System, id, now).await {
            Ok(()) => deleted += 1,
            Err(e) => tracing::debug!(media.id = %id, error = %e, "not purged"),
        }
    }
    match app.media.stored_ids().await {
        Ok(stored) => {
            let state = app.state();
            for id in stored {
                // Uploads in flight have files before their event: only old files are strays.
                let old = uuid_time(id).is_some_and(|t| {
                    now - t >= chrono::Duration::hours(domain::UNUSED_MEDIA_HOURS)
                });
                if old && !state.media.contains_key(&id) {
                    if let Err(e) = app.media.delete(id).await {
                        tracing::warn!(media.id = %id, error = %e, "stray files could not be removed");
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "the media store could not be listed"),
    }
    deleted
}

/// When a UUIDv7 id was made.
fn uuid_time(id: MediaId) -> Option<DateTime<Utc>> {
    let (secs, nanos) = id.0.get_timestamp()?.to_unix();
    DateTime::from_timestamp(secs as i64, nanos)
}
