//! The Fluvio backend of the log: the engine to move to when one machine is not enough.
//! Selected with `MARKETPLACE_LOG=fluvio://host:port`; built with the `fluvio` cargo feature.
//!
//! - Topics are created on connect with the partitions asked for (default one, replication 1),
//!   named `<prefix>commerce`, `<prefix>activity`, …; a topic that exists keeps its count, and
//!   asking it for another is an error.
//! - Records are routed by [`super::partition_for_key`], the same rule as the embedded log.
//! - Appends go through a batching producer (16 KiB batches, 10 ms linger, read-committed
//!   isolation so an append returns only once the cluster has replicated it).
//! - Reads open a consumer at an absolute offset that stops at the end of the topic.
//! - The end offset of each partition is followed by a tailing consumer, so `subscribe` and `wait_for`
//!   work as with the embedded log.
//! - Consumer-group offsets are records in a `<prefix>offsets` topic keyed `group/topic-partition`;
//!   the latest record per key wins.
//!
//! Fluvio has no cross-topic transaction: a batch spanning topics can be partly stored if the
//! cluster fails mid-way. Consumers de-duplicate by the envelope's event id, as with any
//! at-least-once log. The contract suite (`ingest/tests/it/contract.rs`) runs against it when
//! `FLUVIO_ENDPOINT` is set.

use super::{AppendRecord, EventLog, Partitions, Position, Record, TopicPartition};
use crate::topic::Topic;
use crate::{Error, Result};
use async_trait::async_trait;
use fluvio::consumer::ConsumerConfigExtBuilder;
use fluvio::metadata::partition::PartitionSpec;
use fluvio::metadata::topic::TopicSpec;
use fluvio::{
    Fluvio, FluvioClusterConfig, Isolation, Offset, PartitionId, Partitioner, PartitionerConfig,
    TopicProducerConfigBuilder, TopicProducerPool,
};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct FluvioLog {
    client: Arc<Fluvio>,
    prefix: String,
    counts: BTreeMap<Topic, u32>,
    producers: HashMap<Topic, TopicProducerPool>,
    offsets_producer: TopicProducerPool,
    ends: HashMap<TopicPartition, watch::Sender<u64>>,
    tails: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FluvioLog {
    fn drop(&mut self) {
        for tail in &self.tails {
            tail.abort();
        }
    }
}

fn remote(e: impl std::fmt::Display) -> Error {
    Error::Remote(e.to_string())
}

/// Routes keys the way every backend of the log does.
struct KeyPartitioner;

impl Partitioner for KeyPartitioner {
    fn partition(
        &self,
        config: &PartitionerConfig,
        key: Option<&[u8]>,
        _value: &[u8],
    ) -> PartitionId {
        let key = String::from_utf8_lossy(key.unwrap_or_default());
        super::partition_for_key(&key, config.partition_count())
    }
}

impl FluvioLog {
    /// Connects to the cluster at `endpoint` (`host:port` of the SC) and creates missing topics
    /// with the partitions asked for.
    pub async fn connect(endpoint: &str, prefix: &str, requested: &Partitions) -> Result<Self> {
        let client = Arc::new(
            Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint))
                .await
                .map_err(remote)?,
        );
        let admin = client.admin().await;
        let names: Vec<(String, u32)> = Topic::ALL
            .iter()
            .map(|t| (format!("{prefix}{t}"), requested.requested(*t).unwrap_or(1)))
            .chain([(format!("{prefix}offsets"), 1)])
            .collect();
        for (name, count) in &names {
            if let Err(e) = admin
                .create(
                    name.clone(),
                    false,
                    TopicSpec::new_computed(*count, 1, None),
                )
                .await
            {
                let message = format!("{e:#}");
                if !message.contains("already exists") {
                    return Err(Error::Remote(format!("creating topic {name}: {message}")));
                }
            }
        }
        let topics = admin
            .list::<TopicSpec, String>(vec![])
            .await
            .map_err(remote)?;
        let mut counts = BTreeMap::new();
        for topic in Topic::ALL {
            let name = format!("{prefix}{topic}");
            let existing = topics
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.spec.replicas().partitions())
                .ok_or_else(|| Error::Remote(format!("topic {name} is missing after creation")))?;
            if let Some(asked) = requested.requested(topic).filter(|a| *a != existing) {
                return Err(Error::PartitionCount {
                    topic: topic.to_string(),
                    existing,
                    requested: asked,
                });
            }
            counts.insert(topic, existing);
        }
        let config = || {
            TopicProducerConfigBuilder::default()
                .partitioner(Arc::new(KeyPartitioner))
                .batch_size(16 << 10)
                .linger(Duration::from_millis(10))
                .isolation(Isolation::ReadCommitted)
                .build()
                .map_err(remote)
        };
        let mut producers = HashMap::new();
        for topic in Topic::ALL {
            let producer = client
                .topic_producer_with_config(format!("{prefix}{topic}"), config()?)
                .await
                .map_err(remote)?;
            producers.insert(topic, producer);
        }
        let offsets_producer = client
            .topic_producer_with_config(format!("{prefix}offsets"), config()?)
            .await
            .map_err(remote)?;
        let partitions = admin
            .list::<PartitionSpec, String>(vec![])
            .await
            .map_err(remote)?;
        let mut ends = HashMap::new();
        let mut tails = Vec::new();
        for (&topic, &count) in &counts {
            for p in 0..count {
                let at = TopicPartition::new(topic, p);
                let name = format!("{prefix}{at}");
                let end = partitions
                    .iter()
                    .find(|p| p.name == name)
                    .map_or(0, |p| p.status.leader.leo.max(0) as u64);
                let (sender, _) = watch::channel(end);
                tails.push(tokio::spawn(tail(
                    client.clone(),
                    format!("{prefix}{topic}"),
                    p,
                    sender.clone(),
                )));
                ends.insert(at, sender);
            }
        }
        Ok(FluvioLog {
            client,
            prefix: prefix.to_string(),
            counts,
            producers,
            offsets_producer,
            ends,
            tails,
        })
    }

    async fn read_partition(
        &self,
        name: &str,
        partition: u32,
        from: u64,
        until: u64,
    ) -> Result<Vec<(u64, String, Vec<u8>)>> {
        if from >= until {
            return Ok(Vec::new());
        }
        let config = ConsumerConfigExtBuilder::default()
            .topic(name.to_string())
            .partition(partition)
            .offset_start(Offset::absolute(from as i64).map_err(remote)?)
            .disable_continuous(true)
            .build()
            .map_err(remote)?;
        let mut stream = self
            .client
            .consumer_with_config(config)
            .await
            .map_err(remote)?;
        let mut out = Vec::new();
        while let Some(next) = stream.next().await {
            let record = next.map_err(remote)?;
            let offset = record.offset() as u64;
            if offset >= until {
                break;
            }
            let key = record
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            out.push((offset, key, record.value().to_vec()));
            if offset + 1 >= until {
                break;
            }
        }
        Ok(out)
    }
}

/// Follows a partition's end offset, reconnecting after a failure.
async fn tail(client: Arc<Fluvio>, name: String, partition: u32, end: watch::Sender<u64>) {
    loop {
        match ConsumerConfigExtBuilder::default()
            .topic(name.clone())
            .partition(partition)
            .offset_start(Offset::end())
            .build()
        {
            Err(e) => tracing::warn!(topic = %name, error = %e, "fluvio tail misconfigured"),
            Ok(config) => match client.consumer_with_config(config).await {
                Err(e) => tracing::warn!(topic = %name, error = %e, "fluvio tail failed; retrying"),
                Ok(mut stream) => {
                    while let Some(Ok(record)) = stream.next().await {
                        let next = record.offset() as u64 + 1;
                        end.send_if_modified(|e| {
                            let grew = next > *e;
                            *e = (*e).max(next);
                            grew
                        });
                    }
                }
            },
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[async_trait]
impl EventLog for FluvioLog {
    fn partitions(&self, topic: Topic) -> u32 {
        self.counts[&topic]
    }

    async fn append(&self, records: Vec<AppendRecord>) -> Result<Vec<Position>> {
        let mut pending = Vec::with_capacity(records.len());
        for record in records {
            let producer = &self.producers[&record.topic];
            let output = producer
                .send(record.key.into_bytes(), record.value)
                .await
                .map_err(remote)?;
            pending.push((record.topic, output));
        }
        for producer in self.producers.values() {
            producer.flush().await.map_err(remote)?;
        }
        let mut positions = Vec::with_capacity(pending.len());
        for (topic, output) in pending {
            let metadata = output.wait().await.map_err(remote)?;
            let at = TopicPartition::new(topic, metadata.partition_id());
            let offset = metadata.offset() as u64;
            if let Some(end) = self.ends.get(&at) {
                end.send_if_modified(|e| {
                    let grew = offset + 1 > *e;
                    *e = (*e).max(offset + 1);
                    grew
                });
            }
            positions.push(Position {
                partition: at,
                offset,
            });
        }
        Ok(positions)
    }

    async fn read(&self, at: TopicPartition, from: u64, max: usize) -> Result<Vec<Record>> {
        if !self.ends.contains_key(&at) {
            return Err(Error::NoSuchPartition(at.to_string()));
        }
        let until = super::read_range(at, from, max, self.end_offset(at))?.end;
        let name = format!("{}{}", self.prefix, at.topic);
        Ok(self
            .read_partition(&name, at.partition, from, until)
            .await?
            .into_iter()
            .map(|(offset, key, value)| Record {
                partition: at,
                offset,
                key,
                value,
            })
            .collect())
    }

    fn end_offset(&self, at: TopicPartition) -> u64 {
        self.ends.get(&at).map_or(0, |e| *e.borrow())
    }

    fn subscribe(&self, at: TopicPartition) -> watch::Receiver<u64> {
        match self.ends.get(&at) {
            Some(end) => end.subscribe(),
            None => watch::channel(0).1,
        }
    }

    async fn commit_offset(&self, group: &str, at: TopicPartition, next: u64) -> Result<()> {
        if !self.ends.contains_key(&at) {
            return Err(Error::NoSuchPartition(at.to_string()));
        }
        super::check_commit(group, at, next, self.end_offset(at))?;
        let output = self
            .offsets_producer
            .send(
                format!("{group}/{at}").into_bytes(),
                next.to_string().into_bytes(),
            )
            .await
            .map_err(remote)?;
        self.offsets_producer.flush().await.map_err(remote)?;
        output.wait().await.map_err(remote)?;
        Ok(())
    }

    async fn committed_offset(&self, group: &str, at: TopicPartition) -> Result<Option<u64>> {
        let name = format!("{}offsets", self.prefix);
        let latest: BTreeMap<String, u64> = self
            .read_partition(&name, 0, 0, u64::MAX)
            .await?
            .into_iter()
            .filter_map(|(_, key, value)| Some((key, String::from_utf8(value).ok()?.parse().ok()?)))
            .collect();
        Ok(latest.get(&format!("{group}/{at}")).copied())
    }
}
