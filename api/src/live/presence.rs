//! Presence: whether an account has a socket open, and when it was last seen. Kept in the
//! key-value store (Redis when configured) under a TTL that every open socket refreshes with its
//! heartbeats, so a service that dies stops claiming anyone is online within [`ONLINE_TTL`].

use crate::kv::{KeyValue, KvResult};
use chrono::{DateTime, Utc};
use domain::AccountId;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How long "online" outlives the last heartbeat.
pub const ONLINE_TTL: Duration = Duration::from_secs(60);
/// How long "last seen" is kept.
const LAST_SEEN_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Presence {
    pub online: bool,
    /// When the account last had a socket open (absent when online or never seen).
    pub last_seen: Option<DateTime<Utc>>,
}

fn online_key(account: AccountId) -> String {
    format!("presence:{account}")
}

fn seen_key(account: AccountId) -> String {
    format!("last-seen:{account}")
}

/// Marks `account` online (again) for [`ONLINE_TTL`].
pub async fn refresh(kv: &dyn KeyValue, account: AccountId) -> KvResult<()> {
    kv.set(&online_key(account), "1", ONLINE_TTL).await
}

/// Marks `account` offline, last seen `at`.
pub async fn leave(kv: &dyn KeyValue, account: AccountId, at: DateTime<Utc>) -> KvResult<()> {
    kv.set(&seen_key(account), &at.to_rfc3339(), LAST_SEEN_TTL)
        .await?;
    kv.delete(&online_key(account)).await.map(|_| ())
}

pub async fn of(kv: &dyn KeyValue, account: AccountId) -> KvResult<Presence> {
    if kv.get(&online_key(account)).await?.is_some() {
        return Ok(Presence {
            online: true,
            last_seen: None,
        });
    }
    let last_seen = kv
        .get(&seen_key(account))
        .await?
        .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
        .map(|at| at.with_timezone(&Utc));
    Ok(Presence {
        online: false,
        last_seen,
    })
}
