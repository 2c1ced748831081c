//! `/api/seller/media`: image uploads by sellers (for their shop) and admins (for the site), and
//! `/media/{id}/{variant}`: the stored variants, served with long-lived caching headers.

use crate::app::AppState;
use crate::auth::Uploader;
use crate::error::{ApiError, ErrorBody};
use crate::media::{MAX_UPLOAD_BYTES, UploadOwner, Variant};
use crate::views::ImageView;
use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::{MediaId, Role};
use serde::Serialize;
use utoipa::ToSchema;

/// A stored image.
#[derive(Serialize, ToSchema)]
pub(crate) struct UploadedImage {
    pub id: uuid::Uuid,
    /// The card variant's URL.
    pub url: String,
    pub variants: ImageView,
    /// The original's size in pixels.
    pub width: u32,
    pub height: u32,
}

/// The one image of a multipart body: its `file` field (or its only file field), read up to the
/// size limit.
pub async fn file_field(multipart: &mut Multipart) -> Result<bytes::Bytes, ApiError> {
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("the upload could not be read: {e}")))?
    {
        if field.name() != Some("file") && field.file_name().is_none() {
            continue;
        }
        let mut bytes = bytes::BytesMut::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| upload_error(e.status(), e.body_text()))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_UPLOAD_BYTES {
                return Err(crate::media::ImageError::TooLarge { bytes: bytes.len() }.into());
            }
        }
        return Ok(bytes.freeze());
    }
    Err(ApiError::bad_request(
        "send the image as a multipart/form-data field named `file`",
    ))
}

fn upload_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        crate::media::ImageError::TooLarge {
            bytes: MAX_UPLOAD_BYTES + 1,
        }
        .into()
    } else {
        ApiError::bad_request(format!("the upload could not be read: {text}"))
    }
}

/// Uploads an image (JPEG, PNG, GIF or WebP, at most 10 MB and 40 megapixels) as the multipart field
/// `file`. It is stored as WebP in three sizes; attach it with its `id` to products (sellers) or the
/// site's logo and banner (admins).
#[utoipa::path(post, path = "/api/seller/media", tag = "seller",
    request_body(content_type = "multipart/form-data", description = "a `file` field holding the image"),
    responses((status = 201, body = UploadedImage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "A seller without a shop"),
              (status = 413, body = ErrorBody, description = "Over 10 MB"),
              (status = 415, body = ErrorBody, description = "Not a JPEG, PNG, GIF or WebP image"),
              (status = 422, body = ErrorBody, description = "Too many pixels (a decompression bomb), or damaged")))]
pub(super) async fn upload(
    State(app): State<AppState>,
    uploader: Uploader,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<UploadedImage>), ApiError> {
    let shop = match (uploader.principal.account.role, uploader.shop) {
        (Role::Seller, None) => {
            return Err(ApiError::Conflict(
                "open your shop first: POST /api/seller/shop".into(),
            ));
        }
        (Role::Seller, shop) => shop,
        _ => None,
    };
    let owner = UploadOwner {
        actor: uploader.principal.actor(),
        account: uploader.principal.account.id,
        shop,
    };
    store(&app, owner, multipart).await
}

/// Stores the image in a multipart upload's `file` field for `owner`.
pub(crate) async fn store(
    app: &AppState,
    owner: UploadOwner,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<UploadedImage>), ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "send the image as multipart/form-data with a `file` field ({e})"
        ))
    })?;
    let bytes = file_field(&mut multipart).await?;
    let media = crate::media::upload(app, owner, bytes).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadedImage {
            id: media.id.0,
            url: crate::media::url(media.id, Variant::Card),
            variants: ImageView::of(media.id),
            width: media.width,
            height: media.height,
        }),
    ))
}

/// Deletes one of your images and its files. Refused (409, naming them) while a product, your shop
/// profile or the site uses it.
#[utoipa::path(delete, path = "/api/seller/media/{id}", tag = "seller", params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete(
    State(app): State<AppState>,
    uploader: Uploader,
    Path(id): Path<uuid::Uuid>,
) -> Result<StatusCode, ApiError> {
    crate::media::delete(&app, uploader.principal.actor(), MediaId(id), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One stored variant: `/media/{id}/thumb.webp`, `card.webp` or `zoom.webp`. Variants never change
/// (a new image gets a new id), so they are cached for a year and revalidated by ETag.
pub async fn serve(
    State(app): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (Ok(id), Some(variant)) = (id.parse::<MediaId>(), Variant::from_file_name(&file)) else {
        return (StatusCode::NOT_FOUND, "no such image").into_response();
    };
    if !app.state().media.contains_key(&id) {
        return (StatusCode::NOT_FOUND, "no such image").into_response();
    }
    let etag = format!("\"{id}-{}\"", variant.name());
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    match app.media.get(id, variant).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/webp")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
                (
                    header::ETAG,
                    HeaderValue::from_str(&etag).expect("an ETag of a UUID is a valid header"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such image").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
