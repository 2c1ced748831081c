//! Chat between shoppers and shops. A conversation joins one shopper and one shop (whoever owns
//! the shop answers for it); there is at most one per pair. Messages and read marks are events on
//! the `chat` topic, keyed by conversation, folded into the state like everything else.
//!
//! Every chat event carries a **position**: one counter over the whole marketplace, decided by the
//! single writer, so a device that saw everything up to position `p` can ask for exactly what
//! came after (`State::chat_since`) and a replay rebuilds the same positions whatever order the
//! topic's partitions are read in. Unread counts have one source: the messages from the other
//! side after a side's read mark (`State::unread_in`), the same for the REST list, the live badge
//! and every device.

use crate::Result;
use crate::actor::{Actor, Role};
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, ConversationId, MediaId, MessageId, ShopId};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Which side of a conversation someone speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Shopper,
    Shop,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Shopper => Side::Shop,
            Side::Shop => Side::Shopper,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Shopper => 0,
            Side::Shop => 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub shopper: AccountId,
    pub shop: ShopId,
    pub started_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation: ConversationId,
    /// The message's position in the marketplace's chat stream.
    pub position: u64,
    pub side: Side,
    pub author: AccountId,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaId>,
    pub at: DateTime<Utc>,
}

/// A side's read mark: it has read every message up to `upto` (a position).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    pub upto: u64,
    /// The mark's own position in the chat stream (0: never read).
    pub position: u64,
}

/// A conversation as the state keeps it: its messages, oldest first, and each side's read mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub conversation: Conversation,
    pub messages: imbl::Vector<Message>,
    read: [ReadMark; 2],
}

impl Thread {
    pub fn read_mark(&self, side: Side) -> ReadMark {
        self.read[side.index()]
    }

    /// Messages from the other side that `side` has not read yet.
    pub fn unread(&self, side: Side) -> usize {
        let upto = self.read_mark(side).upto;
        self.messages
            .iter()
            .rev()
            .take_while(|m| m.position > upto)
            .filter(|m| m.side != side)
            .count()
    }

    pub fn last_message(&self) -> Option<&Message> {
        self.messages.last()
    }

    /// The position of the newest message or read mark.
    pub fn last_position(&self) -> u64 {
        let marks = self.read.iter().map(|m| m.position);
        marks
            .chain(self.last_message().map(|m| m.position))
            .max()
            .unwrap_or(0)
    }

    /// Up to `limit` messages before position `before` (all when `None`), oldest first.
    pub fn page(&self, before: Option<u64>, limit: usize) -> Page<'_> {
        let end = match before {
            Some(before) => self
                .messages
                .binary_search_by(|m| m.position.cmp(&before))
                .unwrap_or_else(|i| i),
            None => self.messages.len(),
        };
        let start = end.saturating_sub(limit);
        let messages: Vec<&Message> = self.messages.iter().skip(start).take(end - start).collect();
        let next_before = messages.first().filter(|_| start > 0).map(|m| m.position);
        Page {
            messages,
            next_before,
        }
    }
}

/// A page of a conversation's history.
#[derive(Debug)]
pub struct Page<'a> {
    /// Oldest first.
    pub messages: Vec<&'a Message>,
    /// The `before` of the page of older messages; `None` when this page starts the conversation.
    pub next_before: Option<u64>,
}

/// What a device missed, in stream order: messages and read marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatUpdate {
    Message(Message),
    Read {
        conversation: ConversationId,
        side: Side,
        mark: ReadMark,
    },
}

impl ChatUpdate {
    /// The update an event makes, for chat messages and read marks.
    pub fn of(event: &Event) -> Option<ChatUpdate> {
        match event {
            Event::MessageSent(m) => Some(ChatUpdate::Message((**m).clone())),
            Event::ChatRead {
                conversation,
                side,
                upto,
                position,
                ..
            } => Some(ChatUpdate::Read {
                conversation: *conversation,
                side: *side,
                mark: ReadMark {
                    upto: *upto,
                    position: *position,
                },
            }),
            _ => None,
        }
    }

    pub fn conversation(&self) -> ConversationId {
        match self {
            ChatUpdate::Message(m) => m.conversation,
            ChatUpdate::Read { conversation, .. } => *conversation,
        }
    }

    pub fn position(&self) -> u64 {
        match self {
            ChatUpdate::Message(m) => m.position,
            ChatUpdate::Read { mark, .. } => mark.position,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatCommand {
    /// A shopper opens the conversation with a shop (nothing happens if it exists).
    Start { id: ConversationId, shop: ShopId },
    Send {
        conversation: ConversationId,
        id: MessageId,
        text: String,
        image: Option<MediaId>,
    },
    /// The asking side has read up to `upto` (the newest message when `None`).
    Read {
        conversation: ConversationId,
        upto: Option<u64>,
    },
}

impl State {
    /// The conversation between `shopper` and `shop`, if they have one.
    pub fn conversation_between(&self, shopper: AccountId, shop: ShopId) -> Option<&Thread> {
        self.conversation_index
            .get(&(shopper, shop))
            .and_then(|id| self.conversations.get(id))
    }

    /// The side `account` speaks for in `thread`, if it takes part.
    pub fn side_in(&self, thread: &Thread, account: AccountId) -> Option<Side> {
        if thread.conversation.shopper == account {
            Some(Side::Shopper)
        } else if self
            .shops
            .get(&thread.conversation.shop)
            .is_some_and(|s| s.owner == Some(account))
        {
            Some(Side::Shop)
        } else {
            None
        }
    }

    /// The conversations `account` takes part in (as a shopper, and for its shop), each with its
    /// side, most recently active first.
    pub fn conversations_of(&self, account: AccountId) -> Vec<(&Thread, Side)> {
        let as_shopper = self
            .shopper_conversations
            .get(&account)
            .into_iter()
            .flatten()
            .map(|id| (id, Side::Shopper));
        let as_shop = self
            .shop_of(account)
            .and_then(|shop| self.shop_conversations.get(&shop.id))
            .into_iter()
            .flatten()
            .map(|id| (id, Side::Shop));
        let mut all: Vec<(&Thread, Side)> = as_shopper
            .chain(as_shop)
            .filter_map(|(id, side)| self.conversations.get(id).map(|t| (t, side)))
            .collect();
        all.sort_by_key(|(t, _)| std::cmp::Reverse(t.last_position()));
        all
    }

    /// Unread messages over all of `account`'s conversations: the badge.
    pub fn unread_chat(&self, account: AccountId) -> usize {
        self.conversations_of(account)
            .iter()
            .map(|(thread, side)| thread.unread(*side))
            .sum()
    }

    /// Everything in `account`'s conversations after stream position `after`, in stream order.
    pub fn chat_since(&self, account: AccountId, after: u64) -> Vec<ChatUpdate> {
        let mut updates = Vec::new();
        for (thread, _) in self.conversations_of(account) {
            let id = thread.conversation.id;
            let newer = thread
                .messages
                .iter()
                .rev()
                .take_while(|m| m.position > after);
            updates.extend(newer.cloned().map(ChatUpdate::Message));
            for side in [Side::Shopper, Side::Shop] {
                let mark = thread.read_mark(side);
                if mark.position > after {
                    updates.push(ChatUpdate::Read {
                        conversation: id,
                        side,
                        mark,
                    });
                }
            }
        }
        updates.sort_by_key(ChatUpdate::position);
        updates
    }

    pub(crate) fn apply_chat(&mut self, event: &Event) {
        match event {
            Event::ConversationStarted(conversation) => {
                let id = conversation.id;
                self.conversation_index
                    .insert((conversation.shopper, conversation.shop), id);
                self.shopper_conversations
                    .entry(conversation.shopper)
                    .or_default()
                    .insert(id);
                self.shop_conversations
                    .entry(conversation.shop)
                    .or_default()
                    .insert(id);
                self.conversations.insert(
                    id,
                    Thread {
                        conversation: conversation.clone(),
                        messages: imbl::Vector::new(),
                        read: [ReadMark::default(); 2],
                    },
                );
            }
            Event::MessageSent(message) => {
                self.chat_position = self.chat_position.max(message.position);
                if let Some(thread) = self.conversations.get_mut(&message.conversation) {
                    thread.messages.push_back((**message).clone());
                    // Writing is reading: the author has seen everything up to their message.
                    let mark = &mut thread.read[message.side.index()];
                    mark.upto = mark.upto.max(message.position);
                }
            }
            Event::ChatRead {
                conversation,
                side,
                upto,
                position,
                ..
            } => {
                self.chat_position = self.chat_position.max(*position);
                if let Some(thread) = self.conversations.get_mut(conversation) {
                    let mark = &mut thread.read[side.index()];
                    if *upto > mark.upto {
                        mark.upto = *upto;
                    }
                    mark.position = mark.position.max(*position);
                }
            }
            _ => {}
        }
    }
}

/// Text as stored: trimmed, at most [`MAX_MESSAGE_CHARS`], no control characters but line breaks
/// and tabs.
fn message_text(text: &str) -> Result<String> {
    let text = text.trim();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(DomainError::invalid(
            "text",
            format!("at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(DomainError::invalid(
            "text",
            "control characters are not allowed",
        ));
    }
    Ok(text.replace("\r\n", "\n"))
}

fn account_of(ctx: &Context) -> Result<(AccountId, Role)> {
    match ctx.actor {
        Actor::Account { id, role } => Ok((id, role)),
        _ => Err(DomainError::Forbidden("sign in to chat".into())),
    }
}

/// The thread and the asking account's side in it; a stranger is told it does not exist.
fn participant<'s>(
    state: &'s State,
    id: ConversationId,
    account: AccountId,
) -> Result<(&'s Thread, Side)> {
    state
        .conversations
        .get(&id)
        .and_then(|thread| state.side_in(thread, account).map(|side| (thread, side)))
        .ok_or_else(|| DomainError::not_found("conversation", id))
}

pub(crate) fn decide(state: &State, command: &ChatCommand, ctx: &Context) -> Result<Vec<Event>> {
    let (account, role) = account_of(ctx)?;
    let next = state.chat_position + 1;
    match command {
        ChatCommand::Start { id, shop } => {
            if role != Role::Shopper {
                return Err(DomainError::Forbidden(
                    "only shoppers start conversations with shops".into(),
                ));
            }
            let found = state
                .shops
                .get(shop)
                .ok_or_else(|| DomainError::not_found("shop", shop))?;
            if found.owner == Some(account) {
                return Err(DomainError::invalid("shop_id", "this is your own shop"));
            }
            if found.owner.is_none() || found.deletion_requested_at.is_some() {
                return Err(DomainError::Conflict(
                    "this shop is closing and does not take messages".into(),
                ));
            }
            if state.conversation_between(account, *shop).is_some() {
                return Ok(Vec::new());
            }
            if state.conversations.contains_key(id) {
                return Err(DomainError::Conflict(format!(
                    "conversation {id} already exists"
                )));
            }
            Ok(vec![Event::ConversationStarted(Conversation {
                id: *id,
                shopper: account,
                shop: *shop,
                started_at: ctx.at,
            })])
        }
        ChatCommand::Send {
            conversation,
            id,
            text,
            image,
        } => {
            let (thread, side) = participant(state, *conversation, account)?;
            let text = message_text(text)?;
            if text.is_empty() && image.is_none() {
                return Err(DomainError::invalid(
                    "text",
                    "write something or attach an image",
                ));
            }
            if let Some(image) = image {
                let owned = state.media.get(image).is_some_and(|m| m.owner == account);
                if !owned {
                    return Err(DomainError::invalid(
                        "image",
                        format!("image {image} is not one of your uploads"),
                    ));
                }
            }
            let shop_open = state
                .shops
                .get(&thread.conversation.shop)
                .is_some_and(|s| s.deletion_requested_at.is_none());
            if !shop_open {
                return Err(DomainError::Conflict(
                    "this shop has closed and no longer takes messages".into(),
                ));
            }
            if thread.messages.iter().rev().take(64).any(|m| m.id == *id) {
                return Err(DomainError::Conflict(format!(
                    "message {id} was already sent"
                )));
            }
            Ok(vec![Event::MessageSent(Box::new(Message {
                id: *id,
                conversation: *conversation,
                position: next,
                side,
                author: account,
                text,
                image: *image,
                at: ctx.at,
            }))])
        }
        ChatCommand::Read { conversation, upto } => {
            let (thread, side) = participant(state, *conversation, account)?;
            let newest = thread.last_message().map_or(0, |m| m.position);
            let upto = upto.unwrap_or(newest).min(newest);
            if upto <= thread.read_mark(side).upto {
                return Ok(Vec::new());
            }
            Ok(vec![Event::ChatRead {
                conversation: *conversation,
                side,
                reader: account,
                upto,
                position: next,
                at: ctx.at,
            }])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::notification::tests::{account, actor, at, people};
    use uuid::Uuid;

    const SELLER: u128 = 1;
    const SHOPPER: u128 = 2;
    const OTHER_SELLER: u128 = 4;

    fn shop() -> ShopId {
        ShopId(Uuid::from_u128(10))
    }

    fn run(state: &mut State, command: ChatCommand, who: Actor) -> Result<Vec<Event>> {
        let ctx = Context {
            actor: who,
            at: at(30),
        };
        let events = crate::decide(state, &Command::Chat(command), &ctx)?;
        for event in &events {
            state.apply(event);
        }
        Ok(events)
    }

    fn shopper() -> Actor {
        actor(SHOPPER, Role::Shopper)
    }

    fn seller() -> Actor {
        actor(SELLER, Role::Seller)
    }

    fn send(state: &mut State, id: ConversationId, n: u128, who: Actor) -> Result<Vec<Event>> {
        let command = ChatCommand::Send {
            conversation: id,
            id: MessageId(Uuid::from_u128(1000 + n)),
            text: format!("message {n}"),
            image: None,
        };
        run(state, command, who)
    }

    /// The shop's people with one conversation between the shopper and shop 10.
    fn talking() -> (State, ConversationId) {
        let mut state = people();
        let id = ConversationId(Uuid::from_u128(50));
        let start = ChatCommand::Start { id, shop: shop() };
        assert_eq!(run(&mut state, start.clone(), shopper()).unwrap().len(), 1);
        // Starting again changes nothing: there is one conversation per shopper and shop.
        let again = ChatCommand::Start {
            id: ConversationId(Uuid::from_u128(51)),
            shop: shop(),
        };
        assert!(run(&mut state, again, shopper()).unwrap().is_empty());
        assert_eq!(state.conversations.len(), 1);
        (state, id)
    }

    #[test]
    fn only_the_two_sides_take_part() {
        let (mut state, id) = talking();
        send(&mut state, id, 1, shopper()).unwrap();
        send(&mut state, id, 2, seller()).unwrap();
        for stranger in [
            actor(OTHER_SELLER, Role::Seller),
            actor(3, Role::Admin),
            Actor::System,
        ] {
            assert!(send(&mut state, id, 3, stranger).is_err());
            let read = ChatCommand::Read {
                conversation: id,
                upto: None,
            };
            assert!(run(&mut state, read, stranger).is_err());
        }
        // Sellers do not open conversations, nor shoppers with a shop that does not exist.
        let start = |shop| ChatCommand::Start {
            id: ConversationId(Uuid::from_u128(60)),
            shop,
        };
        assert!(run(&mut state, start(shop()), seller()).is_err());
        let nowhere = ShopId(Uuid::from_u128(99));
        assert!(matches!(
            run(&mut state, start(nowhere), shopper()),
            Err(DomainError::NotFound { .. })
        ));
        assert_eq!(state.conversations_of(account(SHOPPER)).len(), 1);
        assert_eq!(state.conversations_of(account(SELLER)).len(), 1);
        assert!(state.conversations_of(account(OTHER_SELLER)).is_empty());
    }

    #[test]
    fn messages_are_checked() {
        let (mut state, id) = talking();
        let text = |text: &str| ChatCommand::Send {
            conversation: id,
            id: MessageId(Uuid::from_u128(7)),
            text: text.into(),
            image: None,
        };
        assert!(run(&mut state, text("   "), shopper()).is_err());
        assert!(run(&mut state, text("bell\u{7}"), shopper()).is_err());
        let long = "é".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(run(&mut state, text(&long), shopper()).is_err());
        let fits = "é".repeat(MAX_MESSAGE_CHARS);
        assert!(run(&mut state, text(&fits), shopper()).is_ok());
        // The same message id twice (a retried send) is refused, not stored twice.
        assert!(run(&mut state, text("again"), shopper()).is_err());
        let someone_elses = ChatCommand::Send {
            conversation: id,
            id: MessageId(Uuid::from_u128(8)),
            text: String::new(),
            image: Some(MediaId(Uuid::from_u128(77))),
        };
        assert!(run(&mut state, someone_elses, shopper()).is_err());
        assert_eq!(state.conversations[&id].messages.len(), 1);
    }

    #[test]
    fn unread_counts_follow_read_marks_and_replies() {
        let (mut state, id) = talking();
        for n in 1..=3 {
            send(&mut state, id, n, shopper()).unwrap();
        }
        let thread = &state.conversations[&id];
        assert_eq!(
            (thread.unread(Side::Shop), thread.unread(Side::Shopper)),
            (3, 0)
        );
        assert_eq!(state.unread_chat(account(SELLER)), 3);
        let second = thread.messages[1].position;
        let read = |upto| ChatCommand::Read {
            conversation: id,
            upto,
        };
        run(&mut state, read(Some(second)), seller()).unwrap();
        assert_eq!(state.unread_chat(account(SELLER)), 1);
        // Reading less than already read changes nothing.
        assert!(run(&mut state, read(Some(1)), seller()).unwrap().is_empty());
        // Answering reads everything before the answer.
        send(&mut state, id, 4, seller()).unwrap();
        assert_eq!(state.unread_chat(account(SELLER)), 0);
        assert_eq!(state.unread_chat(account(SHOPPER)), 1);
        run(&mut state, read(None), shopper()).unwrap();
        assert_eq!(state.unread_chat(account(SHOPPER)), 0);
    }

    #[test]
    fn a_device_gets_exactly_what_came_after_its_position() {
        let (mut state, id) = talking();
        send(&mut state, id, 1, shopper()).unwrap();
        let seen = state.chat_position;
        send(&mut state, id, 2, seller()).unwrap();
        let read = ChatCommand::Read {
            conversation: id,
            upto: None,
        };
        run(&mut state, read, shopper()).unwrap();
        send(&mut state, id, 3, shopper()).unwrap();
        let missed = state.chat_since(account(SHOPPER), seen);
        let positions: Vec<u64> = missed.iter().map(ChatUpdate::position).collect();
        assert_eq!(positions, vec![seen + 1, seen + 2, seen + 3]);
        assert!(matches!(&missed[0], ChatUpdate::Message(m) if m.text == "message 2"));
        assert!(matches!(
            &missed[1],
            ChatUpdate::Read {
                side: Side::Shopper,
                ..
            }
        ));
        assert!(
            state
                .chat_since(account(SHOPPER), state.chat_position)
                .is_empty()
        );
        assert!(state.chat_since(account(OTHER_SELLER), 0).is_empty());
        // History pages go backwards from a position.
        let thread = &state.conversations[&id];
        let page = thread.page(Some(thread.messages[2].position), 1);
        assert_eq!(page.next_before, Some(thread.messages[1].position));
        let before_last: Vec<_> = page.messages.iter().map(|m| m.text.clone()).collect();
        assert_eq!(before_last, vec!["message 2"]);
    }

    #[test]
    fn a_replay_in_another_order_rebuilds_the_same_positions() {
        let (mut state, id) = talking();
        let mut events = Vec::new();
        let other = ConversationId(Uuid::from_u128(52));
        let shopper5 = {
            // A second conversation, with another shopper's events interleaved.
            let register = crate::account::AccountCommand::Register {
                account: crate::account::NewAccount {
                    id: account(5),
                    email: "p5@example.com".into(),
                    name: "P5".into(),
                    role: Role::Shopper,
                    phone: None,
                    country: None,
                },
                password_hash: crate::account::PasswordHash("h".into()),
            };
            let system = Context {
                actor: Actor::System,
                at: at(1),
            };
            for e in crate::decide(&state, &Command::Account(register), &system).unwrap() {
                state.apply(&e);
            }
            actor(5, Role::Shopper)
        };
        let start = ChatCommand::Start {
            id: other,
            shop: shop(),
        };
        events.extend(run(&mut state, start, shopper5).unwrap());
        for n in 0..6 {
            let (conversation, who) = if n % 2 == 0 {
                (id, shopper())
            } else {
                (other, shopper5)
            };
            events.extend(send(&mut state, conversation, n, who).unwrap());
        }
        // Replay the second conversation's events before the first's (another partition first).
        let base = talking().0;
        let mut replayed = base.clone();
        let (theirs, ours): (Vec<_>, Vec<_>) = events.iter().partition(|e| {
            matches!(e, Event::ConversationStarted(c) if c.id == other)
                || matches!(e, Event::MessageSent(m) if m.conversation == other)
        });
        for e in theirs.into_iter().chain(ours) {
            replayed.apply(e);
        }
        assert_eq!(replayed.chat_position, state.chat_position);
        assert_eq!(replayed.conversations, state.conversations);
        assert_eq!(
            replayed.chat_since(account(SELLER), 0),
            state.chat_since(account(SELLER), 0)
        );
    }
}
