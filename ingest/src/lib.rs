//! The log: how events travel, where they are kept, and how they reach the lakehouse.
//!
//! - [`Envelope`] is one event on the wire (JSON, so any Fluvio or Kafka consumer can read it):
//!   `id`, `topic`, `key`, `kind`, `at`, `actor`, `v`, `payload`.
//! - [`Topic`] lists the topics: `commerce`, `activity`, `chat`, `notifications`, `logs`.
//! - [`EventLog`] is the contract every log backend keeps: topics split into partitions by key,
//!   durable batch appends that return positions, reads from an offset, a tail to wait on, and
//!   committed consumer offsets.
//!   [`EmbeddedLog`] keeps it in files under `data/log`.
//! - [`LakeSink`] copies each topic into its bronze Delta table exactly once.
//!
//! ```text
//! let log = EmbeddedLog::open("data/log")?;
//! let offsets = log.append(vec![AppendRecord::new(Topic::Activity, key, bytes)]).await?;
//! let records = log.read(TopicPartition::new(Topic::Activity, 0), 0, 100).await?;
//! ```

mod envelope;
mod error;
mod log;
mod sink;
mod topic;

pub use envelope::{ActorColumns, Envelope, SCHEMA_VERSION};
pub use error::{Error, Result};
#[cfg(feature = "fluvio")]
pub use log::FluvioLog;
pub use log::{
    AppendRecord, EmbeddedLog, EventLog, MAX_PARTITIONS, Partitions, Position, Record,
    TopicPartition, partition_for_key,
};
pub use sink::{Batching, COMMIT_BUCKETS_MS, LakeSink, SinkProgress, bronze_schema, bronze_table};
pub use topic::Topic;
