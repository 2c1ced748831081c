//! Accounts: who people are on the marketplace, their role, bans, addresses and credentials.
//!
//! Credentials are kept apart from everything else: [`Event::PasswordSet`] is the only event that
//! carries a password hash, and it travels on the `credentials` topic, which the lake sink never
//! copies. The hash itself is a [`PasswordHash`] whose `Debug` hides it, so it cannot end up in a
//! log line by accident. OTPs and tokens never enter the domain at all: they live in the
//! key-value store of the API.

use crate::Result;
use crate::actor::{Actor, Role};
use crate::command::Context;
use crate::error::DomainError;
use crate::event::Event;
use crate::ids::{AccountId, AddressId};
use crate::state::State;
use crate::validate::{country, non_empty};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const MAX_NAME: usize = 100;
const MAX_EMAIL: usize = 254;
const MAX_REASON: usize = 500;
const MAX_ADDRESSES: usize = 20;

/// A person's account. Exactly one role: an account never holds two roles' privileges at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    /// Lower-case and trimmed; unique across all accounts.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub created_at: DateTime<Utc>,
    pub banned: Option<Ban>,
    pub addresses: Vec<Address>,
}

/// Why and when an admin banned an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub reason: String,
    pub by: Option<AccountId>,
    pub at: DateTime<Utc>,
}

/// A shopper's delivery address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub id: AddressId,
    pub label: String,
    pub name: String,
    pub street: String,
    pub city: String,
    pub zip: String,
    pub country: String,
    pub is_default: bool,
}

/// What someone fills in to open an account (the password is hashed before it gets here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    pub id: AccountId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub phone: Option<String>,
    pub country: Option<String>,
}

/// An argon2id password hash in PHC string form. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// An account's credential: the password hash and the session epoch. Access and refresh tokens
/// carry the epoch they were issued in; bumping it (a password reset) revokes every one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub password_hash: PasswordHash,
    pub epoch: u32,
}

/// What can be asked of accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountCommand {
    /// Opens an account. Anyone may open a shopper or seller account; admins open analyst
    /// accounts; only the system (the `marketplace admin create` command) opens admin accounts.
    Register {
        account: NewAccount,
        password_hash: PasswordHash,
    },
    /// Sets a new password; `revoke_sessions` signs the account out everywhere.
    SetPassword {
        account: AccountId,
        password_hash: PasswordHash,
        revoke_sessions: bool,
    },
    Ban {
        account: AccountId,
        reason: String,
    },
    Unban {
        account: AccountId,
    },
    /// Makes an existing account an admin (it loses its former role).
    PromoteToAdmin {
        account: AccountId,
    },
    AddAddress {
        account: AccountId,
        address: Address,
    },
    RemoveAddress {
        account: AccountId,
        address: AddressId,
    },
}

/// Lower-cases and trims an e-mail address and checks its shape (one `@`, a dotted domain, no
/// spaces). Deliverability is proved by the OTP, not here.
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let invalid = |reason: &str| Err(DomainError::invalid("email", reason));
    if email.is_empty() {
        return invalid("must not be empty");
    }
    if email.len() > MAX_EMAIL {
        return invalid("at most 254 characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid("must look like name@example.com");
    };
    let well_formed = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return invalid("must look like name@example.com");
    }
    Ok(email)
}

pub(crate) fn decide(state: &State, command: &AccountCommand, ctx: &Context) -> Result<Vec<Event>> {
    match command {
        AccountCommand::Register {
            account,
            password_hash,
        } => register(state, account, password_hash, ctx),
        AccountCommand::SetPassword {
            account,
            password_hash,
            revoke_sessions,
        } => {
            existing(state, *account)?;
            if !(ctx.actor == Actor::System || is_self(ctx, *account)) {
                return Err(DomainError::Forbidden(
                    "only the account itself sets its password".into(),
                ));
            }
            Ok(vec![Event::PasswordSet {
                account: *account,
                password_hash: password_hash.clone(),
                revoke_sessions: *revoke_sessions,
                at: ctx.at,
            }])
        }
        AccountCommand::Ban { account, reason } => {
            let by = admin(ctx)?;
            let target = existing(state, *account)?;
            if by == Some(*account) {
                return Err(DomainError::Conflict("you cannot ban yourself".into()));
            }
            non_empty("reason", reason, MAX_REASON)?;
            if target.banned.is_some() {
                return Err(DomainError::Conflict(
                    "the account is banned already".into(),
                ));
            }
            Ok(vec![Event::AccountBanned {
                id: *account,
                reason: reason.trim().to_string(),
                by,
                at: ctx.at,
            }])
        }
        AccountCommand::Unban { account } => {
            admin(ctx)?;
            if existing(state, *account)?.banned.is_none() {
                return Err(DomainError::Conflict("the account is not banned".into()));
            }
            Ok(vec![Event::AccountUnbanned {
                id: *account,
                at: ctx.at,
            }])
        }
        AccountCommand::PromoteToAdmin { account } => {
            admin(ctx)?;
            let target = existing(state, *account)?;
            if target.role == Role::Admin {
                return Err(DomainError::Conflict(
                    "the account is an admin already".into(),
                ));
            }
            if target.banned.is_some() {
                return Err(DomainError::Conflict(
                    "a banned account cannot be promoted; lift the ban first".into(),
                ));
            }
            if state.shops.values().any(|s| s.owner == Some(*account)) {
                return Err(DomainError::Conflict(
                    "this seller runs a shop; an admin cannot also be a seller".into(),
                ));
            }
            Ok(vec![Event::AccountRoleChanged {
                id: *account,
                role: Role::Admin,
                at: ctx.at,
            }])
        }
        AccountCommand::AddAddress { account, address } => {
            let owner = own_shopper_account(state, *account, ctx)?;
            if owner.addresses.len() >= MAX_ADDRESSES {
                return Err(DomainError::invalid(
                    "addresses",
                    format!("at most {MAX_ADDRESSES} addresses; remove one first"),
                ));
            }
            if owner.addresses.iter().any(|a| a.id == address.id) {
                return Err(DomainError::Conflict(format!(
                    "address {} already exists",
                    address.id
                )));
            }
            let address = validate_address(address)?;
            Ok(vec![Event::AddressAdded {
                account: *account,
                address,
            }])
        }
        AccountCommand::RemoveAddress { account, address } => {
            let owner = own_shopper_account(state, *account, ctx)?;
            if !owner.addresses.iter().any(|a| a.id == *address) {
                return Err(DomainError::not_found("address", address));
            }
            Ok(vec![Event::AddressRemoved {
                account: *account,
                id: *address,
            }])
        }
    }
}

fn register(
    state: &State,
    new: &NewAccount,
    password_hash: &PasswordHash,
    ctx: &Context,
) -> Result<Vec<Event>> {
    let allowed = match (new.role, ctx.actor) {
        (Role::Shopper | Role::Seller, Actor::Anonymous { .. } | Actor::System) => true,
        (Role::Analyst, Actor::System) => true,
        (
            Role::Analyst,
            Actor::Account {
                role: Role::Admin, ..
            },
        ) => true,
        (Role::Admin, Actor::System) => true,
        _ => false,
    };
    if !allowed {
        return Err(DomainError::Forbidden(match new.role {
            Role::Admin => "admins are created with `marketplace admin create` or promoted".into(),
            Role::Analyst => "only admins create analyst accounts".into(),
            _ => "sign out before opening another account".into(),
        }));
    }
    let email = normalize_email(&new.email)?;
    non_empty("name", &new.name, MAX_NAME)?;
    if let Some(phone) = &new.phone {
        validate_phone(phone)?;
    }
    if let Some(code) = &new.country {
        country("country", code)?;
    }
    if state.accounts.contains_key(&new.id) {
        return Err(DomainError::Conflict(format!(
            "account {} already exists",
            new.id
        )));
    }
    if state.account_emails.contains_key(&email) {
        return Err(DomainError::Conflict(
            "an account with this e-mail exists already; sign in or reset the password".into(),
        ));
    }
    Ok(vec![
        Event::AccountRegistered {
            account: NewAccount {
                id: new.id,
                email,
                name: new.name.trim().to_string(),
                role: new.role,
                phone: new.phone.as_ref().map(|p| p.trim().to_string()),
                country: new.country.clone(),
            },
            at: ctx.at,
        },
        Event::PasswordSet {
            account: new.id,
            password_hash: password_hash.clone(),
            revoke_sessions: false,
            at: ctx.at,
        },
    ])
}

/// Checks a registration without recording it: what the API runs before it mails an OTP, so a
/// person learns about a taken e-mail or a bad field before waiting for a code.
pub fn check_registration(state: &State, new: &NewAccount, ctx: &Context) -> Result<()> {
    register(state, new, &PasswordHash(String::new()), ctx).map(|_| ())
}

fn validate_phone(phone: &str) -> Result<()> {
    let phone = phone.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    if allowed && (6..=15).contains(&digits) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "phone",
            "6 to 15 digits, optionally with +, spaces, dashes and brackets",
        ))
    }
}

fn validate_address(address: &Address) -> Result<Address> {
    non_empty("label", &address.label, 40)?;
    non_empty("name", &address.name, MAX_NAME)?;
    non_empty("street", &address.street, 200)?;
    non_empty("city", &address.city, 100)?;
    non_empty("zip", &address.zip, 20)?;
    country("country", &address.country)?;
    let trim = |s: &str| s.trim().to_string();
    Ok(Address {
        id: address.id,
        label: trim(&address.label),
        name: trim(&address.name),
        street: trim(&address.street),
        city: trim(&address.city),
        zip: trim(&address.zip),
        country: address.country.clone(),
        is_default: address.is_default,
    })
}

fn existing(state: &State, id: AccountId) -> Result<&Account> {
    state
        .accounts
        .get(&id)
        .ok_or_else(|| DomainError::not_found("account", id))
}

fn is_self(ctx: &Context, account: AccountId) -> bool {
    matches!(ctx.actor, Actor::Account { id, .. } if id == account)
}

/// The admin asking (`None` for the system), or why not.
fn admin(ctx: &Context) -> Result<Option<AccountId>> {
    match ctx.actor {
        Actor::System => Ok(None),
        Actor::Account {
            role: Role::Admin,
            id,
        } => Ok(Some(id)),
        _ => Err(DomainError::Forbidden("only admins do this".into())),
    }
}

fn own_shopper_account<'s>(state: &'s State, id: AccountId, ctx: &Context) -> Result<&'s Account> {
    let account = existing(state, id)?;
    if !is_self(ctx, id) {
        return Err(DomainError::Forbidden(
            "only the account itself manages its addresses".into(),
        ));
    }
    if account.role != Role::Shopper {
        return Err(DomainError::Forbidden(
            "addresses belong to shopper accounts".into(),
        ));
    }
    Ok(account)
}

impl State {
    /// Folds an account event into the state.
    pub(crate) fn apply_account(&mut self, event: &Event) {
        match event {
            Event::AccountRegistered { account: new, at } => {
                self.account_emails.insert(new.email.clone(), new.id);
                self.accounts.insert(
                    new.id,
                    Account {
                        id: new.id,
                        email: new.email.clone(),
                        name: new.name.clone(),
                        role: new.role,
                        phone: new.phone.clone(),
                        country: new.country.clone(),
                        created_at: *at,
                        banned: None,
                        addresses: Vec::new(),
                    },
                );
            }
            Event::PasswordSet {
                account,
                password_hash,
                revoke_sessions,
                ..
            } => {
                let epoch = self.credentials.get(account).map_or(0, |c| c.epoch);
                self.credentials.insert(
                    *account,
                    Credential {
                        password_hash: password_hash.clone(),
                        epoch: epoch + u32::from(*revoke_sessions),
                    },
                );
            }
            Event::AccountBanned { id, reason, by, at } => {
                if let Some(a) = self.accounts.get_mut(id) {
                    a.banned = Some(Ban {
                        reason: reason.clone(),
                        by: *by,
                        at: *at,
                    });
                }
            }
            Event::AccountUnbanned { id, .. } => {
                if let Some(a) = self.accounts.get_mut(id) {
                    a.banned = None;
                }
            }
            Event::AccountRoleChanged { id, role, .. } => {
                if let Some(a) = self.accounts.get_mut(id) {
                    a.role = *role;
                }
            }
            Event::AddressAdded { account, address } => {
                if let Some(a) = self.accounts.get_mut(account) {
                    if address.is_default || a.addresses.is_empty() {
                        for other in &mut a.addresses {
                            other.is_default = false;
                        }
                    }
                    let mut address = address.clone();
                    address.is_default = address.is_default || a.addresses.is_empty();
                    a.addresses.push(address);
                }
            }
            Event::AddressRemoved { account, id } => {
                if let Some(a) = self.accounts.get_mut(account) {
                    a.addresses.retain(|x| x.id != *id);
                    if !a.addresses.is_empty() && !a.addresses.iter().any(|x| x.is_default) {
                        a.addresses[0].is_default = true;
                    }
                }
            }
            _ => {}
        }
    }

    pub fn account_by_email(&self, email: &str) -> Option<&Account> {
        let email = normalize_email(email).ok()?;
        self.account_emails
            .get(&email)
            .and_then(|id| self.accounts.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::ids::SessionId;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    fn run(state: &mut State, command: AccountCommand, actor: Actor) -> Result<Vec<Event>> {
        let ctx = Context { actor, at: at() };
        let events = crate::decide(state, &Command::Account(command), &ctx)?;
        for event in &events {
            state.apply(event);
        }
        Ok(events)
    }

    fn anonymous() -> Actor {
        Actor::Anonymous {
            session: SessionId(Uuid::from_u128(1)),
        }
    }

    fn account(n: u128, email: &str, role: Role) -> AccountCommand {
        AccountCommand::Register {
            account: NewAccount {
                id: AccountId(Uuid::from_u128(n)),
                email: email.into(),
                name: format!("Person {n}"),
                role,
                phone: None,
                country: Some("DE".into()),
            },
            password_hash: PasswordHash(format!("hash-{n}")),
        }
    }

    fn as_account(state: &State, n: u128) -> Actor {
        let id = AccountId(Uuid::from_u128(n));
        Actor::Account {
            role: state.accounts[&id].role,
            id,
        }
    }

    #[test]
    fn emails_are_unique_case_insensitively_and_trimmed() {
        let mut state = State::default();
        let events = run(
            &mut state,
            account(1, "  Ada@Example.COM ", Role::Shopper),
            anonymous(),
        )
        .unwrap();
        assert_eq!(events.len(), 2, "the account and its credential");
        assert_eq!(
            state.accounts[&AccountId(Uuid::from_u128(1))].email,
            "ada@example.com"
        );
        assert_eq!(
            state.accounts[&AccountId(Uuid::from_u128(1))].created_at,
            at()
        );
        let again = run(
            &mut state,
            account(2, "ada@example.com", Role::Seller),
            anonymous(),
        );
        assert!(matches!(again, Err(DomainError::Conflict(_))));
        assert!(state.account_by_email("ADA@example.com ").is_some());
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a b@x.com",
            "ada@x",
            "ada@x..com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn admins_and_analysts_are_not_self_service() {
        let mut state = State::default();
        assert!(matches!(
            run(&mut state, account(1, "a@x.com", Role::Admin), anonymous()),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            run(
                &mut state,
                account(1, "a@x.com", Role::Analyst),
                anonymous()
            ),
            Err(DomainError::Forbidden(_))
        ));
        run(
            &mut state,
            account(1, "root@x.com", Role::Admin),
            Actor::System,
        )
        .unwrap();
        let admin = as_account(&state, 1);
        run(
            &mut state,
            account(2, "numbers@x.com", Role::Analyst),
            admin,
        )
        .unwrap();
        let analyst = as_account(&state, 2);
        assert!(run(&mut state, account(3, "b@x.com", Role::Analyst), analyst).is_err());
    }

    #[test]
    fn bans_promotions_and_password_epochs() {
        let mut state = State::default();
        run(
            &mut state,
            account(1, "root@x.com", Role::Admin),
            Actor::System,
        )
        .unwrap();
        run(
            &mut state,
            account(2, "shopper@x.com", Role::Shopper),
            anonymous(),
        )
        .unwrap();
        let admin = as_account(&state, 1);
        let shopper = as_account(&state, 2);
        let target = AccountId(Uuid::from_u128(2));
        let ban = AccountCommand::Ban {
            account: target,
            reason: "fraud".into(),
        };
        assert!(matches!(
            run(&mut state, ban.clone(), shopper),
            Err(DomainError::Forbidden(_))
        ));
        run(&mut state, ban.clone(), admin).unwrap();
        assert_eq!(
            state.accounts[&target].banned.as_ref().unwrap().reason,
            "fraud"
        );
        assert!(matches!(
            run(&mut state, ban, admin),
            Err(DomainError::Conflict(_))
        ));
        assert!(
            run(
                &mut state,
                AccountCommand::PromoteToAdmin { account: target },
                admin
            )
            .is_err()
        );
        run(&mut state, AccountCommand::Unban { account: target }, admin).unwrap();
        run(
            &mut state,
            AccountCommand::PromoteToAdmin { account: target },
            admin,
        )
        .unwrap();
        assert_eq!(state.accounts[&target].role, Role::Admin);
        let self_ban = AccountCommand::Ban {
            account: AccountId(Uuid::from_u128(1)),
            reason: "oops".into(),
        };
        assert!(run(&mut state, self_ban, admin).is_err());

        assert_eq!(state.credentials[&target].epoch, 0);
        let reset = AccountCommand::SetPassword {
            account: target,
            password_hash: PasswordHash("new".into()),
            revoke_sessions: true,
        };
        assert!(
            run(&mut state, reset.clone(), admin).is_err(),
            "not even an admin sets another's password"
        );
        run(&mut state, reset, Actor::System).unwrap();
        assert_eq!(state.credentials[&target].epoch, 1);
        assert_eq!(state.credentials[&target].password_hash.0, "new");
        assert_eq!(
            format!("{:?}", state.credentials[&target]).contains("new"),
            false
        );
    }

    #[test]
    fn shoppers_keep_their_own_addresses_with_one_default() {
        let mut state = State::default();
        run(
            &mut state,
            account(1, "a@x.com", Role::Shopper),
            anonymous(),
        )
        .unwrap();
        run(
            &mut state,
            account(2, "b@x.com", Role::Shopper),
            anonymous(),
        )
        .unwrap();
        let me = AccountId(Uuid::from_u128(1));
        let address = |n: u128, is_default: bool| Address {
            id: AddressId(Uuid::from_u128(n)),
            label: "Home".into(),
            name: "Ada".into(),
            street: "1 Main St".into(),
            city: "Berlin".into(),
            zip: "10115".into(),
            country: "DE".into(),
            is_default,
        };

        let (mine, theirs) = (as_account(&state, 1), as_account(&state, 2));
        let add = |n, d| AccountCommand::AddAddress {
            account: me,
            address: address(n, d),
        };
        assert!(run(&mut state, add(10, false), theirs).is_err());
        run(&mut state, add(10, false), mine).unwrap();
        run(&mut state, add(11, true), mine).unwrap();
        let defaults: Vec<bool> = state.accounts[&me]
            .addresses
            .iter()
            .map(|a| a.is_default)
            .collect();
        assert_eq!(defaults, [false, true]);
        let mut bad = address(12, false);
        bad.country = "Germany".into();
        let refused = run(
            &mut state,
            AccountCommand::AddAddress {
                account: me,
                address: bad,
            },
            mine,
        );
        assert!(matches!(
            refused,
            Err(DomainError::Invalid {
                field: "country",
                ..
            })
        ));
        run(
            &mut state,
            AccountCommand::RemoveAddress {
                account: me,
                address: AddressId(Uuid::from_u128(11)),
            },
            mine,
        )
        .unwrap();
        assert!(
            state.accounts[&me].addresses[0].is_default,
            "the one left becomes the default"
        );
    }
}
