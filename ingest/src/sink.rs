//! The lake sink: every topic of the log, copied exactly once into its bronze Delta table.
//!
//! Each partition of a topic is copied on its own, and each batch is committed together with a
//! Delta application transaction (`app_id = lake-sink/<topic>/<partition>`, `version = last offset
//! of the batch`). On start the sink reads that version back and resumes right after it; before every commit it reads it again and drops
//! whatever is already in the table, because delta-rs itself accepts a stale txn version. So a crash
//! between writing files and committing, or a replayed batch, adds no rows.
//!
//! Records that cannot be understood (not an envelope, unknown kind, newer schema, payload that does
//! not match its kind) go to `bronze.dead_letters` with their raw bytes and the reason, under their
//! own txn app id; nothing is dropped silently.

use crate::envelope::Envelope;
use crate::log::{EventLog, Record, TopicPartition};
use crate::topic::Topic;
use crate::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use lakehouse::arrow::array::{
    ArrayRef, BinaryBuilder, Date32Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use lakehouse::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use lakehouse::arrow::record_batch::RecordBatch;
use lakehouse::deltalake::DeltaTable;
use lakehouse::deltalake::kernel::Transaction;
use lakehouse::deltalake::kernel::transaction::CommitProperties;
use lakehouse::{Lake, TableName};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How far the sink has got with one partition of a topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkProgress {
    /// The next log offset to copy (everything before it is in the lake).
    pub next: u64,
    /// Rows written to the bronze table by this process.
    pub rows: u64,
    /// Records sent to the dead-letter table by this process.
    pub dead_letters: u64,
    /// Wall time of the last commit.
    pub last_commit_ms: u64,
    /// Commits by this process, and their total wall time.
    pub commits: u64,
    pub commit_ms_total: u64,
    /// Commits per latency bucket: at most 10, 50, 100, 250, 500, 1000, 2500 ms, and above.
    pub commit_ms_buckets: [u64; COMMIT_BUCKETS_MS.len() + 1],
    /// When the lake last held everything the log had for this partition, or when the sink
    /// started on it if it has been behind since.
    pub caught_up_at: Option<DateTime<Utc>>,
}

/// Upper bounds of the commit-latency buckets, in milliseconds.
pub const COMMIT_BUCKETS_MS: [u64; 7] = [10, 50, 100, 250, 500, 1000, 2500];

impl SinkProgress {
    /// How long the lake has been behind the log: zero when it holds everything before `end`.
    pub fn lag_seconds(&self, end: u64, now: DateTime<Utc>) -> f64 {
        if self.next >= end {
            return 0.0;
        }
        self.caught_up_at
            .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
    }

    fn record_commit(&mut self, ms: u64) {
        self.commits += 1;
        self.commit_ms_total += ms;
        self.last_commit_ms = ms;
        let bucket = COMMIT_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(COMMIT_BUCKETS_MS.len());
        self.commit_ms_buckets[bucket] += 1;
    }
}

/// When the sink closes a batch: at `max_records` records, `max_bytes` bytes, or `linger` after
/// the first record arrived, whichever comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    pub max_records: usize,
    pub max_bytes: usize,
    pub linger: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            max_records: 10_000,
            max_bytes: 16 << 20,
            linger: Duration::from_millis(200),
        }
    }
}

/// Copies topics from a log into bronze tables.
pub struct LakeSink {
    log: Arc<dyn EventLog>,
    lake: Lake,
    batching: Batching,
    progress: watch::Sender<BTreeMap<TopicPartition, SinkProgress>>,
}

/// The bronze table a topic is written to.
pub fn bronze_table(topic: Topic) -> TableName {
    TableName::bronze(topic.as_str()).expect("topic names are valid table names")
}

fn dead_letter_table() -> TableName {
    TableName::bronze("dead_letters").expect("valid table name")
}

fn app_id(at: TopicPartition) -> String {
    format!("lake-sink/{}/{}", at.topic, at.partition)
}

fn dead_letter_app_id(at: TopicPartition) -> String {
    format!("{}/dead-letters", app_id(at))
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The columns of every bronze topic table: the envelope, flattened, plus where it came from.
pub fn bronze_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("offset", DataType::Int64, false),
            Field::new("partition", DataType::Int32, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("topic", DataType::Utf8, false),
            Field::new("key", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("at", utc_micros(), false),
            Field::new("actor_role", DataType::Utf8, false),
            Field::new("actor_id", DataType::Utf8, true),
            Field::new("v", DataType::Int32, false),
            Field::new("payload", DataType::Utf8, false),
            Field::new("date", DataType::Date32, false),
        ]))
    });
    SCHEMA.clone()
}

fn dead_letter_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("topic", DataType::Utf8, false),
            Field::new("partition", DataType::Int32, false),
            Field::new("offset", DataType::Int64, false),
            Field::new("key", DataType::Utf8, false),
            Field::new("raw", DataType::Binary, false),
            Field::new("reason", DataType::Utf8, false),
            Field::new("received_at", utc_micros(), false),
            Field::new("date", DataType::Date32, false),
        ]))
    });
    SCHEMA.clone()
}

struct DeadLetter<'a> {
    record: &'a Record,
    reason: String,
}

impl LakeSink {
    pub fn new(log: Arc<dyn EventLog>, lake: Lake) -> Self {
        LakeSink {
            log,
            lake,
            batching: Batching::default(),
            progress: watch::Sender::new(BTreeMap::new()),
        }
    }

    /// When batches close (default: 10,000 records, 16 MiB or 200 ms).
    pub fn with_batching(mut self, batching: Batching) -> Self {
        self.batching = Batching {
            max_records: batching.max_records.max(1),
            max_bytes: batching.max_bytes.max(1),
            linger: batching.linger,
        };
        self
    }

    /// The most records one commit takes.
    pub fn with_batch_max(self, max_records: usize) -> Self {
        let batching = Batching {
            max_records,
            ..self.batching
        };
        self.with_batching(batching)
    }

    /// Progress per partition, updated after every commit.
    pub fn progress(&self) -> watch::Receiver<BTreeMap<TopicPartition, SinkProgress>> {
        self.progress.subscribe()
    }

    /// Copies every partition of every topic until cancelled. A storage failure is retried with
    /// back-off; anything else stops the sink with the error, so the failure is visible.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) -> Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for at in Topic::LAKE
            .into_iter()
            .flat_map(|t| self.log.partitions_of(t))
        {
            let sink = self.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move { sink.run_partition(at, cancel).await });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    cancel.cancel();
                    return Err(e);
                }
                Err(join) => {
                    cancel.cancel();
                    return Err(Error::Io {
                        path: "lake sink task".into(),
                        source: std::io::Error::other(join.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    async fn run_partition(&self, at: TopicPartition, cancel: CancellationToken) -> Result<()> {
        let mut backoff = FIRST_RETRY;
        // `None` after a storage failure: the table is opened afresh, and the resume point read
        // again from it, before the next batch.
        let mut state: Option<PartitionState> = None;
        loop {
            let current = match &mut state {
                Some(current) => current,
                None => match self.open(at).await {
                    Ok(opened) => state.insert(opened),
                    Err(e) => {
                        if !retry_after(at, e, &mut backoff, &cancel).await? {
                            return Ok(());
                        }
                        continue;
                    }
                },
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                waited = self.log.wait_for(at, current.next) => waited?,
            }
            // Linger: let the batch fill up to its size, for at most `linger`.
            let full = current.next + self.batching.max_records as u64;
            let mut end = self.log.subscribe(at);
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = end.wait_for(|e| *e >= full) => {}
                _ = tokio::time::sleep(self.batching.linger) => {}
            }
            match self.step(at, current).await {
                Ok(_) => backoff = FIRST_RETRY,
                Err(e) => {
                    state = None;
                    if !retry_after(at, e, &mut backoff, &cancel).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Copies everything the log holds right now for `topic`, then returns its progress summed
    /// over partitions, `next` being then the records copied (for `demo`, tests and tools).
    pub async fn catch_up(&self, topic: Topic) -> Result<SinkProgress> {
        for at in self.log.partitions_of(topic) {
            let mut state = self.open(at).await?;
            while state.next < self.log.end_offset(at) {
                self.step(at, &mut state).await?;
            }
        }
        Ok(self.topic_progress(topic))
    }

    /// The progress of all partitions of `topic`, summed.
    pub fn topic_progress(&self, topic: Topic) -> SinkProgress {
        self.progress
            .borrow()
            .iter()
            .filter(|(at, _)| at.topic == topic)
            .fold(SinkProgress::default(), |mut sum, (_, p)| {
                sum.next += p.next;
                sum.rows += p.rows;
                sum.dead_letters += p.dead_letters;
                sum.last_commit_ms = sum.last_commit_ms.max(p.last_commit_ms);
                sum.commits += p.commits;
                sum.commit_ms_total += p.commit_ms_total;
                for (total, n) in sum.commit_ms_buckets.iter_mut().zip(p.commit_ms_buckets) {
                    *total += n;
                }
                sum.caught_up_at = match (sum.caught_up_at, p.caught_up_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                sum
            })
    }

    /// Catches up every topic.
    pub async fn catch_up_all(&self) -> Result<()> {
        for topic in Topic::LAKE {
            self.catch_up(topic).await?;
        }
        Ok(())
    }

    async fn open(&self, at: TopicPartition) -> Result<PartitionState> {
        if !at.topic.reaches_lake() {
            return Err(Error::PrivateTopic(at.topic));
        }
        let table = self
            .lake
            .open_or_create(&bronze_table(at.topic), bronze_schema(), &["date"])
            .await?;
        let stored = self.lake.transaction_version(&table, &app_id(at)).await?;
        let next = stored.map_or(0, |v| v as u64 + 1);
        self.progress.send_modify(|p| {
            let progress = p.entry(at).or_default();
            progress.next = next;
            // Behind from the start: the lag counts from now, the first moment we know of.
            progress.caught_up_at.get_or_insert_with(Utc::now);
        });
        tracing::info!(partition = %at, resume_at = next, "lake sink resuming");
        Ok(PartitionState { table, next })
    }

    /// Reads one batch from the log and commits it. Returns how many records it consumed.
    async fn step(&self, at: TopicPartition, state: &mut PartitionState) -> Result<usize> {
        let topic = at.topic;
        let started = Instant::now();
        let mut records = self
            .log
            .read(at, state.next, self.batching.max_records)
            .await?;
        // Close the batch at `max_bytes`, keeping at least one record.
        let mut bytes = 0;
        if let Some(cut) = records.iter().position(|r| {
            bytes += r.value.len();
            bytes > self.batching.max_bytes
        }) {
            records.truncate(cut.max(1));
        }
        let Some(last) = records.last().map(|r| r.offset) else {
            return Ok(0);
        };
        let consumed = records.len();
        // What the table already holds (a batch replayed after a crash) is skipped: read the
        // bookmark before anything else. Dead letters are committed before bronze, so those of a
        // skipped record are in already too.
        state
            .table
            .update_incremental(None)
            .await
            .map_err(|e| delta_error(topic, e))?;
        let stored = self
            .lake
            .transaction_version(&state.table, &app_id(at))
            .await?;
        // A bookmark behind the batch means the table was restored to an older version
        // (`marketplace lake restore`, which moves the bookmark back with it): copy again from there.
        let resume = stored.map_or(0, |v| v as u64 + 1);
        if resume < state.next {
            tracing::info!(partition = %at, from = resume, "bronze was restored to an earlier version; copying again from there");
            state.next = resume;
            self.progress
                .send_modify(|p| p.entry(at).or_default().next = resume);
            return Ok(0);
        }
        records.retain(|r| stored.is_none_or(|v| r.offset as i64 > v));
        let (records, batches, dead) = tokio::task::spawn_blocking(move || {
            let (batches, dead) = decode_batches(topic, &records);
            (records, batches, dead)
        })
        .await
        .map_err(|_| Error::Closed)?;
        let batches = batches?;
        let dead: Vec<DeadLetter<'_>> = dead
            .into_iter()
            .map(|(i, reason)| DeadLetter {
                record: &records[i],
                reason,
            })
            .collect();
        let dead_count = if dead.is_empty() {
            0
        } else {
            self.write_dead_letters(at, &dead).await?
        };
        let written: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if written > 0 || !dead.is_empty() {
            // A batch of dead letters only still moves the bookmark, in an empty commit, so
            // the bookmark is always the last offset consumed.
            let batches = if batches.is_empty() {
                vec![RecordBatch::new_empty(bronze_schema())]
            } else {
                batches
            };
            let table = std::mem::replace(&mut state.table, DeltaTable::new_in_memory());
            state.table = table
                .write(batches)
                .with_partition_columns(["date"])
                .with_commit_properties(
                    CommitProperties::default()
                        .with_application_transaction(Transaction::new(app_id(at), last as i64)),
                )
                .await
                .map_err(|e| delta_error(topic, e))?;
        }
        state.next = last + 1;
        let caught_up = state.next >= self.log.end_offset(at);
        let elapsed = started.elapsed().as_millis() as u64;
        self.progress.send_modify(|p| {
            let progress = p.entry(at).or_default();
            progress.next = state.next;
            progress.rows += written as u64;
            progress.dead_letters += dead_count as u64;
            progress.record_commit(elapsed);
            if caught_up {
                progress.caught_up_at = Some(Utc::now());
            }
        });
        tracing::debug!(partition = %at, rows = written, dead_letters = dead_count, next = state.next, duration_ms = elapsed, "lake sink commit");
        Ok(consumed)
    }

    async fn write_dead_letters(
        &self,
        at: TopicPartition,
        dead: &[DeadLetter<'_>],
    ) -> Result<usize> {
        let topic = at.topic;
        let table = self
            .lake
            .open_or_create(&dead_letter_table(), dead_letter_schema(), &["date"])
            .await?;
        let app = dead_letter_app_id(at);
        let stored = self.lake.transaction_version(&table, &app).await?;
        let fresh: Vec<&DeadLetter<'_>> = dead
            .iter()
            .filter(|d| stored.is_none_or(|v| d.record.offset as i64 > v))
            .collect();
        let Some(last) = fresh.last().map(|d| d.record.offset) else {
            return Ok(0);
        };
        for d in &fresh {
            tracing::warn!(partition = %at, offset = d.record.offset, reason = %d.reason, "record sent to bronze.dead_letters");
        }
        let batch = dead_letter_batch(at, &fresh)?;
        table
            .write(vec![batch])
            .with_partition_columns(["date"])
            .with_commit_properties(
                CommitProperties::default()
                    .with_application_transaction(Transaction::new(app, last as i64)),
            )
            .await
            .map_err(|e| delta_error(topic, e))?;
        Ok(fresh.len())
    }
}

const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Waits out a storage failure with exponential back-off (100 ms doubling to 5 s). Errors that
/// retrying cannot fix are returned; `Ok(false)` means the sink was cancelled while waiting.
async fn retry_after(
    at: TopicPartition,
    error: Error,
    backoff: &mut Duration,
    cancel: &CancellationToken,
) -> Result<bool> {
    if !error.is_retryable() {
        return Err(error);
    }
    tracing::warn!(partition = %at, error = %error, retry_in_ms = backoff.as_millis() as u64, "lake sink failed to commit; retrying");
    let waited = tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(*backoff) => true,
    };
    *backoff = (*backoff * 2).min(Duration::from_secs(5));
    Ok(waited)
}

struct PartitionState {
    table: DeltaTable,
    next: u64,
}

fn delta_error(topic: Topic, e: lakehouse::deltalake::DeltaTableError) -> Error {
    Error::Lake(lakehouse::Error::delta(bronze_table(topic), e))
}

fn decode(topic: Topic, record: &Record) -> std::result::Result<Envelope, String> {
    let envelope =
        Envelope::from_bytes(&record.value).map_err(|e| format!("not an event envelope: {e}"))?;
    if envelope.topic != topic.as_str() {
        return Err(format!(
            "envelope says topic '{}' but arrived on '{topic}'",
            envelope.topic
        ));
    }
    envelope.event()?;
    Ok(envelope)
}

/// Decodes `records` into bronze batches, one per chunk, on every core; the records that cannot be
/// decoded come back by index, with the reason.
fn decode_batches(
    topic: Topic,
    records: &[Record],
) -> (Result<Vec<RecordBatch>>, Vec<(usize, String)>) {
    if records.is_empty() {
        return (Ok(Vec::new()), Vec::new());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(records.len().div_ceil(1000)).max(1);
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = records
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                scope.spawn(move || {
                    let mut good = Vec::with_capacity(part.len());
                    let mut dead = Vec::new();
                    for (j, record) in part.iter().enumerate() {
                        match decode(topic, record) {
                            Ok(envelope) => good.push((record, envelope)),
                            Err(reason) => dead.push((i * chunk + j, reason)),
                        }
                    }
                    let batch = (!good.is_empty()).then(|| bronze_batch(&good));
                    (batch, dead)
                })
            })
            .collect();
        let mut batches = Vec::with_capacity(parts.len());
        let mut dead = Vec::new();
        for part in parts {
            let (batch, part_dead) = part.join().expect("decoding does not panic");
            dead.extend(part_dead);
            if let Some(batch) = batch {
                batches.push(batch);
            }
        }
        (batches.into_iter().collect(), dead)
    })
}

fn days_since_epoch(at: DateTime<Utc>) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    (at.date_naive() - epoch).num_days() as i32
}

fn bronze_batch(rows: &[(&Record, Envelope)]) -> Result<RecordBatch> {
    let n = rows.len();
    let mut offset = Int64Builder::with_capacity(n);
    let mut partition = Int32Builder::with_capacity(n);
    let mut id = StringBuilder::new();
    let mut topic = StringBuilder::new();
    let mut key = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut actor_role = StringBuilder::new();
    let mut actor_id = StringBuilder::new();
    let mut v = Int32Builder::with_capacity(n);
    let mut payload = StringBuilder::new();
    let mut date = Date32Builder::with_capacity(n);
    for (record, envelope) in rows {
        offset.append_value(record.offset as i64);
        partition.append_value(record.partition.partition as i32);
        id.append_value(envelope.id.to_string());
        topic.append_value(&envelope.topic);
        key.append_value(&envelope.key);
        kind.append_value(&envelope.kind);
        at.append_value(envelope.at.timestamp_micros());
        let actor = envelope.actor_columns();
        actor_role.append_value(actor.role);
        actor_id.append_option(actor.id);
        v.append_value(envelope.v as i32);
        payload.append_value(envelope.payload.to_string());
        date.append_value(days_since_epoch(envelope.at));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(offset.finish()),
        Arc::new(partition.finish()),
        Arc::new(id.finish()),
        Arc::new(topic.finish()),
        Arc::new(key.finish()),
        Arc::new(kind.finish()),
        Arc::new(at.finish()),
        Arc::new(actor_role.finish()),
        Arc::new(actor_id.finish()),
        Arc::new(v.finish()),
        Arc::new(payload.finish()),
        Arc::new(date.finish()),
    ];
    Ok(RecordBatch::try_new(bronze_schema(), columns).map_err(lakehouse::Error::from)?)
}

fn dead_letter_batch(at: TopicPartition, dead: &[&DeadLetter<'_>]) -> Result<RecordBatch> {
    let now = Utc::now();
    let n = dead.len();
    let mut topics = StringBuilder::new();
    let mut partition = Int32Builder::with_capacity(n);
    let mut offset = Int64Builder::with_capacity(n);
    let mut key = StringBuilder::new();
    let mut raw = BinaryBuilder::new();
    let mut reason = StringBuilder::new();
    let mut received = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut date = Date32Builder::with_capacity(n);
    for d in dead {
        topics.append_value(at.topic.as_str());
        partition.append_value(at.partition as i32);
        offset.append_value(d.record.offset as i64);
        key.append_value(&d.record.key);
        raw.append_value(&d.record.value);
        reason.append_value(&d.reason);
        received.append_value(now.timestamp_micros());
        date.append_value(days_since_epoch(now));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(topics.finish()),
        Arc::new(partition.finish()),
        Arc::new(offset.finish()),
        Arc::new(key.finish()),
        Arc::new(raw.finish()),
        Arc::new(reason.finish()),
        Arc::new(received.finish()),
        Arc::new(date.finish()),
    ];
    Ok(RecordBatch::try_new(dead_letter_schema(), columns).map_err(lakehouse::Error::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{AppendRecord, EmbeddedLog};
    use domain::{ActivityDetails, Actor, Event, EventId, SessionId};

    fn event_bytes(n: u128) -> Vec<u8> {
        let event = Event::Search(ActivityDetails {
            query: Some(format!("q{n}")),
            ..Default::default()
        });
        let actor = Actor::Anonymous {
            session: SessionId(uuid::Uuid::from_u128(n)),
        };
        Envelope::wrap(EventId(uuid::Uuid::now_v7()), &event, actor, Utc::now()).to_bytes()
    }

    async fn count(lake: &Lake, sql: &str) -> i64 {
        let ctx = lake.session().await.unwrap();
        let batches = lakehouse::query(&ctx, sql).await.unwrap();
        let json = lakehouse::format_batches(&batches, lakehouse::OutputFormat::Json).unwrap();
        let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
        rows[0]["n"].as_i64().unwrap()
    }

    #[tokio::test]
    async fn copies_each_record_once_and_dead_letters_the_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path().join("log")).unwrap());
        let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let mut records: Vec<_> = (0..5)
            .map(|n| AppendRecord::new(Topic::Activity, "k", event_bytes(n)))
            .collect();
        records.insert(
            2,
            AppendRecord::new(Topic::Activity, "k", b"{not json".to_vec()),
        );
        let mut unknown = Envelope::from_bytes(&event_bytes(9)).unwrap();
        unknown.kind = "teleported".into();
        records.push(AppendRecord::new(Topic::Activity, "k", unknown.to_bytes()));
        log.append(records).await.unwrap();

        let sink = LakeSink::new(log.clone(), lake.clone()).with_batch_max(3);
        let progress = sink.catch_up(Topic::Activity).await.unwrap();
        assert_eq!(
            (progress.next, progress.rows, progress.dead_letters),
            (7, 5, 2)
        );
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.activity").await,
            5
        );
        assert_eq!(
            count(
                &lake,
                "select count(distinct offset) as n from bronze.activity"
            )
            .await,
            5
        );
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.dead_letters").await,
            2
        );
        assert_eq!(
            count(
                &lake,
                "select count(*) as n from bronze.dead_letters where reason like 'unknown kind%'"
            )
            .await,
            1
        );

        // A new sink (a restart) resumes after the last committed offset and adds nothing.
        let again = LakeSink::new(log.clone(), lake.clone());
        let progress = again.catch_up(Topic::Activity).await.unwrap();
        assert_eq!((progress.next, progress.rows), (7, 0));
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.activity").await,
            5
        );
    }

    #[tokio::test]
    async fn a_replayed_batch_adds_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path().join("log")).unwrap());
        let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        log.append(
            (0..4)
                .map(|n| AppendRecord::new(Topic::Activity, "k", event_bytes(n)))
                .collect(),
        )
        .await
        .unwrap();
        let sink = LakeSink::new(log.clone(), lake.clone());
        // Two sinks that both believe they start at offset 0: the second one's batch is a replay
        // of what the first committed, as after a crash between commit and bookkeeping.
        let at = TopicPartition::new(Topic::Activity, 0);
        let mut first = sink.open(at).await.unwrap();
        let mut stale = sink.open(at).await.unwrap();
        assert_eq!(sink.step(at, &mut first).await.unwrap(), 4);
        assert_eq!(stale.next, 0);
        assert_eq!(sink.step(at, &mut stale).await.unwrap(), 4);
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.activity").await,
            4
        );
    }

    #[tokio::test]
    async fn partitions_are_copied_concurrently_each_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let partitions = crate::Partitions::default().with(Topic::Activity, 3);
        let log: Arc<dyn EventLog> =
            Arc::new(EmbeddedLog::open_with(dir.path().join("log"), &partitions).unwrap());
        let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let records: Vec<_> = (0..60)
            .map(|n| {
                AppendRecord::new(
                    Topic::Activity,
                    format!("visitor-{}", n % 12),
                    event_bytes(n),
                )
            })
            .collect();
        let positions = log.append(records).await.unwrap();
        let used: std::collections::BTreeSet<_> = positions.iter().map(|p| p.partition).collect();
        assert_eq!(used.len(), 3, "12 keys reach all three partitions");

        // The running sink copies the three partitions in parallel commits to one table.
        let sink = Arc::new(LakeSink::new(log.clone(), lake.clone()).with_batch_max(7));
        let cancel = CancellationToken::new();
        let running = tokio::spawn(sink.clone().run(cancel.clone()));
        let mut progress = sink.progress();
        let ends: BTreeMap<_, _> = log
            .partitions_of(Topic::Activity)
            .into_iter()
            .map(|at| (at, log.end_offset(at)))
            .collect();
        tokio::time::timeout(
            Duration::from_secs(60),
            progress.wait_for(|p| {
                ends.iter()
                    .all(|(at, end)| p.get(at).is_some_and(|s| s.next >= *end))
            }),
        )
        .await
        .expect("the sink catches up")
        .unwrap();
        cancel.cancel();
        running.await.unwrap().unwrap();
        let copied = "select count(*) as n from bronze.activity";
        assert_eq!(count(&lake, copied).await, 60);
        let distinct = "select count(distinct (partition, offset)) as n from bronze.activity";
        assert_eq!(count(&lake, distinct).await, 60);
        let per_key_partition = "select count(distinct partition) as n from bronze.activity \
                                 group by key order by n desc limit 1";
        assert_eq!(
            count(&lake, per_key_partition).await,
            1,
            "a key stays in one partition"
        );

        // A restart resumes each partition from its own txn and adds nothing.
        let again = LakeSink::new(log.clone(), lake.clone());
        let progress = again.catch_up(Topic::Activity).await.unwrap();
        assert_eq!((progress.next, progress.rows), (60, 0));
        assert_eq!(count(&lake, copied).await, 60);
    }

    #[tokio::test]
    async fn batches_close_at_their_record_or_byte_limit() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path().join("log")).unwrap());
        let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let records: Vec<_> = (0..25)
            .map(|n| AppendRecord::new(Topic::Activity, "k", event_bytes(n)))
            .collect();
        let size = records[0].value.len();
        log.append(records).await.unwrap();
        let by_count = Batching {
            max_records: 10,
            ..Batching::default()
        };
        let sink = LakeSink::new(log.clone(), lake.clone()).with_batching(by_count);
        let progress = sink.catch_up(Topic::Activity).await.unwrap();
        assert_eq!((progress.rows, progress.commits), (25, 3), "10 + 10 + 5");
        assert_eq!(progress.commit_ms_buckets.iter().sum::<u64>(), 3);

        // Bytes: room for two records and a half, so two per batch.
        log.append(
            (25..30)
                .map(|n| AppendRecord::new(Topic::Activity, "k", event_bytes(n)))
                .collect(),
        )
        .await
        .unwrap();
        let by_bytes = Batching {
            max_bytes: size * 5 / 2,
            ..Batching::default()
        };
        let sink = LakeSink::new(log.clone(), lake.clone()).with_batching(by_bytes);
        let progress = sink.catch_up(Topic::Activity).await.unwrap();
        assert_eq!((progress.rows, progress.commits), (5, 3), "2 + 2 + 1");
        assert_eq!(progress.lag_seconds(30, Utc::now()), 0.0, "caught up");
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.activity").await,
            30
        );
    }

    #[tokio::test]
    async fn a_batch_of_dead_letters_moves_the_bookmark_and_a_restore_rewinds_it() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path().join("log")).unwrap());
        let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
        let at = TopicPartition::new(Topic::Activity, 0);
        let good = |range: std::ops::Range<u128>| {
            range
                .map(|n| AppendRecord::new(Topic::Activity, "k", event_bytes(n)))
                .collect::<Vec<_>>()
        };
        log.append(good(0..5)).await.unwrap();
        let sink = LakeSink::new(log.clone(), lake.clone());
        let mut state = sink.open(at).await.unwrap();
        sink.step(at, &mut state).await.unwrap(); // bronze v1: offsets 0..5
        log.append(vec![AppendRecord::new(
            Topic::Activity,
            "k",
            b"junk".to_vec(),
        )])
        .await
        .unwrap();
        sink.step(at, &mut state).await.unwrap(); // only a dead letter: an empty commit
        let table = lake
            .require_table(&bronze_table(Topic::Activity))
            .await
            .unwrap();
        assert_eq!(
            lake.transaction_version(&table, &app_id(at)).await.unwrap(),
            Some(5)
        );
        log.append(good(6..10)).await.unwrap();
        sink.step(at, &mut state).await.unwrap();
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.activity").await,
            9
        );

        // Restoring bronze to v1 moves the bookmark back to offset 4; the running sink notices
        // with its next batch and copies again from offset 5, so bronze ends where the log is,
        // each record once.
        lake.restore(&bronze_table(Topic::Activity), lakehouse::AsOf::Version(1))
            .await
            .unwrap();
        log.append(good(10..11)).await.unwrap();
        assert_eq!(sink.step(at, &mut state).await.unwrap(), 0);
        assert_eq!(state.next, 5);
        while state.next < log.end_offset(at) {
            sink.step(at, &mut state).await.unwrap();
        }
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.activity").await,
            10
        );
        assert_eq!(
            count(
                &lake,
                "select count(distinct offset) as n from bronze.activity"
            )
            .await,
            10
        );
        assert_eq!(
            count(&lake, "select count(*) as n from bronze.dead_letters").await,
            1,
            "the dead letter is not sent twice"
        );
    }
}
