//! Images: uploads are decoded, resized into [`Variant`]s, stored through `object_store` (a local
//! directory by default, an S3-compatible bucket with `MARKETPLACE_MEDIA=s3://…`) and served from
//! `/media/{id}/{variant}.webp` with long-lived caching headers (a stored variant never changes; a
//! new image gets a new id). The log records who owns each image (`media.uploaded`), and storage is
//! cleaned when an image is deleted or purged.

mod flows;
mod process;

pub use flows::{UploadOwner, delete, purge_unused, upload};
pub use process::{ImageError, MAX_UPLOAD_BYTES, Processed, Variant, process};

use bytes::Bytes;
use domain::MediaId;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// Uploads resized at once: resizing is CPU-bound and must not starve the request path.
const CONCURRENT_RESIZES: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("the media store location '{location}' is not usable: {reason}")]
    Location { location: String, reason: String },
    #[error("the media store failed")]
    Store(#[from] object_store::Error),
}

/// Where image variants are kept.
#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    resizing: Arc<tokio::sync::Semaphore>,
}

impl MediaStore {
    /// Opens `location`: a directory (created if missing) or an object-store URL such as
    /// `s3://bucket/prefix`, configured from the environment like the lake's.
    pub fn open(location: &str) -> Result<MediaStore, MediaStoreError> {
        let failed = |reason: String| MediaStoreError::Location {
            location: location.to_string(),
            reason,
        };
        let store: Arc<dyn ObjectStore> = if location.contains("://") {
            let url = url::Url::parse(location).map_err(|e| failed(e.to_string()))?;
            let (store, prefix) = object_store::parse_url_opts(&url, std::env::vars())
                .map_err(|e| failed(e.to_string()))?;
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        } else {
            std::fs::create_dir_all(location).map_err(|e| failed(e.to_string()))?;
            Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(location)
                    .map_err(|e| failed(e.to_string()))?,
            )
        };
        Ok(MediaStore {
            store,
            resizing: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_RESIZES)),
        })
    }

    /// Decodes and resizes an upload on the blocking pool, a bounded number at a time.
    pub async fn process(&self, bytes: Bytes) -> Result<Processed, ImageError> {
        let _permit = self.resizing.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || process(&bytes))
            .await
            .unwrap_or_else(|e| Err(ImageError::Damaged(format!("the resizer failed: {e}"))))
    }

    /// Stores every variant of an image.
    pub async fn put(&self, id: MediaId, processed: &Processed) -> Result<(), MediaStoreError> {
        for (variant, bytes) in &processed.variants {
            self.store
                .put(&key(id, *variant), PutPayload::from(bytes.clone()))
                .await?;
        }
        Ok(())
    }

    /// One stored variant, or `None` when there is no such image.
    pub async fn get(
        &self,
        id: MediaId,
        variant: Variant,
    ) -> Result<Option<Bytes>, MediaStoreError> {
        match self.store.get(&key(id, variant)).await {
            Ok(found) => Ok(Some(found.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes every stored variant of an image; removing what is gone already is not an error.
    pub async fn delete(&self, id: MediaId) -> Result<(), MediaStoreError> {
        let prefix = StorePath::from(id.to_string());
        let keys: Vec<_> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in keys {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Ids of every image with stored files (for the sweep that removes files no event owns).
    pub async fn stored_ids(&self) -> Result<Vec<MediaId>, MediaStoreError> {
        let mut ids: Vec<MediaId> = self
            .store
            .list(None)
            .try_filter_map(|meta| async move {
                Ok(meta
                    .location
                    .parts()
                    .next()
                    .and_then(|part| part.as_ref().parse::<MediaId>().ok()))
            })
            .try_collect()
            .await?;
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

fn key(id: MediaId, variant: Variant) -> StorePath {
    StorePath::from(format!("{id}/{}", variant.file_name()))
}

/// Where a variant is served.
pub fn url(id: MediaId, variant: Variant) -> String {
    format!("/media/{id}/{}", variant.file_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every media store must do; run against the local directory always and against S3
    /// when `MARKETPLACE_TEST_S3` names a bucket (CI starts one).
    async fn contract(store: MediaStore) {
        let id = MediaId(uuid::Uuid::now_v7());
        let processed = Processed {
            width: 1,
            height: 1,
            variants: Variant::ALL
                .into_iter()
                .map(|v| (v, vec![v as u8]))
                .collect(),
        };
        store.put(id, &processed).await.unwrap();
        assert!(store.stored_ids().await.unwrap().contains(&id));
        assert_eq!(
            store
                .get(id, Variant::Card)
                .await
                .unwrap()
                .unwrap()
                .as_ref(),
            [Variant::Card as u8]
        );
        store.delete(id).await.unwrap();
        store.delete(id).await.unwrap();
        assert!(store.get(id, Variant::Card).await.unwrap().is_none());
        assert!(!store.stored_ids().await.unwrap().contains(&id));
    }

    #[tokio::test]
    async fn a_local_directory_keeps_variants() {
        let dir = tempfile::tempdir().unwrap();
        contract(MediaStore::open(dir.path().to_str().unwrap()).unwrap()).await;
    }

    #[tokio::test]
    async fn an_s3_bucket_keeps_variants_when_configured() {
        let Ok(lake) = std::env::var("MARKETPLACE_TEST_S3") else {
            eprintln!("MARKETPLACE_TEST_S3 is not set: the S3 media store was not tested");
            return;
        };
        let location = format!(
            "{}-media/{}",
            lake.trim_end_matches('/'),
            uuid::Uuid::now_v7()
        );
        contract(MediaStore::open(&location).unwrap()).await;
    }
}
