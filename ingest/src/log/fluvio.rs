//! The Fluvio backend of the log: the engine to move to when one machine is not enough.
//! Selected with `MARKETPLACE_LOG=fluvio://host:port`; built with the `fluvio` cargo feature.
//!
//! - Topics are created on connect (one partition each, replication 1 unless the cluster has a
//!   default), named `<prefix>commerce`, `<prefix>activity`, ….
//! - Appends go through a batching producer (16 KiB batches, 10 ms linger, read-committed
//!   isolation so an append returns only once the cluster has replicated it).
//! - Reads open a consumer at an absolute offset that stops at the end of the topic.
//! - The end offset of each topic is followed by a tailing consumer, so `subscribe` and `wait_for`
//!   work as with the embedded log.
//! - Consumer-group offsets are records in a `<prefix>offsets` topic keyed `group/topic`; the
//!   latest record per key wins.
//!
//! Fluvio has no cross-topic transaction: a batch spanning topics can be partly stored if the
//! cluster fails mid-way. Consumers de-duplicate by the envelope's event id, as with any
//! at-least-once log. The contract suite (`ingest/tests/it/contract.rs`) runs against it when
//! `FLUVIO_ENDPOINT` is set.

use super::{AppendRecord, EventLog, Record};
use crate::topic::Topic;
use crate::{Error, Result};
use async_trait::async_trait;
use fluvio::consumer::ConsumerConfigExtBuilder;
use fluvio::metadata::partition::PartitionSpec;
use fluvio::metadata::topic::TopicSpec;
use fluvio::{
    Fluvio, FluvioClusterConfig, Isolation, Offset, TopicProducerConfigBuilder, TopicProducerPool,
};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct FluvioLog {
    client: Arc<Fluvio>,
    prefix: String,
    producers: HashMap<Topic, TopicProducerPool>,
    offsets_producer: TopicProducerPool,
    ends: HashMap<Topic, watch::Sender<u64>>,
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

impl FluvioLog {
    /// Connects to the cluster at `endpoint` (`host:port` of the SC) and creates missing topics.
    pub async fn connect(endpoint: &str, prefix: &str) -> Result<Self> {
        let client = Arc::new(
            Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint))
                .await
                .map_err(remote)?,
        );
        let admin = client.admin().await;
        let names: Vec<String> = Topic::ALL
            .iter()
            .map(|t| format!("{prefix}{t}"))
            .chain([format!("{prefix}offsets")])
            .collect();
        for name in &names {
            if let Err(e) = admin
                .create(name.clone(), false, TopicSpec::new_computed(1, 1, None))
                .await
            {
                let message = format!("{e:#}");
                if !message.contains("already exists") {
                    return Err(Error::Remote(format!("creating topic {name}: {message}")));
                }
            }
        }
        let config = || {
            TopicProducerConfigBuilder::default()
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
        for topic in Topic::ALL {
            let partition = format!("{prefix}{topic}-0");
            let end = partitions
                .iter()
                .find(|p| p.name == partition)
                .map_or(0, |p| p.status.leader.leo.max(0) as u64);
            let (sender, _) = watch::channel(end);
            tails.push(tokio::spawn(tail(
                client.clone(),
                format!("{prefix}{topic}"),
                sender.clone(),
            )));
            ends.insert(topic, sender);
        }
        Ok(FluvioLog {
            client,
            prefix: prefix.to_string(),
            producers,
            offsets_producer,
            ends,
            tails,
        })
    }

    async fn read_topic(
        &self,
        name: &str,
        from: u64,
        until: u64,
    ) -> Result<Vec<(u64, String, Vec<u8>)>> {
        if from >= until {
            return Ok(Vec::new());
        }
        let config = ConsumerConfigExtBuilder::default()
            .topic(name.to_string())
            .partition(0)
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

/// Follows a topic's end offset, reconnecting after a failure.
async fn tail(client: Arc<Fluvio>, name: String, end: watch::Sender<u64>) {
    loop {
        match ConsumerConfigExtBuilder::default()
            .topic(name.clone())
            .partition(0)
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
    async fn append(&self, records: Vec<AppendRecord>) -> Result<Vec<u64>> {
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
        let mut offsets = Vec::with_capacity(pending.len());
        for (topic, output) in pending {
            let metadata = output.wait().await.map_err(remote)?;
            let offset = metadata.offset() as u64;
            self.ends[&topic].send_if_modified(|e| {
                let grew = offset + 1 > *e;
                *e = (*e).max(offset + 1);
                grew
            });
            offsets.push(offset);
        }
        Ok(offsets)
    }

    async fn read(&self, topic: Topic, from: u64, max: usize) -> Result<Vec<Record>> {
        let until = super::read_range(topic, from, max, self.end_offset(topic))?.end;
        let name = format!("{}{topic}", self.prefix);
        Ok(self
            .read_topic(&name, from, until)
            .await?
            .into_iter()
            .map(|(offset, key, value)| Record {
                topic,
                offset,
                key,
                value,
            })
            .collect())
    }

    fn end_offset(&self, topic: Topic) -> u64 {
        *self.ends[&topic].borrow()
    }

    fn subscribe(&self, topic: Topic) -> watch::Receiver<u64> {
        self.ends[&topic].subscribe()
    }

    async fn commit_offset(&self, group: &str, topic: Topic, next: u64) -> Result<()> {
        super::check_commit(group, topic, next, self.end_offset(topic))?;
        let output = self
            .offsets_producer
            .send(
                format!("{group}/{topic}").into_bytes(),
                next.to_string().into_bytes(),
            )
            .await
            .map_err(remote)?;
        self.offsets_producer.flush().await.map_err(remote)?;
        output.wait().await.map_err(remote)?;
        Ok(())
    }

    async fn committed_offset(&self, group: &str, topic: Topic) -> Result<Option<u64>> {
        let name = format!("{}offsets", self.prefix);
        let latest: BTreeMap<String, u64> = self
            .read_topic(&name, 0, u64::MAX)
            .await?
            .into_iter()
            .filter_map(|(_, key, value)| Some((key, String::from_utf8(value).ok()?.parse().ok()?)))
            .collect();
        Ok(latest.get(&format!("{group}/{topic}")).copied())
    }
}
