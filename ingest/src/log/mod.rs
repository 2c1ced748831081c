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
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use tokio::sync::watch;

/// One partition of a topic: the unit of order and of offsets. Records with the same key always
/// land in the same partition, so ordering holds per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: Topic,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: Topic, partition: u32) -> Self {
        TopicPartition { topic, partition }
    }
}

/// `activity-0`, as Kafka and Fluvio name partitions.
impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Where an appended record was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub partition: TopicPartition,
    pub offset: u64,
}

/// The partition of `count` a key belongs to. Every backend routes keys through this, so a key
/// lands in the same partition whichever engine stores it; it is Kafka's default rule (murmur2 of
/// the key bytes, made positive, modulo the count), so Kafka-protocol producers agree with it too.
pub fn partition_for_key(key: &str, count: u32) -> u32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) % count.max(1)
}

/// MurmurHash2, 32-bit, with Kafka's seed.
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in chunks.by_ref() {
        let mut k = u32::from_le_bytes(chunk.try_into().expect("four bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// How many partitions topics are created with, e.g. `activity=4,logs=2`. A topic not named gets
/// one partition when created; a topic that exists keeps the count it was created with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partitions(BTreeMap<Topic, u32>);

impl Partitions {
    /// Asks for `count` partitions of `topic`.
    pub fn with(mut self, topic: Topic, count: u32) -> Self {
        self.0.insert(topic, count);
        self
    }

    /// The count asked for `topic`, if any.
    pub fn requested(&self, topic: Topic) -> Option<u32> {
        self.0.get(&topic).copied()
    }
}

/// The most partitions one topic may have.
pub const MAX_PARTITIONS: u32 = 1024;

impl FromStr for Partitions {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut partitions = Partitions::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (topic, count) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not topic=count"))?;
            let topic: Topic = topic.trim().parse()?;
            let count: u32 = count
                .trim()
                .parse()
                .ok()
                .filter(|c| (1..=MAX_PARTITIONS).contains(c))
                .ok_or_else(|| {
                    format!("partitions of {topic} must be a number from 1 to {MAX_PARTITIONS}")
                })?;
            partitions = partitions.with(topic, count);
        }
        Ok(partitions)
    }
}

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

/// One record read back, with the partition and offset the log gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub partition: TopicPartition,
    pub offset: u64,
    pub key: String,
    pub value: Vec<u8>,
}

/// The offsets a read of at most `max` records from `from` covers in a partition that ends at
/// `end`. Reading at the end is empty; reading past it is an error. Every backend reads through this.
pub(crate) fn read_range(
    partition: TopicPartition,
    from: u64,
    max: usize,
    end: u64,
) -> Result<std::ops::Range<u64>> {
    if from > end {
        return Err(crate::Error::OffsetOutOfRange {
            partition: partition.to_string(),
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
pub(crate) fn check_commit(
    group: &str,
    partition: TopicPartition,
    next: u64,
    end: u64,
) -> Result<()> {
    check_group(group)?;
    if next > end {
        return Err(crate::Error::OffsetOutOfRange {
            partition: partition.to_string(),
            offset: next,
            end,
        });
    }
    Ok(())
}

/// What every log backend promises.
///
/// - A topic has one or more partitions, fixed when it is created; a record goes to the partition
///   of its key ([`partition_for_key`]), so records with one key keep their order.
/// - `append` is all or nothing and durable when it returns: the positions it hands back survive a
///   crash. Offsets within a partition are dense and increasing.
/// - `read` returns records of one partition in offset order, starting at `from`, at most `max`.
/// - `subscribe` watches a partition's end offset (the next offset to be written), so a consumer
///   can wait for new records instead of polling.
/// - Consumer groups record how far they have read with `commit_offset`, per partition.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// How many partitions `topic` has.
    fn partitions(&self, topic: Topic) -> u32;
    async fn append(&self, records: Vec<AppendRecord>) -> Result<Vec<Position>>;
    async fn read(&self, partition: TopicPartition, from: u64, max: usize) -> Result<Vec<Record>>;
    fn end_offset(&self, partition: TopicPartition) -> u64;
    fn subscribe(&self, partition: TopicPartition) -> watch::Receiver<u64>;
    async fn commit_offset(&self, group: &str, partition: TopicPartition, next: u64) -> Result<()>;
    async fn committed_offset(&self, group: &str, partition: TopicPartition)
    -> Result<Option<u64>>;

    /// Every partition of `topic`.
    fn partitions_of(&self, topic: Topic) -> Vec<TopicPartition> {
        (0..self.partitions(topic))
            .map(|p| TopicPartition::new(topic, p))
            .collect()
    }

    /// The partition a record with `key` goes to.
    fn partition_for(&self, topic: Topic, key: &str) -> TopicPartition {
        TopicPartition::new(topic, partition_for_key(key, self.partitions(topic)))
    }

    /// How many records `topic` holds, over all its partitions.
    fn records_in(&self, topic: Topic) -> u64 {
        self.partitions_of(topic)
            .into_iter()
            .map(|p| self.end_offset(p))
            .sum()
    }

    /// Waits until the partition holds a record at `offset`, or the log closes.
    async fn wait_for(&self, partition: TopicPartition, offset: u64) -> Result<()> {
        let mut end = self.subscribe(partition);
        end.wait_for(|end| *end > offset)
            .await
            .map(|_| ())
            .map_err(|_| crate::Error::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_routed_like_kafka() {
        // Kafka's own test vectors for `Utils.murmur2` (signed there).
        let vectors: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (key, hash) in vectors {
            assert_eq!(murmur2(key.as_bytes()) as i32, hash, "murmur2({key})");
        }
        assert_eq!(partition_for_key("anything", 1), 0);
        assert_eq!(
            partition_for_key("foobar", 7),
            (-790_332_482i32 & 0x7fff_ffff) as u32 % 7
        );
    }

    #[test]
    fn partition_counts_parse_with_clear_errors() {
        let parsed: Partitions = "activity=4, logs=2".parse().unwrap();
        assert_eq!(parsed.requested(Topic::Activity), Some(4));
        assert_eq!(parsed.requested(Topic::Logs), Some(2));
        assert_eq!(parsed.requested(Topic::Commerce), None);
        assert_eq!("".parse::<Partitions>().unwrap(), Partitions::default());
        assert!(
            "activity"
                .parse::<Partitions>()
                .unwrap_err()
                .contains("topic=count")
        );
        assert!(
            "orders=2"
                .parse::<Partitions>()
                .unwrap_err()
                .contains("unknown topic")
        );
        assert!(
            "activity=0"
                .parse::<Partitions>()
                .unwrap_err()
                .contains("from 1 to")
        );
    }
}
