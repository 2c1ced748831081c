use super::{KeyValue, KvResult};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The in-process store: a map behind a mutex, entries dropped when read after their expiry and
/// swept every few thousand writes, so memory stays bounded by what is alive.
#[derive(Default)]
pub struct MemoryKv {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (String, Instant)>,
    writes: u64,
}

const SWEEP_EVERY: u64 = 4096;

impl Entries {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (String, Instant)> {
        if self.map.get(key).is_some_and(|(_, until)| *until <= now) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: String, until: Instant, now: Instant) {
        self.writes += 1;
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            self.map.retain(|_, (_, until)| *until > now);
        }
        self.map.insert(key.to_string(), (value, until));
    }
}

impl MemoryKv {
    pub fn new() -> MemoryKv {
        MemoryKv::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Entries, Instant) -> T) -> KvResult<T> {
        let mut entries = self.entries.lock().expect("kv lock");
        Ok(f(&mut entries, Instant::now()))
    }
}

#[async_trait]
impl KeyValue for MemoryKv {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> KvResult<Option<String>> {
        self.with(|e, now| e.live(key, now).map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> KvResult<()> {
        self.with(|e, now| e.insert(key, value.to_string(), now + ttl, now))
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> KvResult<bool> {
        self.with(|e, now| {
            if e.live(key, now).is_some() {
                return false;
            }
            e.insert(key, value.to_string(), now + ttl, now);
            true
        })
    }

    async fn take(&self, key: &str) -> KvResult<Option<String>> {
        self.with(|e, now| {
            e.live(key, now)?;
            e.map.remove(key).map(|(v, _)| v)
        })
    }

    async fn delete(&self, key: &str) -> KvResult<bool> {
        self.with(|e, now| e.live(key, now).is_some() && e.map.remove(key).is_some())
    }

    async fn increment(&self, key: &str, window: Duration) -> KvResult<u64> {
        self.with(|e, now| {
            if let Some((value, _)) = e.live(key, now) {
                let next = value.parse::<u64>().unwrap_or(0) + 1;
                *value = next.to_string();
                return next;
            }
            e.insert(key, "1".into(), now + window, now);
            1
        })
    }

    async fn time_to_live(&self, key: &str) -> KvResult<Option<Duration>> {
        self.with(|e, now| e.live(key, now).map(|(_, until)| *until - now))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn keeps_the_key_value_contract() {
        super::super::contract::run(&super::MemoryKv::new(), "").await;
    }
}
