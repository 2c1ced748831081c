//! The key-value store of DESIGN.md §5: short-lived facts with a time to live — OTPs and their
//! cooldowns and lockouts, refresh-token families, reset tokens, rate-limit windows.
//!
//! Two backends behind one trait, proved by one contract suite ([`contract`]):
//! - [`MemoryKv`]: in process, the default. Everything in it is gone when the process stops,
//!   which signs everyone out on a restart (access tokens live 15 minutes; refresh tokens are here).
//! - [`RedisKv`]: Redis at `REDIS_URL`, shared by every instance and kept across restarts.

mod memory;
mod redis;

pub use self::redis::RedisKv;
pub use memory::MemoryKv;

use async_trait::async_trait;
use std::time::Duration;

/// Why the store could not answer. Always external: the request may be retried.
#[derive(Debug, thiserror::Error)]
#[error("key-value store: {0}")]
pub struct KvError(pub String);

pub type KvResult<T> = Result<T, KvError>;

/// A string key-value store whose entries expire. Every operation is atomic on its key.
#[async_trait]
pub trait KeyValue: Send + Sync {
    /// The backend's name, for `/health` and logs.
    fn name(&self) -> &'static str;
    async fn get(&self, key: &str) -> KvResult<Option<String>>;
    /// Sets a value that expires after `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> KvResult<()>;
    /// Sets a value only if the key is absent; `true` when it was set.
    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> KvResult<bool>;
    /// Reads and deletes in one step: of two callers racing for a single-use token, one wins.
    async fn take(&self, key: &str) -> KvResult<Option<String>>;
    /// Deletes a key; `true` when it existed.
    async fn delete(&self, key: &str) -> KvResult<bool>;
    /// Adds one to a counter and returns the new count. A counter that did not exist starts at
    /// one and expires after `window` (fixed-window counting: later increments keep the expiry).
    async fn increment(&self, key: &str, window: Duration) -> KvResult<u64>;
    /// How long until the key expires; `None` when it does not exist.
    async fn time_to_live(&self, key: &str) -> KvResult<Option<Duration>>;
}

/// The contract every backend keeps, run against [`MemoryKv`] always and [`RedisKv`] against a
/// real `redis-server` (see the tests in `redis.rs`).
#[cfg(test)]
pub(crate) mod contract {
    use super::*;

    /// Waits until `key` has expired (TTLs here are a few milliseconds), failing after 5 s.
    async fn expired(kv: &dyn KeyValue, key: &str) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            if kv.get(key).await.unwrap().is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    pub(crate) async fn run(kv: &dyn KeyValue, prefix: &str) {
        let key = |k: &str| format!("{prefix}{k}");
        let minute = Duration::from_secs(60);

        // set / get / delete
        assert_eq!(kv.get(&key("a")).await.unwrap(), None);
        kv.set(&key("a"), "1", minute).await.unwrap();
        assert_eq!(kv.get(&key("a")).await.unwrap().as_deref(), Some("1"));
        kv.set(&key("a"), "2", minute).await.unwrap();
        assert_eq!(kv.get(&key("a")).await.unwrap().as_deref(), Some("2"));
        assert!(kv.delete(&key("a")).await.unwrap());
        assert!(!kv.delete(&key("a")).await.unwrap());

        // set_if_absent keeps the first value
        assert!(kv.set_if_absent(&key("nx"), "first", minute).await.unwrap());
        assert!(
            !kv.set_if_absent(&key("nx"), "second", minute)
                .await
                .unwrap()
        );
        assert_eq!(kv.get(&key("nx")).await.unwrap().as_deref(), Some("first"));

        // take is single use, also under a race
        let token = key("token");
        kv.set(&token, "t", minute).await.unwrap();
        let racers = futures::future::join_all((0..16).map(|_| kv.take(&token))).await;
        let winners = racers
            .into_iter()
            .filter(|r| r.as_ref().unwrap().is_some())
            .count();
        assert_eq!(winners, 1, "exactly one caller takes a single-use value");
        assert_eq!(kv.take(&key("token")).await.unwrap(), None);

        // counters: concurrent increments are all counted; the window starts at the first
        let counter = key("n");
        let counts =
            futures::future::join_all((0..20).map(|_| kv.increment(&counter, minute))).await;
        let mut counts: Vec<u64> = counts.into_iter().map(Result::unwrap).collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=20).collect::<Vec<_>>());
        let ttl = kv
            .time_to_live(&key("n"))
            .await
            .unwrap()
            .expect("a counter expires");
        assert!(
            ttl <= minute && ttl > Duration::from_secs(50),
            "ttl {ttl:?}"
        );
        assert_eq!(kv.time_to_live(&key("missing")).await.unwrap(), None);

        // expiry
        kv.set(&key("short"), "x", Duration::from_millis(30))
            .await
            .unwrap();
        assert!(
            expired(kv, &key("short")).await,
            "a value expires after its ttl"
        );
        assert!(
            kv.set_if_absent(&key("short"), "y", minute).await.unwrap(),
            "an expired key is absent"
        );
        kv.increment(&key("window"), Duration::from_millis(30))
            .await
            .unwrap();
        assert!(expired(kv, &key("window")).await, "a counter's window ends");
        assert_eq!(
            kv.increment(&key("window"), minute).await.unwrap(),
            1,
            "and starts again at one"
        );
        assert_eq!(kv.take(&key("short")).await.unwrap().as_deref(), Some("y"));
    }
}
