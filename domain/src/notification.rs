//! Notifications: short messages for people — a seller's new order, a shopper's shipped parcel, a
//! product running low. The notification pipeline (SQL over the lake) writes them; they reach the
//! state through the command path (`Command::Notification(Deliver)`, from the pipeline runner), so
//! they are durable on the `notifications` topic, folded into the state like everything else and
//! pushed live. Each account keeps its own read marks, also as events.
//!
//! A notification is for an account, for a shop (whoever owns it sees it) or for every admin.
//! Its id is decided by the pipeline from the event that caused it, so a pipeline run repeated
//! after a crash delivers nothing twice.

use crate::Result;
use crate::actor::{Actor, Role};
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, ShopId};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Notifications kept in memory per recipient (older ones stay in the lake).
pub const KEPT_PER_RECIPIENT: usize = 200;
const MAX_ID: usize = 200;
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 1000;

/// Who a notification is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Recipient {
    Account(AccountId),
    /// The shop's owner, whoever that is when they look.
    Shop(ShopId),
    /// Every admin; each reads it on their own.
    Admins,
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Account(id) => write!(f, "account:{id}"),
            Recipient::Shop(id) => write!(f, "shop:{id}"),
            Recipient::Admins => f.write_str("admins"),
        }
    }
}

impl FromStr for Recipient {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{s}' is not a recipient (account:<id>, shop:<id> or admins)");
        match s.split_once(':') {
            None if s == "admins" => Ok(Recipient::Admins),
            Some(("account", id)) => id.parse().map(Recipient::Account).map_err(|_| bad()),
            Some(("shop", id)) => id.parse().map(Recipient::Shop).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl From<Recipient> for String {
    fn from(r: Recipient) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for Recipient {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Decided by the pipeline from its cause (e.g. `<event id>:shop`).
    pub id: String,
    pub recipient: Recipient,
    /// `order.new`, `order.status`, `payment.received`, `stock.low`, `shop.followed`, …
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// Where the portal links it to (a path on this site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// When what it tells of happened.
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationCommand {
    /// The pipeline runner delivering what a run produced; ids already delivered are skipped.
    Deliver(Vec<Notification>),
    /// The signed-in account read these.
    Read { ids: Vec<String> },
    /// The signed-in account read everything it has.
    ReadAll,
}

impl State {
    /// The recipients whose notifications `account` sees: its own, its shop's, and the admins'
    /// if it is an admin.
    pub fn recipients_of(&self, account: AccountId) -> Vec<Recipient> {
        let mut recipients = vec![Recipient::Account(account)];
        if let Some(shop) = self.shop_of(account) {
            recipients.push(Recipient::Shop(shop.id));
        }
        if self
            .accounts
            .get(&account)
            .is_some_and(|a| a.role == Role::Admin)
        {
            recipients.push(Recipient::Admins);
        }
        recipients
    }

    /// What `account` sees, newest first, each with whether it has been read.
    pub fn notifications_of(&self, account: AccountId) -> Vec<(&Notification, bool)> {
        let read = self.notifications_read.get(&account);
        let mut all: Vec<(&Notification, bool)> = self
            .recipients_of(account)
            .iter()
            .filter_map(|r| self.notifications.get(r))
            .flatten()
            .map(|n| (n, read.is_some_and(|read| read.contains(&n.id))))
            .collect();
        all.sort_by(|a, b| b.0.at.cmp(&a.0.at).then_with(|| b.0.id.cmp(&a.0.id)));
        all
    }

    /// How many of `account`'s notifications are unread: the one count every place shows.
    pub fn unread_notifications(&self, account: AccountId) -> usize {
        self.notifications_of(account)
            .iter()
            .filter(|(_, read)| !read)
            .count()
    }

    pub(crate) fn apply_notification(&mut self, notification: &Notification) {
        let kept = self
            .notifications
            .entry(notification.recipient)
            .or_default();
        kept.push_back(notification.clone());
        while kept.len() > KEPT_PER_RECIPIENT {
            kept.pop_front();
        }
    }

    pub(crate) fn apply_notifications_read(&mut self, account: AccountId, ids: &[String]) {
        // `decide` checked the ids. They are not checked again here: on a replay the marks may
        // come before the notifications (another partition of the topic). The marks stay bounded
        // instead: ids start with their cause's UUIDv7, so the smallest are the oldest.
        let read = self.notifications_read.entry(account).or_default();
        read.extend(ids.iter().cloned());
        while read.len() > 3 * KEPT_PER_RECIPIENT {
            read.remove_min();
        }
    }
}

fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

pub(crate) fn decide(
    state: &State,
    command: &NotificationCommand,
    ctx: &Context,
) -> Result<Vec<Event>> {
    match command {
        NotificationCommand::Deliver(notifications) => {
            if ctx.actor != Actor::System {
                return Err(DomainError::Forbidden(
                    "only the notification pipeline delivers notifications".into(),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            let mut events = Vec::new();
            for n in notifications {
                let known = state
                    .notifications
                    .get(&n.recipient)
                    .is_some_and(|kept| kept.iter().any(|k| k.id == n.id));
                let addressed = match n.recipient {
                    Recipient::Account(id) => state.accounts.contains_key(&id),
                    Recipient::Shop(id) => state.shops.contains_key(&id),
                    Recipient::Admins => true,
                };
                // A repeat, or a notification for someone no longer there, is skipped: the rest
                // of the batch is still delivered.
                if n.id.trim().is_empty()
                    || n.id.len() > MAX_ID
                    || n.title.trim().is_empty()
                    || known
                    || !addressed
                    || !seen.insert((n.recipient, n.id.as_str()))
                {
                    continue;
                }
                events.push(Event::NotificationCreated(Box::new(Notification {
                    title: clip(&n.title, MAX_TITLE),
                    body: clip(&n.body, MAX_BODY),
                    link: n.link.clone().filter(|l| l.starts_with('/')),
                    ..n.clone()
                })));
            }
            Ok(events)
        }
        NotificationCommand::Read { ids } => {
            let account = reader(ctx)?;
            let mine = state.notifications_of(account);
            let mut unread = Vec::new();
            for id in ids {
                match mine.iter().find(|(n, _)| &n.id == id) {
                    None => return Err(DomainError::not_found("notification", id)),
                    Some((_, false)) if !unread.contains(id) => unread.push(id.clone()),
                    Some(_) => {}
                }
            }
            Ok(read_event(account, unread, ctx.at))
        }
        NotificationCommand::ReadAll => {
            let account = reader(ctx)?;
            let unread = state
                .notifications_of(account)
                .into_iter()
                .filter(|(_, read)| !read)
                .map(|(n, _)| n.id.clone())
                .collect();
            Ok(read_event(account, unread, ctx.at))
        }
    }
}

fn reader(ctx: &Context) -> Result<AccountId> {
    match ctx.actor {
        Actor::Account { id, .. } => Ok(id),
        _ => Err(DomainError::Forbidden(
            "sign in to read your notifications".into(),
        )),
    }
}

fn read_event(account: AccountId, ids: Vec<String>, at: DateTime<Utc>) -> Vec<Event> {
    if ids.is_empty() {
        return Vec::new();
    }
    vec![Event::NotificationsRead { account, ids, at }]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::account::{AccountCommand, NewAccount, PasswordHash};
    use crate::command::Command;
    use crate::shop::NewShop;
    use chrono::TimeZone;
    use uuid::Uuid;

    pub(crate) fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, minute, 0).unwrap()
    }

    fn run(state: &mut State, command: NotificationCommand, actor: Actor) -> Result<Vec<Event>> {
        let events = crate::decide(
            state,
            &Command::Notification(command),
            &Context { actor, at: at(30) },
        )?;
        for event in &events {
            state.apply(event);
        }
        Ok(events)
    }

    pub(crate) fn account(n: u128) -> AccountId {
        AccountId(Uuid::from_u128(n))
    }

    pub(crate) fn actor(n: u128, role: Role) -> Actor {
        Actor::Account {
            role,
            id: account(n),
        }
    }

    /// A seller (1) with shop 10, a shopper (2), an admin (3) and another seller (4).
    pub(crate) fn people() -> State {
        let mut state = State::default();
        let system = Context {
            actor: Actor::System,
            at: at(0),
        };
        let site = crate::site::SiteConfig {
            name: "Test".into(),
            categories: vec![crate::site::Category {
                slug: "home".into(),
                name: "Home".into(),
                subcategories: vec![],
            }],
            ..Default::default()
        };
        for e in crate::decide(&state, &Command::ConfigureSite(site), &system).unwrap() {
            state.apply(&e);
        }
        for (n, role) in [
            (1, Role::Seller),
            (2, Role::Shopper),
            (3, Role::Admin),
            (4, Role::Seller),
        ] {
            let register = AccountCommand::Register {
                account: NewAccount {
                    id: account(n),
                    email: format!("p{n}@example.com"),
                    name: format!("P{n}"),
                    role,
                    phone: None,
                    country: None,
                },
                password_hash: PasswordHash("h".into()),
            };
            for e in crate::decide(&state, &Command::Account(register), &system).unwrap() {
                state.apply(&e);
            }
        }
        let shop = NewShop {
            id: ShopId(Uuid::from_u128(10)),
            owner: Some(account(1)),
            name: "Clay".into(),
            bio: String::new(),
            category: "home".into(),
            country: "DE".into(),
        };
        for e in crate::decide(&state, &Command::CreateShop(shop), &system).unwrap() {
            state.apply(&e);
        }
        state
    }

    fn note(id: &str, recipient: Recipient, minute: u32) -> Notification {
        Notification {
            id: id.into(),
            recipient,
            kind: "order.new".into(),
            title: format!("About {id}"),
            body: String::new(),
            link: Some("/seller/orders".into()),
            at: at(minute),
        }
    }

    #[test]
    fn recipients_see_their_own_their_shops_and_the_admins() {
        let mut state = people();
        let shop = Recipient::Shop(ShopId(Uuid::from_u128(10)));
        let delivered = run(
            &mut state,
            NotificationCommand::Deliver(vec![
                note("a", shop, 1),
                note("b", Recipient::Account(account(2)), 2),
                note("c", Recipient::Admins, 3),
                note("d", Recipient::Account(account(1)), 4),
            ]),
            Actor::System,
        )
        .unwrap();
        assert_eq!(delivered.len(), 4);
        let ids = |n: u128| -> Vec<String> {
            state
                .notifications_of(account(n))
                .iter()
                .map(|(n, _)| n.id.clone())
                .collect()
        };
        assert_eq!(ids(1), ["d", "a"], "own and the shop's, newest first");
        assert_eq!(ids(2), ["b"]);
        assert_eq!(ids(3), ["c"]);
        assert!(ids(4).is_empty(), "another seller sees nothing of shop 10");
        assert_eq!(state.unread_notifications(account(1)), 2);
    }

    #[test]
    fn repeats_and_strangers_are_skipped_and_only_the_system_delivers() {
        let mut state = people();
        let shopper = Recipient::Account(account(2));
        let first = vec![note("a", shopper, 1), note("a", shopper, 1)];
        assert_eq!(
            run(
                &mut state,
                NotificationCommand::Deliver(first.clone()),
                Actor::System
            )
            .unwrap()
            .len(),
            1,
            "a repeat within one batch"
        );
        assert!(
            run(
                &mut state,
                NotificationCommand::Deliver(first),
                Actor::System
            )
            .unwrap()
            .is_empty(),
            "a run repeated after a crash delivers nothing twice"
        );
        let strangers = vec![
            note("x", Recipient::Account(account(99)), 1),
            note("y", Recipient::Shop(ShopId(Uuid::from_u128(99))), 1),
            Notification {
                title: " ".into(),
                ..note("z", shopper, 1)
            },
        ];
        assert!(
            run(
                &mut state,
                NotificationCommand::Deliver(strangers),
                Actor::System
            )
            .unwrap()
            .is_empty()
        );
        let long = Notification {
            title: "t".repeat(500),
            link: Some("https://elsewhere.example/".into()),
            ..note("long", shopper, 2)
        };
        let Event::NotificationCreated(kept) = &run(
            &mut state,
            NotificationCommand::Deliver(vec![long]),
            Actor::System,
        )
        .unwrap()[0] else {
            panic!("a notification")
        };
        assert_eq!(
            kept.title.chars().count(),
            MAX_TITLE + 1,
            "clipped, with an ellipsis"
        );
        assert_eq!(kept.link, None, "links stay on this site");
        assert!(matches!(
            run(
                &mut state,
                NotificationCommand::Deliver(vec![note("b", shopper, 1)]),
                actor(3, Role::Admin)
            ),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn read_marks_are_per_account() {
        let mut state = people();
        let shopper = Recipient::Account(account(2));
        run(
            &mut state,
            NotificationCommand::Deliver(vec![
                note("a", shopper, 1),
                note("b", shopper, 2),
                note("c", Recipient::Admins, 3),
            ]),
            Actor::System,
        )
        .unwrap();
        let me = actor(2, Role::Shopper);
        run(
            &mut state,
            NotificationCommand::Read {
                ids: vec!["a".into()],
            },
            me,
        )
        .unwrap();
        assert_eq!(state.unread_notifications(account(2)), 1);
        assert!(
            run(
                &mut state,
                NotificationCommand::Read {
                    ids: vec!["a".into()]
                },
                me
            )
            .unwrap()
            .is_empty(),
            "reading again changes nothing"
        );
        assert!(
            matches!(
                run(
                    &mut state,
                    NotificationCommand::Read {
                        ids: vec!["c".into()]
                    },
                    me
                ),
                Err(DomainError::NotFound { .. })
            ),
            "an admins' notification is not the shopper's"
        );
        run(&mut state, NotificationCommand::ReadAll, me).unwrap();
        assert_eq!(state.unread_notifications(account(2)), 0);
        assert_eq!(
            state.unread_notifications(account(3)),
            1,
            "the admin's is still unread"
        );
        assert!(matches!(
            run(
                &mut state,
                NotificationCommand::ReadAll,
                Actor::Anonymous {
                    session: crate::ids::SessionId(Uuid::from_u128(7))
                }
            ),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn each_recipient_keeps_the_newest() {
        let mut state = people();
        let shopper = Recipient::Account(account(2));
        let many: Vec<Notification> = (0..KEPT_PER_RECIPIENT + 5)
            .map(|i| note(&format!("n{i:04}"), shopper, 1))
            .collect();
        run(
            &mut state,
            NotificationCommand::Deliver(many),
            Actor::System,
        )
        .unwrap();
        let kept = &state.notifications[&shopper];
        assert_eq!(kept.len(), KEPT_PER_RECIPIENT);
        assert_eq!(kept.front().unwrap().id, "n0005");
    }

    #[test]
    fn recipients_read_and_write_as_text() {
        for r in [
            Recipient::Admins,
            Recipient::Account(account(5)),
            Recipient::Shop(ShopId(Uuid::from_u128(6))),
        ] {
            assert_eq!(r.to_string().parse::<Recipient>().unwrap(), r);
        }
        assert!("shop:nope".parse::<Recipient>().is_err());
        assert!("everyone".parse::<Recipient>().is_err());
    }
}
