//! `/api/conversations`: chat between shoppers and shops over REST. The live side (messages as
//! they arrive, typing, presence) is the socket at `/ws`; both read the same state.

use crate::app::AppState;
use crate::auth::{CurrentUser, Shopper};
use crate::chat::{self, ConversationList, ConversationView, History, MessageView};
use crate::error::{ApiError, ErrorBody};
use crate::media::UploadOwner;
use crate::routes::media::UploadedImage;
use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use domain::{ConversationId, MediaId, Role, ShopId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
pub(crate) struct StartConversation {
    shop_id: uuid::Uuid,
}

/// Opens the conversation with a shop, or returns the one there is (201 when new).
#[utoipa::path(post, path = "/api/conversations", tag = "chat", request_body = StartConversation,
    responses((status = 201, body = ConversationView), (status = 200, body = ConversationView),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn start(
    State(app): State<AppState>,
    Shopper(shopper): Shopper,
    Json(body): Json<StartConversation>,
) -> Result<(StatusCode, Json<ConversationView>), ApiError> {
    let (id, started) = chat::start(&app, &shopper, ShopId(body.shop_id)).await?;
    let state = app.state();
    let (thread, side) = chat::participant(&state, id, shopper.account.id)?;
    let view = chat::view(&app, &state, thread, side).await;
    let status = if started {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// The signed-in account's conversations (as a shopper, and for its shop), most recently active
/// first, each with its last message, unread count and the other side's presence.
#[utoipa::path(get, path = "/api/conversations", tag = "chat",
    responses((status = 200, body = ConversationList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn list(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<ConversationList>, ApiError> {
    chatter(&user)?;
    Ok(Json(chat::list(&app, user.account.id).await))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Messages before this position (the `next_before` of the previous page); the newest page
    /// when absent.
    before: Option<u64>,
    /// How many (default 30, at most 100).
    limit: Option<usize>,
}

/// A page of a conversation's messages, oldest first. Reading the newest page marks the
/// conversation read for the reader's side.
#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "chat",
    params(("id" = uuid::Uuid, Path), HistoryQuery),
    responses((status = 200, body = History), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn history(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<uuid::Uuid>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    let id = ConversationId(id);
    let limit = query.limit.unwrap_or(chat::PAGE).clamp(1, chat::MAX_PAGE);
    if query.before.is_none() {
        chat::read_unread(&app, &user, id).await?;
    }
    let state = app.state();
    let (thread, side) = chat::participant(&state, id, user.account.id)?;
    Ok(Json(
        chat::history(&app, &state, thread, side, query.before, limit).await,
    ))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewMessage {
    #[serde(default)]
    text: String,
    /// An image uploaded with `POST /api/conversations/{id}/images`.
    #[serde(default)]
    image: Option<uuid::Uuid>,
    /// A client-chosen id, so a retried send is stored once.
    #[serde(default)]
    id: Option<uuid::Uuid>,
}

/// Sends a message (the socket's `send` frame does the same). 429 past 20 messages in 10 s.
#[utoipa::path(post, path = "/api/conversations/{id}/messages", tag = "chat",
    params(("id" = uuid::Uuid, Path)), request_body = NewMessage,
    responses((status = 201, body = MessageView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn send(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<uuid::Uuid>,
    Json(body): Json<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let image = body.image.map(MediaId);
    let message = chat::send(&app, &user, ConversationId(id), body.text, image, body.id).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ReadUpTo {
    /// A message position; the newest message when absent.
    #[serde(default)]
    upto: Option<u64>,
}

/// Marks the conversation read up to a position, for the reader's side on every device.
#[utoipa::path(post, path = "/api/conversations/{id}/read", tag = "chat",
    params(("id" = uuid::Uuid, Path)), request_body = ReadUpTo,
    responses((status = 200, body = ConversationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn read(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<uuid::Uuid>,
    Json(body): Json<ReadUpTo>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = ConversationId(id);
    chat::read(&app, &user, id, body.upto).await?;
    let state = app.state();
    let (thread, side) = chat::participant(&state, id, user.account.id)?;
    Ok(Json(chat::view(&app, &state, thread, side).await))
}

/// Uploads an image to attach to a message in this conversation (multipart field `file`; JPEG,
/// PNG, GIF or WebP up to 10 MB). Send it with the message's `image`.
#[utoipa::path(post, path = "/api/conversations/{id}/images", tag = "chat",
    params(("id" = uuid::Uuid, Path)),
    request_body(content_type = "multipart/form-data", description = "a `file` field holding the image"),
    responses((status = 201, body = UploadedImage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub(super) async fn upload_image(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<uuid::Uuid>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<UploadedImage>), ApiError> {
    let state = app.state();
    let (_, side) = chat::participant(&state, ConversationId(id), user.account.id)?;
    let shop = match side {
        domain::Side::Shop => state.shop_of(user.account.id).map(|s| s.id),
        domain::Side::Shopper => None,
    };
    let owner = UploadOwner {
        actor: user.actor(),
        account: user.account.id,
        shop,
    };
    crate::routes::media::store(&app, owner, multipart).await
}

/// Chat is for shoppers and sellers.
fn chatter(user: &crate::auth::Principal) -> Result<(), ApiError> {
    match user.account.role {
        Role::Shopper | Role::Seller => Ok(()),
        _ => Err(ApiError::Forbidden(
            "only shoppers and sellers have conversations".into(),
        )),
    }
}
