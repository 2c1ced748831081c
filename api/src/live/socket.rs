//! `GET /ws`: one authenticated WebSocket per browser tab.
//!
//! The socket authenticates like any request (the access cookie, or a bearer token for other
//! clients) and refuses a browser page from another origin. It then carries, as JSON text frames:
//! chat messages and read marks of the account's conversations, typing, presence of the people
//! it talks with, its notifications and, for admins who ask, the live log stream. The client
//! sends messages, read marks, typing and `ping`s on the same socket.
//!
//! **Exactly once across reconnects.** Every chat event has a position in the chat stream. A
//! client reconnects with `?since=<the last position it saw>`; the socket subscribes to the hub
//! first, then sends what the state holds after `since`, then forwards live events newer than the
//! last one sent. Events already sent from the state are skipped when the hub delivers them, and a
//! socket that falls behind the hub resynchronizes from the state the same way.

use super::Typing;
use super::presence;
use crate::app::AppState;
use crate::auth::Principal;
use crate::chat::{self, MessageView};
use crate::error::ApiError;
use crate::routes::notifications::NotificationView;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::Utc;
use domain::{ChatUpdate, ConversationId, Event, LogLine, MediaId, Role, Side};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

/// How often the server pings and refreshes presence.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// A socket the client has not answered for this long is closed.
const SILENCE: Duration = Duration::from_secs(60);
/// Typing signals a socket forwards per conversation: one per this interval.
const TYPING_EVERY: Duration = Duration::from_millis(1500);
/// The largest frame a client may send.
const MAX_FRAME: usize = 16 * 1024;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Connect {
    /// The last chat position this client saw: what came after is sent first, exactly once.
    since: Option<u64>,
}

/// What the client sends.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Send {
        /// Echoed in the `sent` or `error` answer.
        #[serde(default, rename = "ref")]
        reference: Option<String>,
        conversation: ConversationId,
        #[serde(default)]
        text: String,
        #[serde(default)]
        image: Option<MediaId>,
        /// A client-chosen message id (UUID), so a retried send is not stored twice.
        #[serde(default)]
        id: Option<uuid::Uuid>,
    },
    Read {
        conversation: ConversationId,
        #[serde(default)]
        upto: Option<u64>,
    },
    Typing {
        conversation: ConversationId,
    },
    /// Admins: start (`true`) or stop following the live log stream.
    Logs {
        follow: bool,
    },
    Ping,
}

#[derive(Serialize)]
struct Unread {
    conversation: uuid::Uuid,
    /// Unread in this conversation.
    count: usize,
    /// Unread over all conversations.
    total: usize,
}

/// What the server sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Hello {
        account: uuid::Uuid,
        /// The chat position this socket has delivered up to.
        position: u64,
        unread_chat: usize,
        unread_notifications: usize,
        heartbeat_seconds: u64,
    },
    Message {
        position: u64,
        message: MessageView,
        unread: Unread,
    },
    Read {
        position: u64,
        conversation: uuid::Uuid,
        side: Side,
        upto: u64,
        unread: Unread,
    },
    Sent {
        #[serde(rename = "ref")]
        reference: Option<String>,
        message: MessageView,
    },
    Error {
        #[serde(rename = "ref")]
        reference: Option<String>,
        code: &'static str,
        message: String,
    },
    Typing {
        conversation: uuid::Uuid,
        side: Side,
    },
    Presence {
        conversation: uuid::Uuid,
        online: bool,
    },
    Notification {
        notification: NotificationView,
        unread_notifications: usize,
    },
    NotificationsRead {
        unread_notifications: usize,
    },
    /// Whether this socket now follows the live log stream.
    Following {
        logs: bool,
    },
    Log {
        line: &'a LogLine,
    },
    Pong,
}

/// Opens the live socket (see the module documentation for the protocol).
#[utoipa::path(get, path = "/ws", tag = "chat", params(Connect),
    responses((status = 101, description = "Switching to the WebSocket protocol"),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn connect(
    State(app): State<AppState>,
    Query(connect): Query<Connect>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    parts: Parts,
) -> Result<Response, ApiError> {
    // Who asks comes first: a stranger learns nothing, not even whether this is a socket.
    let principal =
        crate::auth::authenticate(&app, &parts, crate::auth::CsrfPolicy::CheckedByCaller)?;
    same_origin(&parts.headers)?;
    let upgrade =
        upgrade.map_err(|e| ApiError::bad_request(format!("open /ws as a WebSocket: {e}")))?;
    Ok(upgrade
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| run(app, principal, connect.since, socket)))
}

/// A browser always says where the page that opens a socket comes from; a page from another
/// site must not ride on the visitor's cookie (cross-site WebSocket hijacking). Clients that are
/// not browsers send no `Origin` and authenticate with a bearer token.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get("origin") else {
        return Ok(());
    };
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    match (origin_host, host) {
        (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(ApiError::Forbidden(
            "this socket may only be opened from the marketplace's own pages".into(),
        )),
    }
}

struct Session {
    app: AppState,
    principal: Principal,
    /// The last chat position sent.
    delivered: u64,
    /// The live log stream, while an admin follows it.
    logs: Option<tokio::sync::broadcast::Receiver<std::sync::Arc<LogLine>>>,
    last_typing: std::collections::HashMap<ConversationId, Instant>,
}

async fn run(app: AppState, principal: Principal, since: Option<u64>, mut socket: WebSocket) {
    let account = principal.account.id;
    // Joining comes before reading the state for what was missed (see the module documentation).
    let mut joined = app.live.join(account, principal.account.role);
    if joined.first {
        app.live.publish_presence(&app.state(), account, true);
    }
    if let Err(e) = presence::refresh(app.kv.as_ref(), account).await {
        tracing::warn!(error = %e, "presence could not be recorded");
    }
    let mut session = Session {
        app: app.clone(),
        principal,
        delivered: 0,
        logs: None,
        last_typing: Default::default(),
    };
    if let Err(e) = session.serve(&mut socket, &mut joined, since).await {
        tracing::debug!(error = %e, "socket closed");
    }
    if joined.leave() {
        if let Err(e) = presence::leave(app.kv.as_ref(), account, Utc::now()).await {
            tracing::warn!(error = %e, "presence could not be cleared");
        }
        app.live.publish_presence(&app.state(), account, false);
    }
}

type Closed = axum::Error;

impl Session {
    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        joined: &mut super::Joined,
        since: Option<u64>,
    ) -> Result<(), Closed> {
        let state = self.app.state();
        let account = self.principal.account.id;
        self.delivered = state.chat_position;
        let hello = ServerFrame::Hello {
            account: account.0,
            position: since
                .unwrap_or(state.chat_position)
                .min(state.chat_position),
            unread_chat: state.unread_chat(account),
            unread_notifications: state.unread_notifications(account),
            heartbeat_seconds: HEARTBEAT.as_secs(),
        };
        send(socket, &hello).await?;
        if let Some(since) = since {
            self.catch_up(socket, since).await?;
        }
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        let mut heard = Instant::now();
        let cancel = self.app.cancel.clone();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    let frame = CloseFrame { code: 1012, reason: Utf8Bytes::from_static("the service is restarting") };
                    let _ = socket.send(Frame::Close(Some(frame))).await;
                    return Ok(());
                }
                frame = socket.recv() => {
                    let Some(frame) = frame else { return Ok(()) };
                    heard = Instant::now();
                    match frame? {
                        Frame::Text(text) => self.handle(socket, &text).await?,
                        Frame::Close(_) => return Ok(()),
                        _ => {}
                    }
                }
                push = joined.rx.recv() => {
                    let Some(push) = push else { return Ok(()) };
                    self.forward(socket, push).await?;
                    // Pushes were dropped while the queue was full: what was missed is in the state.
                    if joined.lagged.swap(false, std::sync::atomic::Ordering::AcqRel) {
                        self.catch_up(socket, self.delivered).await?;
                    }
                }
                line = next_line(&mut self.logs) => match line {
                    Ok(line) => send(socket, &ServerFrame::Log { line: &line }).await?,
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::debug!(skipped, "a log follower fell behind");
                    }
                    Err(RecvError::Closed) => self.logs = None,
                },
                _ = heartbeat.tick() => {
                    if heard.elapsed() > SILENCE {
                        let frame = CloseFrame { code: 1001, reason: Utf8Bytes::from_static("no heartbeat") };
                        let _ = socket.send(Frame::Close(Some(frame))).await;
                        return Ok(());
                    }
                    socket.send(Frame::Ping(Default::default())).await?;
                    if let Err(e) = presence::refresh(self.app.kv.as_ref(), self.principal.account.id).await {
                        tracing::warn!(error = %e, "presence could not be refreshed");
                    }
                }
            }
        }
    }

    /// Sends everything in the account's conversations after `after`, from the state.
    async fn catch_up(&mut self, socket: &mut WebSocket, after: u64) -> Result<(), Closed> {
        let state = self.app.state();
        for update in state.chat_since(self.principal.account.id, after) {
            self.send_update(socket, &state, &update).await?;
        }
        self.delivered = self.delivered.max(state.chat_position);
        Ok(())
    }

    async fn send_update(
        &mut self,
        socket: &mut WebSocket,
        state: &domain::State,
        update: &ChatUpdate,
    ) -> Result<(), Closed> {
        let account = self.principal.account.id;
        let conversation = update.conversation();
        let Some(thread) = state.conversations.get(&conversation) else {
            return Ok(());
        };
        let Some(my_side) = state.side_in(thread, account) else {
            return Ok(());
        };
        let unread = Unread {
            conversation: conversation.0,
            count: thread.unread(my_side),
            total: state.unread_chat(account),
        };
        let position = update.position();
        let frame = match update {
            ChatUpdate::Message(m) => ServerFrame::Message {
                position,
                message: MessageView::of(m),
                unread,
            },
            ChatUpdate::Read { side, mark, .. } => ServerFrame::Read {
                position,
                conversation: conversation.0,
                side: *side,
                upto: mark.upto,
                unread,
            },
        };
        send(socket, &frame).await?;
        self.delivered = self.delivered.max(position);
        Ok(())
    }

    /// Forwards what the hub queued for this account (chat not sent yet, notifications, typing,
    /// presence).
    async fn forward(&mut self, socket: &mut WebSocket, push: super::Push) -> Result<(), Closed> {
        let event = match push {
            super::Push::Typing(typing) => {
                let frame = ServerFrame::Typing {
                    conversation: typing.conversation.0,
                    side: typing.side,
                };
                return send(socket, &frame).await;
            }
            super::Push::Presence {
                conversation,
                online,
            } => {
                let frame = ServerFrame::Presence {
                    conversation: conversation.0,
                    online,
                };
                return send(socket, &frame).await;
            }
            super::Push::Event(event) => event,
        };
        let state = self.app.state();
        let account = self.principal.account.id;
        let update = match &*event {
            Event::NotificationCreated(n) => {
                let frame = ServerFrame::Notification {
                    notification: NotificationView::new(n, false),
                    unread_notifications: state.unread_notifications(account),
                };
                return send(socket, &frame).await;
            }
            Event::NotificationsRead { .. } => {
                let frame = ServerFrame::NotificationsRead {
                    unread_notifications: state.unread_notifications(account),
                };
                return send(socket, &frame).await;
            }
            other => match ChatUpdate::of(other) {
                Some(update) => update,
                None => return Ok(()),
            },
        };
        if update.position() > self.delivered {
            self.send_update(socket, &state, &update).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), Closed> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                let error = ServerFrame::Error {
                    reference: None,
                    code: "bad_frame",
                    message: format!("not a frame this socket understands: {e}"),
                };
                return send(socket, &error).await;
            }
        };
        match frame {
            ClientFrame::Ping => send(socket, &ServerFrame::Pong).await,
            ClientFrame::Send {
                reference,
                conversation,
                text,
                image,
                id,
            } => {
                let answer =
                    match chat::send(&self.app, &self.principal, conversation, text, image, id)
                        .await
                    {
                        Ok(message) => ServerFrame::Sent { reference, message },
                        Err(e) => error_frame(reference, e),
                    };
                send(socket, &answer).await
            }
            ClientFrame::Read { conversation, upto } => {
                match chat::read(&self.app, &self.principal, conversation, upto).await {
                    Ok(()) => Ok(()),
                    Err(e) => send(socket, &error_frame(None, e)).await,
                }
            }
            ClientFrame::Typing { conversation } => {
                let state = self.app.state();
                let account = self.principal.account.id;
                let side = match chat::participant(&state, conversation, account) {
                    Ok((_, side)) => side,
                    Err(e) => return send(socket, &error_frame(None, e)).await,
                };
                let last = self
                    .last_typing
                    .entry(conversation)
                    .or_insert(Instant::now() - TYPING_EVERY);
                if last.elapsed() >= TYPING_EVERY {
                    *last = Instant::now();
                    let typing = Typing {
                        conversation,
                        side,
                        author: account,
                    };
                    self.app.live.publish_typing(&state, typing);
                }
                Ok(())
            }
            ClientFrame::Logs { follow } => {
                if follow && self.principal.account.role != Role::Admin {
                    let error = ServerFrame::Error {
                        reference: None,
                        code: "forbidden",
                        message: "only admins follow the live log".into(),
                    };
                    return send(socket, &error).await;
                }
                // Lines from now on, not those written before.
                self.logs = follow.then(|| self.app.live.follow_logs());
                send(socket, &ServerFrame::Following { logs: follow }).await
            }
        }
    }
}

fn error_frame(reference: Option<String>, error: ApiError) -> ServerFrame<'static> {
    ServerFrame::Error {
        reference,
        code: error.code(),
        message: error.to_string(),
    }
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame<'_>) -> Result<(), Closed> {
    let text = serde_json::to_string(frame).expect("frames always serialize");
    socket.send(Frame::Text(text.into())).await
}

/// The next line for a follower; never ready for a socket that does not follow.
async fn next_line(
    logs: &mut Option<tokio::sync::broadcast::Receiver<std::sync::Arc<LogLine>>>,
) -> Result<std::sync::Arc<LogLine>, RecvError> {
    match logs {
        Some(logs) => logs.recv().await,
        None => std::future::pending().await,
    }
}
