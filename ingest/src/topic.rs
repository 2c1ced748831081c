use domain::Event;
use std::fmt;
use std::str::FromStr;

/// The topics of the log (DESIGN.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Domain events: accounts, shops, catalog, orders, … Keyed by aggregate id.
    Commerce,
    /// What people do: views, searches, cart and wishlist adds. Keyed by visitor.
    Activity,
    /// Chat messages and read receipts. Keyed by conversation.
    Chat,
    /// Notifications produced by pipelines. Keyed by receiver.
    Notifications,
    /// Log lines of every component and browser. Keyed by source.
    Logs,
    /// Password hashes (`password.set`). Keyed by account. Never copied to the lake, so no
    /// credential can reach a table, the SQL explorer or an analyst.
    Credentials,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Commerce,
        Topic::Activity,
        Topic::Chat,
        Topic::Notifications,
        Topic::Logs,
        Topic::Credentials,
    ];

    /// The topics the lake sink copies into bronze tables: every topic but `credentials`.
    pub const LAKE: [Topic; 5] = [
        Topic::Commerce,
        Topic::Activity,
        Topic::Chat,
        Topic::Notifications,
        Topic::Logs,
    ];

    /// Whether the lake sink copies this topic.
    pub fn reaches_lake(&self) -> bool {
        Topic::LAKE.contains(self)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Topic::Commerce => "commerce",
            Topic::Activity => "activity",
            Topic::Chat => "chat",
            Topic::Notifications => "notifications",
            Topic::Logs => "logs",
            Topic::Credentials => "credentials",
        }
    }

    /// Which topic a domain event travels on.
    pub fn of(event: &Event) -> Topic {
        if event.as_activity().is_some() {
            Topic::Activity
        } else if event.is_credential() {
            Topic::Credentials
        } else if event.is_notification() {
            Topic::Notifications
        } else if event.is_chat() {
            Topic::Chat
        } else if matches!(event, Event::LogLine(_)) {
            Topic::Logs
        } else {
            Topic::Commerce
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Topic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Topic::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown topic '{s}'"))
    }
}
