//! What is pushed to browsers as it happens (DESIGN.md §3, step 4): chat messages and read marks,
//! notifications, typing, presence and, for admins, log lines. One [`Live`] hub per service: the
//! command path publishes each committed batch's chat and notification events here *after* the
//! state holds them, so a socket that reads the state for what it missed and then follows the hub
//! neither skips nor repeats anything (see [`socket`]).

pub mod presence;
pub mod socket;

use domain::{AccountId, ConversationId, Event, LogLine, Side};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many batches, typing signals and log lines a slow socket may fall behind before it
/// resynchronizes from the state (chat) or skips (typing, logs).
const BACKLOG: usize = 4096;

/// Someone typing in a conversation (never stored: it only matters while it happens).
#[derive(Clone, Copy, Debug)]
pub struct Typing {
    pub conversation: ConversationId,
    pub side: Side,
    pub author: AccountId,
}

/// An account came online or went offline on this service.
#[derive(Clone, Copy, Debug)]
pub struct PresenceChange {
    pub account: AccountId,
    pub online: bool,
}

pub struct Live {
    committed: broadcast::Sender<Arc<Vec<Event>>>,
    typing: broadcast::Sender<Typing>,
    presence: broadcast::Sender<PresenceChange>,
    logs: broadcast::Sender<Arc<LogLine>>,
    /// Open sockets per account on this service.
    pub(crate) connections: presence::Connections,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            committed: broadcast::channel(BACKLOG).0,
            typing: broadcast::channel(BACKLOG).0,
            presence: broadcast::channel(BACKLOG).0,
            logs: broadcast::channel(BACKLOG).0,
            connections: Default::default(),
        }
    }
}

impl Live {
    /// Whether subscribers care about `event`: chat and notifications.
    pub fn pushed(event: &Event) -> bool {
        event.is_chat() || event.is_notification()
    }

    /// Called by the command path once a batch is durable and the state holds it.
    pub(crate) fn publish_committed(&self, events: Vec<Event>) {
        if !events.is_empty() {
            let _ = self.committed.send(Arc::new(events));
        }
    }

    pub(crate) fn publish_typing(&self, typing: Typing) {
        let _ = self.typing.send(typing);
    }

    pub(crate) fn publish_presence(&self, change: PresenceChange) {
        let _ = self.presence.send(change);
    }

    /// Called by the log shipper once a line is in the log.
    pub(crate) fn publish_log(&self, line: Arc<LogLine>) {
        let _ = self.logs.send(line);
    }

    pub(crate) fn subscribe(&self) -> Subscriptions {
        Subscriptions {
            committed: self.committed.subscribe(),
            typing: self.typing.subscribe(),
            presence: self.presence.subscribe(),
            logs: self.logs.subscribe(),
        }
    }

    /// Open sockets on this service (all accounts).
    pub fn sockets(&self) -> usize {
        self.connections.total()
    }
}

pub(crate) struct Subscriptions {
    pub committed: broadcast::Receiver<Arc<Vec<Event>>>,
    pub typing: broadcast::Receiver<Typing>,
    pub presence: broadcast::Receiver<PresenceChange>,
    pub logs: broadcast::Receiver<Arc<LogLine>>,
}
