//! The inboxes: `/inbox` for shoppers and `/seller/inbox` for sellers — the conversation list and
//! one conversation. Pages render the history; `portal.js` adds what arrives live over the
//! socket (messages, typing, read marks, presence), sends with the JSON API, uploads images and
//! pages back. Without scripts, the form still sends.

use crate::chrome::{Chrome, initials};
use crate::session::{CsrfForm, Portal, Viewer};
use api::chat::{ConversationList, ConversationView, MessageView};
use api::{ApiError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{ConversationId, ShopId};
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    chrome: Chrome,
    list: ConversationList,
    /// `/inbox` or `/seller/inbox`.
    base: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "conversation.html")]
pub struct ConversationPage {
    chrome: Chrome,
    c: ConversationView,
    messages: Vec<MessageView>,
    next_before: Option<u64>,
    base: &'static str,
    with_initials: String,
    error: Option<String>,
    typed: String,
}

impl ConversationPage {
    fn mine(&self, m: &MessageView) -> bool {
        m.side == self.c.side
    }

    fn side(&self) -> &'static str {
        match self.c.side {
            domain::Side::Shopper => "shopper",
            domain::Side::Shop => "shop",
        }
    }
}

/// A few emoji for the composer's picker.
pub const EMOJI: [&str; 24] = [
    "😀", "😂", "😊", "😍", "🤔", "😮", "😢", "🙏", "👍", "👎", "👋", "🙌", "🎉", "❤️", "🔥", "✨",
    "✅", "❌", "📦", "🚚", "💳", "🎁", "⭐", "☕",
];

fn portal_base(portal: Portal) -> &'static str {
    match portal {
        Portal::Seller => "/seller/inbox",
        _ => "/inbox",
    }
}

/// `/inbox` and `/seller/inbox`.
pub async fn list(State(app): State<AppState>, viewer: Viewer, portal: Portal) -> Response {
    let base = portal_base(portal);
    let principal = match viewer.require(&app, portal, base) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let list = api::chat::list(&app, principal.account.id).await;
    InboxPage {
        chrome: Chrome::with(&app.state(), portal.name(), &viewer).in_section("inbox"),
        list,
        base,
    }
    .into_response()
}

/// `/inbox/{id}` and `/seller/inbox/{id}`: opening it reads it.
pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    portal: Portal,
    Path(id): Path<String>,
) -> Response {
    render(&app, &viewer, portal, &id, None, String::new()).await
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    portal: Portal,
    id: &str,
    error: Option<String>,
    typed: String,
) -> Response {
    let base = portal_base(portal);
    let here = format!("{base}/{id}");
    let principal = match viewer.require(app, portal, &here) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let gone = || {
        super::not_found_page(
            app,
            viewer,
            portal.name(),
            "That conversation is not one of yours, or does not exist.",
        )
    };
    let Ok(id) = id.parse::<ConversationId>() else {
        return gone();
    };
    match api::chat::read_unread(app, principal, id).await {
        Err(ApiError::NotFound(_)) => return gone(),
        // Reading is best effort: the page shows the messages either way.
        Err(e) => tracing::warn!(error = %e, "a conversation could not be marked read"),
        Ok(()) => {}
    }
    let state = app.state();
    let Ok((thread, side)) = api::chat::participant(&state, id, principal.account.id) else {
        return gone();
    };
    let history = api::chat::history(app, &state, thread, side, None, api::chat::PAGE).await;
    ConversationPage {
        chrome: Chrome::with(&state, portal.name(), viewer).in_section("inbox"),
        with_initials: initials(&history.conversation.with.name, 2),
        c: history.conversation,
        messages: history.items,
        next_before: history.next_before,
        base,
        error,
        typed,
    }
    .into_response()
}

#[derive(Deserialize, Default)]
pub struct MessageForm {
    #[serde(default)]
    text: String,
}

/// The composer without scripts: sends and shows the conversation again.
pub async fn send(
    State(app): State<AppState>,
    viewer: Viewer,
    portal: Portal,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MessageForm>,
) -> Response {
    let base = portal_base(portal);
    let principal = match viewer.require(&app, portal, base) {
        Ok(p) => p.clone(),
        Err(refused) => return refused,
    };
    let Ok(conversation) = id.parse::<ConversationId>() else {
        return render(&app, &viewer, portal, &id, None, String::new()).await;
    };
    match api::chat::send(
        &app,
        &principal,
        conversation,
        form.text.clone(),
        None,
        None,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("{base}/{id}#composer")).into_response(),
        Err(e) => {
            let message = e.public_message();
            render(&app, &viewer, portal, &id, Some(message), form.text).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct StartForm {
    #[serde(default)]
    shop_id: String,
}

/// "Chat with the seller": opens (or finds) the conversation with the shop and goes there.
pub async fn start(
    State(app): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<StartForm>,
) -> Response {
    let shop = form.shop_id.parse::<ShopId>().ok();
    // A visitor who signs in first comes back to the shop's page, one click from the chat.
    let back = shop
        .and_then(|id| {
            app.state()
                .shops
                .get(&id)
                .map(|s| format!("/shops/{}", s.slug))
        })
        .unwrap_or_else(|| "/inbox".to_string());
    let principal = match viewer.require(&app, Portal::Shop, &back) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let Some(shop) = shop else {
        return super::not_found_page(&app, &viewer, "shop", "There is no such shop.");
    };
    match api::chat::start(&app, principal, shop).await {
        Ok((id, _)) => Redirect::to(&format!("/inbox/{id}")).into_response(),
        Err(ApiError::NotFound(_)) => {
            super::not_found_page(&app, &viewer, "shop", "There is no such shop.")
        }
        Err(e) => super::refused_page(&app, &viewer, Portal::Shop, &super::form_message(&e)),
    }
}
