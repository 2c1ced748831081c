use super::{KeyValue, KvError, KvResult};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::time::Duration;

/// Redis (`REDIS_URL`, e.g. `redis://127.0.0.1:6379/0`). One multiplexed connection that
/// reconnects by itself; every operation is one atomic command (or a `MULTI` block).
#[derive(Clone)]
pub struct RedisKv {
    connection: ConnectionManager,
    prefix: String,
}

impl From<redis::RedisError> for KvError {
    fn from(e: redis::RedisError) -> Self {
        KvError(e.to_string())
    }
}

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

impl RedisKv {
    /// Connects (failing at once if Redis cannot be reached). Keys are stored under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> KvResult<RedisKv> {
        let client = redis::Client::open(url)?;
        // A request waits at most 2 s for Redis, and a lost connection is retried a few times
        // (with back-off) before a request fails with 503.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(3)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let connection = ConnectionManager::new_with_config(client, config).await?;
        Ok(RedisKv {
            connection,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> KvResult<T> {
        let mut connection = self.connection.clone();
        Ok(cmd.query_async(&mut connection).await?)
    }
}

#[async_trait]
impl KeyValue for RedisKv {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> KvResult<Option<String>> {
        self.query(redis::cmd("GET").arg(self.key(key))).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> KvResult<()> {
        self.query(
            redis::cmd("SET")
                .arg(self.key(key))
                .arg(value)
                .arg("PX")
                .arg(millis(ttl)),
        )
        .await
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> KvResult<bool> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.key(key))
                    .arg(value)
                    .arg("PX")
                    .arg(millis(ttl))
                    .arg("NX"),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn take(&self, key: &str) -> KvResult<Option<String>> {
        self.query(redis::cmd("GETDEL").arg(self.key(key))).await
    }

    async fn delete(&self, key: &str) -> KvResult<bool> {
        let removed: u64 = self.query(redis::cmd("DEL").arg(self.key(key))).await?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &str, window: Duration) -> KvResult<u64> {
        let key = self.key(key);
        let mut connection = self.connection.clone();
        // INCR, then start the window only if the key has none yet (a new counter).
        let (count, _): (u64, u64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&key)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(window))
            .arg("NX")
            .query_async(&mut connection)
            .await?;
        Ok(count)
    }

    async fn time_to_live(&self, key: &str) -> KvResult<Option<Duration>> {
        let ms: i64 = self.query(redis::cmd("PTTL").arg(self.key(key))).await?;
        Ok((ms >= 0).then(|| Duration::from_millis(ms as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_servers::RedisServer;

    #[tokio::test]
    async fn keeps_the_key_value_contract_against_a_real_redis() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let kv = RedisKv::connect(&server.url(), "contract:").await.unwrap();
        super::super::contract::run(&kv, "").await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_a_clear_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = RedisKv::connect(&format!("redis://127.0.0.1:{port}/"), "")
            .await
            .err()
            .expect("nothing listens there");
        assert!(error.to_string().contains("key-value store"), "{error}");
    }
}
