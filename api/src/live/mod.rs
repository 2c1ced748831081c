//! What is pushed to browsers as it happens (DESIGN.md §3, step 4): chat messages and read marks,
//! notifications, typing, presence and, for admins, log lines.
//!
//! One [`Live`] hub per service keeps the open sockets by account. The command path hands it each
//! committed batch's chat and notification events *after* the state holds them; the hub works out
//! who each event is for (the conversation's two sides, a notification's recipients) and queues it
//! on those accounts' sockets only, so a message costs the same with 20 or 20,000 sockets open.
//! A socket reads the state for what it missed *after* joining, so between the two it neither
//! skips nor repeats anything (see [`socket`]). A socket that cannot keep up loses its queue, is
//! told so, and catches up from the state.

pub mod presence;
pub mod socket;

use domain::{AccountId, ConversationId, Event, LogLine, Recipient, Role, Side, State};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};

/// Pushes a socket may have queued before it counts as lagging.
const QUEUE: usize = 1024;
/// Log lines a follower may fall behind before it skips.
const LOG_BACKLOG: usize = 4096;

/// Someone typing in a conversation (never stored: it only matters while it happens).
#[derive(Clone, Copy, Debug)]
pub struct Typing {
    pub conversation: ConversationId,
    pub side: Side,
    pub author: AccountId,
}

/// What the hub queues on a socket.
#[derive(Clone, Debug)]
pub(crate) enum Push {
    Event(Arc<Event>),
    Typing(Typing),
    Presence {
        conversation: ConversationId,
        online: bool,
    },
}

struct Entry {
    id: u64,
    role: Role,
    tx: mpsc::Sender<Push>,
    lagged: Arc<AtomicBool>,
}

pub struct Live {
    sockets: Mutex<HashMap<AccountId, Vec<Entry>>>,
    next_id: AtomicU64,
    logs: broadcast::Sender<Arc<LogLine>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            sockets: Default::default(),
            next_id: AtomicU64::new(1),
            logs: broadcast::channel(LOG_BACKLOG).0,
        }
    }
}

/// A socket's place in the hub; leaving is dropping it.
pub(crate) struct Joined {
    live: Arc<Live>,
    account: AccountId,
    id: u64,
    pub rx: mpsc::Receiver<Push>,
    /// Set when a push was dropped because the queue was full.
    pub lagged: Arc<AtomicBool>,
    /// Whether this was the account's first socket here.
    pub first: bool,
}

impl Joined {
    /// Leaves the hub; true when it was the account's last socket.
    pub fn leave(self) -> bool {
        let mut sockets = self.live.sockets.lock().expect("sockets lock");
        let Some(entries) = sockets.get_mut(&self.account) else {
            return false;
        };
        entries.retain(|e| e.id != self.id);
        if entries.is_empty() {
            sockets.remove(&self.account);
            true
        } else {
            false
        }
    }
}

impl Live {
    /// Whether sockets care about `event`: chat and notifications.
    pub fn pushed(event: &Event) -> bool {
        event.is_chat() || event.is_notification()
    }

    pub(crate) fn join(self: &Arc<Self>, account: AccountId, role: Role) -> Joined {
        let (tx, rx) = mpsc::channel(QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sockets = self.sockets.lock().expect("sockets lock");
        let entries = sockets.entry(account).or_default();
        let first = entries.is_empty();
        entries.push(Entry {
            id,
            role,
            tx,
            lagged: lagged.clone(),
        });
        Joined {
            live: self.clone(),
            account,
            id,
            rx,
            lagged,
            first,
        }
    }

    /// Queues `push` on every socket of `accounts` (and of every admin when `admins`).
    fn push_to(&self, accounts: &[AccountId], admins: bool, push: Push) {
        let sockets = self.sockets.lock().expect("sockets lock");
        let deliver = |entry: &Entry| {
            if entry.tx.try_send(push.clone()).is_err() {
                entry.lagged.store(true, Ordering::Release);
            }
        };
        for account in accounts {
            for entry in sockets.get(account).into_iter().flatten() {
                deliver(entry);
            }
        }
        if admins {
            for (account, entries) in sockets.iter() {
                if accounts.contains(account) {
                    continue;
                }
                for entry in entries.iter().filter(|e| e.role == Role::Admin) {
                    deliver(entry);
                }
            }
        }
    }

    /// Called by the command path once a batch is durable and `state` (the new state) holds it.
    pub(crate) fn publish_committed(&self, state: &State, events: Vec<Event>) {
        if self.sockets.lock().expect("sockets lock").is_empty() {
            return;
        }
        for event in events {
            let (accounts, admins) = recipients(state, &event);
            if !accounts.is_empty() || admins {
                self.push_to(&accounts, admins, Push::Event(Arc::new(event)));
            }
        }
    }

    /// Tells the other side of the conversation that someone is typing.
    pub(crate) fn publish_typing(&self, state: &State, typing: Typing) {
        if let Some(thread) = state.conversations.get(&typing.conversation)
            && let Some(other) = crate::chat::counterpart(state, thread, typing.side)
        {
            self.push_to(&[other], false, Push::Typing(typing));
        }
    }

    /// Tells everyone `account` talks with that it came online or went offline.
    pub(crate) fn publish_presence(&self, state: &State, account: AccountId, online: bool) {
        for (thread, side) in state.conversations_of(account) {
            if let Some(other) = crate::chat::counterpart(state, thread, side) {
                let push = Push::Presence {
                    conversation: thread.conversation.id,
                    online,
                };
                self.push_to(&[other], false, push);
            }
        }
    }

    /// Called by the log shipper once a line is in the log.
    pub(crate) fn publish_log(&self, line: Arc<LogLine>) {
        let _ = self.logs.send(line);
    }

    pub(crate) fn follow_logs(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.logs.subscribe()
    }

    /// Open sockets on this service (all accounts).
    pub fn sockets(&self) -> usize {
        self.sockets
            .lock()
            .expect("sockets lock")
            .values()
            .map(Vec::len)
            .sum()
    }
}

/// Who an event is for: accounts, and whether every admin.
fn recipients(state: &State, event: &Event) -> (Vec<AccountId>, bool) {
    let conversation = match event {
        Event::MessageSent(m) => Some(m.conversation),
        Event::ChatRead { conversation, .. } => Some(*conversation),
        _ => None,
    };
    if let Some(id) = conversation {
        let Some(thread) = state.conversations.get(&id) else {
            return (Vec::new(), false);
        };
        let mut accounts = vec![thread.conversation.shopper];
        accounts.extend(crate::chat::counterpart(state, thread, Side::Shopper));
        return (accounts, false);
    }
    match event {
        Event::NotificationCreated(n) => match n.recipient {
            Recipient::Account(id) => (vec![id], false),
            Recipient::Shop(shop) => (
                state
                    .shops
                    .get(&shop)
                    .and_then(|s| s.owner)
                    .into_iter()
                    .collect(),
                false,
            ),
            Recipient::Admins => (Vec::new(), true),
        },
        Event::NotificationsRead { account, .. } => (vec![*account], false),
        _ => (Vec::new(), false),
    }
}
