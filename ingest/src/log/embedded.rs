//! The embedded log: one append-only file per topic partition under `data/log`
//! (`activity-0.log`, …), written by one thread.
//!
//! Records are frames (see [`super::frame`]): length, CRC-32 and the record's own offset. Every
//! append goes to a single writer thread, which takes all the appends waiting at that moment
//! (group commit), writes their frames, calls `fdatasync` once per touched file and only then
//! answers each caller. So an acknowledged record survives a crash, and many concurrent
//! appenders share one flush.
//!
//! On open every file is scanned in bounded memory. A torn tail (what a crash during a write
//! leaves: an incomplete or damaged frame with nothing intact after it) is cut off; it was never
//! acknowledged. Damage followed by intact records means the file was damaged after it was
//! written: that is an error, not something to repair silently.
//!
//! Memory stays flat as a topic grows: the in-memory index keeps the position of every 256th
//! record, and a read decodes forward from the nearest entry.
//!
//! Partition counts live in `topics.json`, fixed when a topic is created; a record goes to the
//! partition of its key. Offsets of consumer groups live in `_offsets/<group>.json`, replaced
//! atomically.
//! A `LOCK` file keeps a second process from writing the same log.

use super::frame::{self, MAX_GROUP_BYTES, ScanError};
use super::{AppendRecord, EventLog, Partitions, Position, Record, TopicPartition};
use crate::topic::Topic;
use crate::{Error, Result};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot, watch};

pub use super::frame::MAX_RECORD;

/// One index entry per this many records.
const INDEX_EVERY: u64 = 256;
/// Appends waiting for the writer beyond this many make appenders wait (back-pressure), so memory
/// stays bounded however fast they come.
const QUEUE_DEPTH: usize = 1024;
/// The most bytes one read returns (it returns at least one record).
const MAX_READ_BYTES: usize = 8 << 20;
/// The partition count of each topic, written when the log is created.
const TOPICS_FILE: &str = "topics.json";

pub struct EmbeddedLog {
    dir: PathBuf,
    counts: BTreeMap<Topic, u32>,
    partitions: HashMap<TopicPartition, Arc<PartitionFile>>,
    /// `None` only while dropping.
    writer: Option<mpsc::Sender<AppendRequest>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
    offsets_lock: tokio::sync::Mutex<()>,
    _lock: File,
}

impl Drop for EmbeddedLog {
    /// Lets the writer finish what is queued before the lock is released, so a log reopened right
    /// after never races a write of the old one.
    fn drop(&mut self) {
        self.writer.take();
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}

/// What readers share with the writer thread about one partition file.
struct PartitionFile {
    path: PathBuf,
    reader: File,
    index: RwLock<SparseIndex>,
    end: watch::Sender<u64>,
}

#[derive(Clone, Debug, Default)]
struct SparseIndex {
    /// `(offset, position)` of every `INDEX_EVERY`-th record.
    entries: Vec<(u64, u64)>,
    /// Bytes of intact, durable records.
    len: u64,
}

impl SparseIndex {
    /// The indexed record at or before `offset`.
    fn seek(&self, offset: u64) -> (u64, u64) {
        let i = self.entries.partition_point(|(o, _)| *o <= offset);
        if i == 0 { (0, 0) } else { self.entries[i - 1] }
    }
}

struct AppendRequest {
    records: Vec<(TopicPartition, AppendRecord)>,
    reply: oneshot::Sender<Result<Vec<Position>>>,
}

impl AppendRequest {
    /// The bytes its frames take.
    fn bytes(&self) -> usize {
        self.records
            .iter()
            .map(|(_, r)| frame::encoded_len(&r.key, &r.value))
            .sum()
    }
}

impl EmbeddedLog {
    /// Opens (or creates) the log in `dir`, recovering each partition file. Topics it creates get
    /// one partition.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(dir, &Partitions::default())
    }

    /// Opens (or creates) the log in `dir`; topics it creates get the partitions asked for.
    /// Asking an existing topic for another count is an error.
    pub fn open_with(dir: impl AsRef<Path>, requested: &Partitions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(dir.join("_offsets")).map_err(|e| Error::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        lock.try_lock()
            .map_err(|_| Error::Locked(dir.display().to_string()))?;
        let counts = partition_counts(&dir, requested)?;
        let mut partitions = HashMap::new();
        let mut writers = HashMap::new();
        for (&topic, &count) in &counts {
            for p in 0..count {
                let at = TopicPartition::new(topic, p);
                let (file, writer) = PartitionFile::open(dir.join(format!("{at}.log")))?;
                partitions.insert(at, Arc::new(file));
                writers.insert(at, writer);
            }
        }
        sync_dir(&dir)?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let shared = partitions.clone();
        let writer_thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_loop(rx, shared, writers))
            .map_err(|e| Error::io(&dir, e))?;
        Ok(EmbeddedLog {
            dir,
            counts,
            partitions,
            writer: Some(tx),
            writer_thread: Some(writer_thread),
            offsets_lock: tokio::sync::Mutex::new(()),
            _lock: lock,
        })
    }

    fn file(&self, at: TopicPartition) -> Result<&Arc<PartitionFile>> {
        self.partitions
            .get(&at)
            .ok_or_else(|| Error::NoSuchPartition(at.to_string()))
    }

    fn offsets_path(&self, group: &str) -> Result<PathBuf> {
        super::check_group(group)?;
        Ok(self.dir.join("_offsets").join(format!("{group}.json")))
    }

    fn read_offsets(path: &Path) -> Result<BTreeMap<String, u64>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

/// The partition count of every topic: as stored in `topics.json`, or as requested (default one)
/// for topics the log does not have yet, which are then recorded. A log written before topics had
/// partitions (`<topic>.log`) becomes partition 0 of a one-partition topic.
fn partition_counts(dir: &Path, requested: &Partitions) -> Result<BTreeMap<Topic, u32>> {
    let path = dir.join(TOPICS_FILE);
    let stored: BTreeMap<String, u32> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut counts = BTreeMap::new();
    for topic in Topic::ALL {
        let legacy = dir.join(format!("{topic}.log"));
        let existing = match stored.get(topic.as_str()) {
            Some(&count) => Some(count),
            None if legacy.exists() => {
                let first = dir.join(format!("{}.log", TopicPartition::new(topic, 0)));
                std::fs::rename(&legacy, &first).map_err(|e| Error::io(&legacy, e))?;
                Some(1)
            }
            None => None,
        };
        let count = match (existing, requested.requested(topic)) {
            (Some(existing), Some(requested)) if existing != requested => {
                return Err(Error::PartitionCount {
                    topic: topic.to_string(),
                    existing,
                    requested,
                });
            }
            (Some(count), _) | (None, Some(count)) => count,
            (None, None) => 1,
        };
        counts.insert(topic, count);
    }
    let named: BTreeMap<&str, u32> = counts.iter().map(|(t, c)| (t.as_str(), *c)).collect();
    if named.len() != stored.len() || named.iter().any(|(t, c)| stored.get(*t) != Some(c)) {
        write_atomically(&path, &serde_json::to_vec_pretty(&named)?)?;
    }
    Ok(counts)
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new file, durably.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

#[async_trait]
impl EventLog for EmbeddedLog {
    fn partitions(&self, topic: Topic) -> u32 {
        self.counts[&topic]
    }

    async fn append(&self, records: Vec<AppendRecord>) -> Result<Vec<Position>> {
        if let Some(big) = records.iter().find(|r| {
            frame::encoded_len(&r.key, &r.value) - frame::HEADER > MAX_RECORD
                || r.key.len() > u16::MAX as usize
        }) {
            return Err(Error::RecordTooLarge(big.value.len() + big.key.len()));
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let records = records
            .into_iter()
            .map(|r| (self.partition_for(r.topic, &r.key), r))
            .collect();
        let (reply, answer) = oneshot::channel();
        let writer = self.writer.as_ref().ok_or(Error::Closed)?;
        writer
            .send(AppendRequest { records, reply })
            .await
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    async fn read(&self, at: TopicPartition, from: u64, max: usize) -> Result<Vec<Record>> {
        let file = self.file(at)?.clone();
        tokio::task::spawn_blocking(move || file.read(at, from, max))
            .await
            .map_err(|_| Error::Closed)?
    }

    /// Zero for a partition the topic does not have.
    fn end_offset(&self, at: TopicPartition) -> u64 {
        self.file(at).map_or(0, |f| *f.end.borrow())
    }

    /// A partition the topic does not have never grows.
    fn subscribe(&self, at: TopicPartition) -> watch::Receiver<u64> {
        match self.file(at) {
            Ok(file) => file.end.subscribe(),
            Err(_) => watch::channel(0).1,
        }
    }

    async fn commit_offset(&self, group: &str, at: TopicPartition, next: u64) -> Result<()> {
        self.file(at)?;
        super::check_commit(group, at, next, self.end_offset(at))?;
        let path = self.offsets_path(group)?;
        let _guard = self.offsets_lock.lock().await;
        tokio::task::spawn_blocking(move || {
            let mut offsets = Self::read_offsets(&path)?;
            offsets.insert(at.to_string(), next);
            write_atomically(&path, &serde_json::to_vec_pretty(&offsets)?)
        })
        .await
        .map_err(|_| Error::Closed)?
    }

    async fn committed_offset(&self, group: &str, at: TopicPartition) -> Result<Option<u64>> {
        let path = self.offsets_path(group)?;
        let _guard = self.offsets_lock.lock().await;
        Ok(Self::read_offsets(&path)?.get(&at.to_string()).copied())
    }
}

/// The writer thread's own handle on a partition file.
struct PartitionWriter {
    file: File,
    /// The next offset and byte position to write.
    next: u64,
    len: u64,
}

/// The writer thread: takes every append waiting, writes them, syncs each touched file once,
/// publishes, answers. Ends when the log is dropped.
fn write_loop(
    mut rx: mpsc::Receiver<AppendRequest>,
    partitions: HashMap<TopicPartition, Arc<PartitionFile>>,
    mut writers: HashMap<TopicPartition, PartitionWriter>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        let mut bytes = group[0].bytes();
        while bytes < MAX_GROUP_BYTES {
            match rx.try_recv() {
                Ok(request) => {
                    bytes += request.bytes();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        commit_group(group, &partitions, &mut writers);
    }
}

fn commit_group(
    group: Vec<AppendRequest>,
    partitions: &HashMap<TopicPartition, Arc<PartitionFile>>,
    writers: &mut HashMap<TopicPartition, PartitionWriter>,
) {
    // Frames per partition, and each request's positions.
    let mut buffers: BTreeMap<TopicPartition, Vec<u8>> = BTreeMap::new();
    let mut new_entries: BTreeMap<TopicPartition, Vec<(u64, u64)>> = BTreeMap::new();
    let mut next: BTreeMap<TopicPartition, u64> = BTreeMap::new();
    let mut answers = Vec::with_capacity(group.len());
    for request in &group {
        let mut positions = Vec::with_capacity(request.records.len());
        for (at, record) in &request.records {
            let writer = &writers[at];
            let offset = next.entry(*at).or_insert(writer.next);
            let buf = buffers.entry(*at).or_default();
            if offset.is_multiple_of(INDEX_EVERY) {
                new_entries
                    .entry(*at)
                    .or_default()
                    .push((*offset, writer.len + buf.len() as u64));
            }
            frame::encode(buf, *offset, &record.key, &record.value);
            positions.push(Position {
                partition: *at,
                offset: *offset,
            });
            *offset += 1;
        }
        answers.push(positions);
    }
    let mut failure = None;
    for (at, buf) in &buffers {
        let writer = writers.get_mut(at).expect("every partition has a writer");
        let result = writer
            .file
            .write_all(buf)
            .and_then(|()| writer.file.sync_data());
        if let Err(e) = result {
            failure = Some(Error::io(&partitions[at].path, e));
            break;
        }
    }
    if let Some(error) = failure {
        // All or nothing: cut every touched file back; nobody has seen these records.
        for at in buffers.keys() {
            let writer = writers.get_mut(at).expect("every partition has a writer");
            if let Err(e) = writer
                .file
                .set_len(writer.len)
                .and_then(|()| writer.file.sync_data())
            {
                tracing::error!(log.file = %partitions[at].path.display(), error = %e, "could not roll back a failed append");
            }
        }
        tracing::error!(error = %error, appends = group.len(), "log append failed");
        let message = error.to_string();
        for request in group {
            let _ = request.reply.send(Err(Error::Io {
                path: "log append".into(),
                source: std::io::Error::other(message.clone()),
            }));
        }
        return;
    }
    for (at, buf) in &buffers {
        let writer = writers.get_mut(at).expect("every partition has a writer");
        writer.len += buf.len() as u64;
        writer.next = next[at];
        let shared = &partitions[at];
        {
            let mut index = shared.index.write().expect("index lock");
            index
                .entries
                .extend(new_entries.remove(at).unwrap_or_default());
            index.len = writer.len;
        }
        shared.end.send_replace(writer.next);
    }
    for (request, offsets) in group.into_iter().zip(answers) {
        let _ = request.reply.send(Ok(offsets));
    }
}

impl PartitionFile {
    fn open(path: PathBuf) -> Result<(Self, PartitionWriter)> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let total = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let reader = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let scanned = match frame::scan(std::io::BufReader::new(&reader), total, INDEX_EVERY) {
            Ok(scanned) => scanned,
            Err(ScanError::Io(e)) => return Err(Error::io(&path, e)),
            Err(ScanError::Corrupt { position, reason }) => {
                return Err(Error::Corrupt {
                    path: path.display().to_string(),
                    position,
                    reason: reason.into(),
                });
            }
        };
        if scanned.torn_bytes > 0 {
            tracing::warn!(
                log.file = %path.display(),
                kept_bytes = scanned.valid_len,
                dropped_bytes = scanned.torn_bytes,
                "cutting off a torn, never-acknowledged tail"
            );
            file.set_len(scanned.valid_len)
                .map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        let (end, _) = watch::channel(scanned.records);
        let index = SparseIndex {
            entries: scanned.index,
            len: scanned.valid_len,
        };
        let writer = PartitionWriter {
            file,
            next: scanned.records,
            len: scanned.valid_len,
        };
        Ok((
            PartitionFile {
                path,
                reader,
                index: RwLock::new(index),
                end,
            },
            writer,
        ))
    }

    fn read(&self, partition: TopicPartition, from: u64, max: usize) -> Result<Vec<Record>> {
        let until = super::read_range(partition, from, max, *self.end.borrow())?.end;
        if until == from {
            return Ok(Vec::new());
        }
        let (index, len) = {
            let index = self.index.read().expect("index lock");
            (index.seek(from), index.len)
        };
        let (mut offset, mut position) = index;
        let mut records = Vec::with_capacity((until - from).min(4096) as usize);
        let mut bytes_out = 0usize;
        let mut buf = Vec::new();
        // Start small (a tailing reader wants a few records), double up to MAX_READ_BYTES.
        let mut window = 256 << 10;
        while offset < until && position < len {
            let want = ((len - position) as usize).min(window);
            buf.resize(want, 0);
            self.reader
                .read_exact_at(&mut buf, position)
                .map_err(|e| Error::io(&self.path, e))?;
            let mut at = 0;
            while offset < until && at < buf.len() {
                match frame::check(&buf[at..]) {
                    frame::Check::Complete(frame_len) => {
                        if offset >= from {
                            let record = frame::decode(&buf[at..]).expect("checked complete");
                            if record.offset != offset {
                                return Err(
                                    self.corrupt(position + at as u64, "record out of sequence")
                                );
                            }
                            bytes_out += record.value.len();
                            records.push(Record {
                                partition,
                                offset,
                                key: record.key,
                                value: record.value,
                            });
                        }
                        offset += 1;
                        at += frame_len;
                        if bytes_out >= MAX_READ_BYTES {
                            return Ok(records);
                        }
                    }
                    frame::Check::Incomplete if at > 0 => break,
                    // Durable bytes always hold whole frames: one cut short is damage.
                    frame::Check::Incomplete
                        if want as u64 == len - position || want >= frame::HEADER + MAX_RECORD =>
                    {
                        return Err(self.corrupt(position, "record cut short"));
                    }
                    frame::Check::Incomplete => break,
                    frame::Check::Invalid(reason) => {
                        return Err(self.corrupt(position + at as u64, reason));
                    }
                }
            }
            position += at as u64;
            window = (window * 2).min(MAX_READ_BYTES.max(frame::HEADER + MAX_RECORD));
        }
        Ok(records)
    }

    fn corrupt(&self, position: u64, reason: &str) -> Error {
        Error::Corrupt {
            path: self.path.display().to_string(),
            position,
            reason: format!("{reason} (the file changed after it was written)"),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p0(topic: Topic) -> TopicPartition {
        TopicPartition::new(topic, 0)
    }

    fn offsets(positions: Vec<Position>) -> Vec<u64> {
        positions.into_iter().map(|p| p.offset).collect()
    }

    fn record(topic: Topic, n: u32) -> AppendRecord {
        AppendRecord::new(topic, format!("k{n}"), format!("value {n}").into_bytes())
    }

    #[tokio::test]
    async fn appends_read_back_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            let stored = offsets(
                log.append(vec![
                    record(Topic::Activity, 0),
                    record(Topic::Commerce, 1),
                    record(Topic::Activity, 2),
                ])
                .await
                .unwrap(),
            );
            assert_eq!(stored, vec![0, 0, 1]);
            assert_eq!(log.end_offset(p0(Topic::Activity)), 2);
            let appended = log.append(vec![record(Topic::Activity, 3)]).await.unwrap();
            assert_eq!(offsets(appended), vec![2]);
            assert!(
                EmbeddedLog::open(dir.path()).is_err(),
                "a second writer is locked out"
            );
        }
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let read = log.read(p0(Topic::Activity), 0, 10).await.unwrap();
        let values: Vec<_> = read
            .iter()
            .map(|r| String::from_utf8(r.value.clone()).unwrap())
            .collect();
        assert_eq!(values, ["value 0", "value 2", "value 3"]);
        assert_eq!(read[2].offset, 2);
        assert_eq!(read[1].key, "k2");
        assert_eq!(
            log.read(p0(Topic::Activity), 1, 1).await.unwrap()[0].offset,
            1
        );
        assert!(
            log.read(p0(Topic::Activity), 3, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(log.read(p0(Topic::Activity), 4, 10).await.is_err());
        assert_eq!(log.read(p0(Topic::Commerce), 0, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_and_never_served() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            log.append(vec![record(Topic::Logs, 0), record(Topic::Logs, 1)])
                .await
                .unwrap();
        }
        let path = dir.path().join("logs-0.log");
        let full = std::fs::read(&path).unwrap();
        // Every cut inside the second frame leaves exactly the first record.
        let first_len = frame::encoded_len("k0", b"value 0");
        for cut in first_len + 1..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let log = EmbeddedLog::open(dir.path()).unwrap();
            let records = log.read(p0(Topic::Logs), 0, 10).await.unwrap();
            assert_eq!(records.len(), 1, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), first_len as u64);
            // The log keeps working after recovery.
            assert_eq!(
                offsets(log.append(vec![record(Topic::Logs, 9)]).await.unwrap()),
                vec![1]
            );
            drop(log);
        }
    }

    #[tokio::test]
    async fn damage_in_the_middle_is_an_error_not_a_repair() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            log.append((0..3).map(|n| record(Topic::Chat, n)).collect())
                .await
                .unwrap();
        }
        let path = dir.path().join("chat-0.log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[frame::HEADER + 3] ^= 0xff; // inside the first record's body
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            EmbeddedLog::open(dir.path()),
            Err(Error::Corrupt { position: 0, .. })
        ));
    }

    #[tokio::test]
    async fn consumer_offsets_are_committed_per_group_and_topic() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            log.append((0..5).map(|n| record(Topic::Activity, n)).collect())
                .await
                .unwrap();
            assert_eq!(
                log.committed_offset("sink", p0(Topic::Activity))
                    .await
                    .unwrap(),
                None
            );
            log.commit_offset("sink", p0(Topic::Activity), 3)
                .await
                .unwrap();
            log.commit_offset("other", p0(Topic::Activity), 5)
                .await
                .unwrap();
            assert!(
                log.commit_offset("sink", p0(Topic::Activity), 6)
                    .await
                    .is_err()
            );
            assert!(
                log.commit_offset("../evil", p0(Topic::Activity), 1)
                    .await
                    .is_err()
            );
        }
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert_eq!(
            log.committed_offset("sink", p0(Topic::Activity))
                .await
                .unwrap(),
            Some(3)
        );
        assert_eq!(
            log.committed_offset("other", p0(Topic::Activity))
                .await
                .unwrap(),
            Some(5)
        );
        assert_eq!(
            log.committed_offset("sink", p0(Topic::Commerce))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn subscribers_wake_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let waiter = {
            let log = log.clone();
            tokio::spawn(async move { log.wait_for(p0(Topic::Activity), 0).await })
        };
        log.append(vec![record(Topic::Activity, 0)]).await.unwrap();
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn reads_cross_windows_and_index_entries_and_large_records() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; 3 << 20]; // larger than the first read window
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            let small: Vec<_> = (0..1000).map(|n| record(Topic::Activity, n)).collect();
            log.append(small).await.unwrap();
            log.append(vec![AppendRecord::new(Topic::Activity, "big", big.clone())])
                .await
                .unwrap();
            log.append((1000..1300).map(|n| record(Topic::Activity, n)).collect())
                .await
                .unwrap();
        }
        // After a reopen the index comes from the recovery scan; reads start anywhere.
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert_eq!(log.end_offset(p0(Topic::Activity)), 1301);
        for from in [0, 1, 255, 256, 257, 999, 1000, 1001, 1300] {
            let records = log.read(p0(Topic::Activity), from, 3).await.unwrap();
            assert_eq!(records[0].offset, from, "read from {from}");
            for r in &records {
                let expected = match r.offset {
                    1000 => big.clone(),
                    o if o < 1000 => format!("value {o}").into_bytes(),
                    o => format!("value {}", o - 1).into_bytes(),
                };
                assert_eq!(r.value, expected, "offset {}", r.offset);
            }
        }
        let all = log.read(p0(Topic::Activity), 0, 10_000).await.unwrap();
        assert_eq!(
            all.len(),
            1301,
            "one read returns everything under the byte cap"
        );
        assert!(all.iter().enumerate().all(|(i, r)| r.offset == i as u64));
    }

    #[tokio::test]
    async fn one_read_returns_a_bounded_number_of_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let records = (0..20)
            .map(|n| AppendRecord::new(Topic::Logs, "k", vec![n as u8; 1 << 20]))
            .collect();
        log.append(records).await.unwrap();
        let first = log.read(p0(Topic::Logs), 0, 1000).await.unwrap();
        assert!(
            first.len() < 20 && first.len() * (1 << 20) >= MAX_READ_BYTES,
            "read {} MiB",
            first.len()
        );
        let rest = log
            .read(p0(Topic::Logs), first.len() as u64, 1000)
            .await
            .unwrap();
        assert_eq!(rest[0].offset as usize, first.len());
        assert_eq!(rest[0].value[0] as usize, first.len());
    }

    #[tokio::test]
    async fn keys_keep_their_partition_and_counts_are_fixed_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        let four = Partitions::default().with(Topic::Activity, 4);
        let records: Vec<_> = (0..200).map(|n| record(Topic::Activity, n % 20)).collect();
        {
            let log = EmbeddedLog::open_with(dir.path(), &four).unwrap();
            assert_eq!(log.partitions(Topic::Activity), 4);
            assert_eq!(log.partitions(Topic::Commerce), 1);
            let positions = log.append(records.clone()).await.unwrap();
            for (record, position) in records.iter().zip(&positions) {
                assert_eq!(
                    position.partition,
                    log.partition_for(Topic::Activity, &record.key)
                );
            }
            let used: std::collections::BTreeSet<_> =
                positions.iter().map(|p| p.partition.partition).collect();
            assert!(
                used.len() > 1,
                "20 keys spread over more than one partition"
            );
            assert_eq!(log.records_in(Topic::Activity), 200);
        }
        // Reopened without asking: the stored count holds. Asking for another is refused.
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert_eq!(log.partitions(Topic::Activity), 4);
        let mut seen = Vec::new();
        for at in log.partitions_of(Topic::Activity) {
            let read = log.read(at, 0, 1000).await.unwrap();
            assert!(read.iter().enumerate().all(|(i, r)| r.offset == i as u64));
            seen.extend(read.into_iter().map(|r| (r.key, r.value)));
        }
        seen.sort();
        let mut expected: Vec<_> = records.into_iter().map(|r| (r.key, r.value)).collect();
        expected.sort();
        assert_eq!(seen, expected);
        assert!(
            log.read(TopicPartition::new(Topic::Activity, 4), 0, 1)
                .await
                .is_err()
        );
        drop(log);
        let two = Partitions::default().with(Topic::Activity, 2);
        assert!(matches!(
            EmbeddedLog::open_with(dir.path(), &two),
            Err(Error::PartitionCount {
                existing: 4,
                requested: 2,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_log_from_before_partitions_becomes_partition_zero() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            log.append(vec![record(Topic::Commerce, 0)]).await.unwrap();
        }
        std::fs::rename(
            dir.path().join("commerce-0.log"),
            dir.path().join("commerce.log"),
        )
        .unwrap();
        std::fs::remove_file(dir.path().join(TOPICS_FILE)).unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert_eq!(log.read(p0(Topic::Commerce), 0, 10).await.unwrap().len(), 1);
    }

    #[test]
    fn oversized_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let big = AppendRecord::new(Topic::Logs, "k", vec![0; MAX_RECORD + 1]);
        assert!(matches!(
            rt.block_on(log.append(vec![big])),
            Err(Error::RecordTooLarge(_))
        ));
    }
}
