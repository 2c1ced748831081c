//! The log contract and its backends.

mod embedded;
#[cfg(feature = "fluvio")]
mod fluvio;
mod frame;

pub use embedded::EmbeddedLog;
#[cfg(feature = "fluvio")]
pub use fluvio::FluvioLog;

use crate::Result;
use crate::topic::Topic;
use async_trait::async_trait;
use tokio::sync::watch;

/// One record to append: its topic, its key (ordering holds per key) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendRecord {
    pub topic: Topic,
    pub key: String,
    pub value: Vec<u8>,
}

impl AppendRecord {
    pub fn new(topic: Topic, key: impl Into<String>, value: Vec<u8>) -> Self {
        AppendRecord {
            topic,
            key: key.into(),
            value,
        }
    }
}

/// One record read back, with the offset the log gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: Topic,
    pub offset: u64,
    pub key: String,
    pub value: Vec<u8>,
}

/// The offsets a read of at most `max` records from `from` covers in a topic that ends at `end`.
/// Reading at the end is empty; reading past it is an error. Every backend reads through this.
pub(crate) fn read_range(
    topic: Topic,
    from: u64,
    max: usize,
    end: u64,
) -> Result<std::ops::Range<u64>> {
    if from > end {
        return Err(crate::Error::OffsetOutOfRange {
            topic: topic.to_string(),
            offset: from,
            end,
        });
    }
    Ok(from..end.min(from.saturating_add(max as u64)))
}

/// Consumer group names: 1–100 ASCII letters, digits, `-` and `_` (they become file and key names).
pub(crate) fn check_group(group: &str) -> Result<()> {
    let valid = !group.is_empty()
        && group.len() <= 100
        && group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(crate::Error::BadGroup(group.to_string()))
    }
}

/// A group may commit any offset up to the topic's end, never past it. Every backend checks
/// commits through this.
pub(crate) fn check_commit(group: &str, topic: Topic, next: u64, end: u64) -> Result<()> {
    check_group(group)?;
    if next > end {
        return Err(crate::Error::OffsetOutOfRange {
            topic: topic.to_string(),
            offset: next,
            end,
        });
    }
    Ok(())
}

/// What every log backend promises.
///
/// - `append` is all or nothing and durable when it returns: the offsets it hands back survive a
///   crash. Offsets within a topic are dense and increasing.
/// - `read` returns records in offset order, starting at `from`, at most `max` of them.
/// - `subscribe` watches a topic's end offset (the next offset to be written), so a consumer can
///   wait for new records instead of polling.
/// - Consumer groups record how far they have read with `commit_offset`.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    async fn append(&self, records: Vec<AppendRecord>) -> Result<Vec<u64>>;
    async fn read(&self, topic: Topic, from: u64, max: usize) -> Result<Vec<Record>>;
    fn end_offset(&self, topic: Topic) -> u64;
    fn subscribe(&self, topic: Topic) -> watch::Receiver<u64>;
    async fn commit_offset(&self, group: &str, topic: Topic, next: u64) -> Result<()>;
    async fn committed_offset(&self, group: &str, topic: Topic) -> Result<Option<u64>>;

    /// Waits until the topic holds a record at `offset`, or the log closes.
    async fn wait_for(&self, topic: Topic, offset: u64) -> Result<()> {
        let mut end = self.subscribe(topic);
        end.wait_for(|end| *end > offset)
            .await
            .map(|_| ())
            .map_err(|_| crate::Error::Closed)
    }
}
