//! Chat between shoppers and shops: the views the REST routes and the socket share, and sending
//! with its per-sender rate limit. The conversations themselves live in the state
//! (`domain::chat`); messages travel through the command path to the `chat` topic.

use crate::app::AppState;
use crate::auth::Principal;
use crate::auth::limits::{self, Limit};
use crate::error::ApiError;
use crate::live::presence::{self, Presence};
use crate::views::{ImageView, ShopRef};
use chrono::{DateTime, Utc};
use domain::{
    AccountId, ChatCommand, Command, ConversationId, Event, MediaId, Message, MessageId, Side,
    State, Thread,
};
use serde::Serialize;
use utoipa::ToSchema;

/// Messages one account may send: 20 per 10 seconds (a burst of quick lines, not a flood).
pub const DEFAULT_LIMIT: Limit = Limit::new(20, 10);

/// Messages per history page, by default and at most.
pub const PAGE: usize = 30;
pub const MAX_PAGE: usize = 100;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: uuid::Uuid,
    pub conversation: uuid::Uuid,
    /// The message's position in the chat stream: order, paging cursor and reconnect point.
    pub position: u64,
    /// Who wrote it: `shopper` or `shop`.
    #[schema(value_type = String)]
    pub side: Side,
    pub author: uuid::Uuid,
    pub text: String,
    pub image: Option<ImageView>,
    pub at: DateTime<Utc>,
}

impl MessageView {
    pub fn of(m: &Message) -> MessageView {
        MessageView {
            id: m.id.0,
            conversation: m.conversation.0,
            position: m.position,
            side: m.side,
            author: m.author.0,
            text: m.text.clone(),
            image: m.image.map(ImageView::of),
            at: m.at,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Party {
    pub name: String,
    pub presence: Presence,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: uuid::Uuid,
    pub shop: ShopRef,
    pub shopper: uuid::Uuid,
    /// The side the viewer speaks for: `shopper` or `shop`.
    #[schema(value_type = String)]
    pub side: Side,
    /// The other side: the shop (its owner's presence) or the shopper.
    pub with: Party,
    pub last_message: Option<MessageView>,
    /// Messages from the other side the viewer has not read.
    pub unread: usize,
    /// Up to which position the other side has read (for "seen" marks).
    pub read_by_other: u64,
    pub started_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct History {
    pub conversation: ConversationView,
    /// Oldest first.
    pub items: Vec<MessageView>,
    /// Pass as `before` for the page before this one; absent on the first page.
    pub next_before: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    /// Unread messages over all conversations: the inbox badge.
    pub unread: usize,
    pub items: Vec<ConversationView>,
}

/// The account that answers for the other side of `thread`, seen from `side`.
pub fn counterpart(state: &State, thread: &Thread, side: Side) -> Option<AccountId> {
    match side {
        Side::Shopper => state
            .shops
            .get(&thread.conversation.shop)
            .and_then(|s| s.owner),
        Side::Shop => Some(thread.conversation.shopper),
    }
}

pub async fn view(app: &AppState, state: &State, thread: &Thread, side: Side) -> ConversationView {
    let c = &thread.conversation;
    let shop = state.shops.get(&c.shop);
    let name = match side {
        Side::Shopper => shop.map_or_else(|| "A closed shop".into(), |s| s.name.clone()),
        Side::Shop => state
            .accounts
            .get(&c.shopper)
            .map_or_else(|| "A former shopper".into(), |a| a.name.clone()),
    };
    let presence = match counterpart(state, thread, side) {
        Some(account) => presence::of(app.kv.as_ref(), account)
            .await
            .unwrap_or(Presence {
                online: false,
                last_seen: None,
            }),
        None => Presence {
            online: false,
            last_seen: None,
        },
    };
    ConversationView {
        id: c.id.0,
        shop: ShopRef {
            id: c.shop.0,
            name: shop.map_or_else(|| "A closed shop".into(), |s| s.name.clone()),
            slug: shop.map(|s| s.slug.clone()).unwrap_or_default(),
        },
        shopper: c.shopper.0,
        side,
        with: Party { name, presence },
        last_message: thread.last_message().map(MessageView::of),
        unread: thread.unread(side),
        read_by_other: thread.read_mark(side.other()).upto,
        started_at: c.started_at,
    }
}

/// Every conversation of `account`, most recently active first, with the unread total.
pub async fn list(app: &AppState, account: AccountId) -> ConversationList {
    let state = app.state();
    let mut items = Vec::new();
    for (thread, side) in state.conversations_of(account) {
        items.push(view(app, &state, thread, side).await);
    }
    ConversationList {
        unread: items.iter().map(|c| c.unread).sum(),
        items,
    }
}

/// The thread and the viewer's side; 404 for strangers (they learn nothing, not even existence).
pub fn participant(
    state: &State,
    id: ConversationId,
    account: AccountId,
) -> Result<(&Thread, Side), ApiError> {
    state
        .conversations
        .get(&id)
        .and_then(|t| state.side_in(t, account).map(|side| (t, side)))
        .ok_or_else(|| ApiError::NotFound(format!("no conversation {id}")))
}

/// Opens the conversation between `shopper` and `shop`, or finds the one there is; true when new.
pub async fn start(
    app: &AppState,
    shopper: &Principal,
    shop: domain::ShopId,
) -> Result<(ConversationId, bool), ApiError> {
    let command = Command::Chat(ChatCommand::Start {
        id: ConversationId(uuid::Uuid::now_v7()),
        shop,
    });
    let started = !app.execute(shopper.actor(), command).await?.is_empty();
    let id = app
        .state()
        .conversation_between(shopper.account.id, shop)
        .map(|t| t.conversation.id)
        .ok_or_else(|| ApiError::Unavailable("the conversation was not recorded".into()))?;
    if started {
        tracing::info!(conversation = %id, shop = %shop, "conversation started");
    }
    Ok((id, started))
}

/// Sends a message, once the sender is within its rate limit.
pub async fn send(
    app: &AppState,
    sender: &Principal,
    conversation: ConversationId,
    text: String,
    image: Option<MediaId>,
    id: Option<uuid::Uuid>,
) -> Result<MessageView, ApiError> {
    limits::check(
        app.kv.as_ref(),
        "chat",
        &sender.account.id.to_string(),
        app.config.chat_limit,
    )
    .await?;
    let command = Command::Chat(ChatCommand::Send {
        conversation,
        id: MessageId(id.unwrap_or_else(uuid::Uuid::now_v7)),
        text,
        image,
    });
    let events = app.execute(sender.actor(), command).await?;
    events
        .iter()
        .find_map(|e| match e {
            Event::MessageSent(m) => Some(MessageView::of(m)),
            _ => None,
        })
        .ok_or_else(|| ApiError::Unavailable("the message was not recorded".into()))
}

/// A page of `thread`'s messages before `before` (the newest when `None`), seen from `side`.
pub async fn history(
    app: &AppState,
    state: &State,
    thread: &Thread,
    side: Side,
    before: Option<u64>,
    limit: usize,
) -> History {
    let page = thread.page(before, limit);
    History {
        conversation: view(app, state, thread, side).await,
        items: page.messages.into_iter().map(MessageView::of).collect(),
        next_before: page.next_before,
    }
}

/// Marks `conversation` read for `reader` when it has anything unread (opening it reads it).
pub async fn read_unread(
    app: &AppState,
    reader: &Principal,
    conversation: ConversationId,
) -> Result<(), ApiError> {
    let state = app.state();
    let (thread, side) = participant(&state, conversation, reader.account.id)?;
    if thread.unread(side) > 0 {
        read(app, reader, conversation, None).await?;
    }
    Ok(())
}

/// Marks `conversation` read for `reader` up to `upto` (the newest message when `None`).
pub async fn read(
    app: &AppState,
    reader: &Principal,
    conversation: ConversationId,
    upto: Option<u64>,
) -> Result<(), ApiError> {
    let command = Command::Chat(ChatCommand::Read { conversation, upto });
    app.execute(reader.actor(), command).await.map(|_| ())
}
