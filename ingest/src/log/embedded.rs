//! The embedded log: one append-only file per topic under `data/log`.
//!
//! A record on disk is a frame: `len: u32 LE | crc32(body): u32 LE | body`, where
//! `body = key_len: u16 LE | key | value`. An append writes all its frames and calls `fsync`
//! before it returns, so an acknowledged record survives a crash.
//!
//! On open every file is scanned. A torn tail (an incomplete frame, or a bad checksum on the very
//! last frame: what a crash during a write leaves) is cut off, since it was never acknowledged. A
//! bad checksum with more frames after it means the file was damaged later: that is an error, not
//! something to repair silently.
//!
//! Offsets of consumer groups live in `_offsets/<group>.json`, replaced atomically.
//! A `LOCK` file keeps a second process from writing the same log.

use super::{AppendRecord, EventLog, Record};
use crate::topic::Topic;
use crate::{Error, Result};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const HEADER: usize = 8;
/// The largest record the log accepts (16 MiB).
pub const MAX_RECORD: usize = 16 << 20;

pub struct EmbeddedLog {
    dir: PathBuf,
    topics: HashMap<Topic, Arc<TopicFile>>,
    offsets_lock: tokio::sync::Mutex<()>,
    _lock: File,
}

struct TopicFile {
    path: PathBuf,
    reader: File,
    inner: Mutex<TopicInner>,
    end: watch::Sender<u64>,
}

struct TopicInner {
    writer: File,
    /// Byte position of each record; index = offset.
    positions: Vec<u64>,
    len: u64,
}

impl EmbeddedLog {
    /// Opens (or creates) the log in `dir`, recovering each topic file.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
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
        let mut topics = HashMap::new();
        for topic in Topic::ALL {
            topics.insert(
                topic,
                Arc::new(TopicFile::open(
                    dir.join(format!("{}.log", topic.as_str())),
                )?),
            );
        }
        sync_dir(&dir)?;
        Ok(EmbeddedLog {
            dir,
            topics,
            offsets_lock: tokio::sync::Mutex::new(()),
            _lock: lock,
        })
    }

    fn topic(&self, topic: Topic) -> &Arc<TopicFile> {
        &self.topics[&topic]
    }

    fn offsets_path(&self, group: &str) -> Result<PathBuf> {
        let valid = !group.is_empty()
            && group.len() <= 100
            && group
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(Error::BadGroup(group.to_string()));
        }
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

#[async_trait]
impl EventLog for EmbeddedLog {
    async fn append(&self, records: Vec<AppendRecord>) -> Result<Vec<u64>> {
        if let Some(big) = records.iter().find(|r| {
            r.value.len() + r.key.len() + 2 > MAX_RECORD || r.key.len() > u16::MAX as usize
        }) {
            return Err(Error::RecordTooLarge(big.value.len() + big.key.len()));
        }
        // Group by topic, remembering each record's place in the caller's order.
        let mut by_topic: BTreeMap<Topic, Vec<(usize, AppendRecord)>> = BTreeMap::new();
        let count = records.len();
        for (i, record) in records.into_iter().enumerate() {
            by_topic.entry(record.topic).or_default().push((i, record));
        }
        let files: Vec<(Arc<TopicFile>, Vec<(usize, AppendRecord)>)> = by_topic
            .into_iter()
            .map(|(topic, records)| (self.topic(topic).clone(), records))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut offsets = vec![0; count];
            let mut written = Vec::with_capacity(files.len());
            // Topics are always locked in the same order, so two appenders cannot deadlock.
            let mut guards: Vec<_> = files
                .iter()
                .map(|(file, _)| (file, file.inner.lock().expect("log mutex")))
                .collect();
            let mut failure = None;
            for ((file, inner), (_, records)) in guards.iter_mut().zip(&files) {
                match file.append(inner, records) {
                    Ok(first) => {
                        for (n, (i, _)) in records.iter().enumerate() {
                            offsets[*i] = first + n as u64;
                        }
                        written.push(true);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if let Some(error) = failure {
                // All or nothing: undo what other topics already took.
                for ((file, inner), _) in guards.iter_mut().zip(&written) {
                    file.roll_back_last(inner);
                }
                return Err(error);
            }
            for (file, inner) in &guards {
                file.end.send_replace(inner.positions.len() as u64);
            }
            Ok(offsets)
        })
        .await
        .map_err(|_| Error::Closed)?
    }

    async fn read(&self, topic: Topic, from: u64, max: usize) -> Result<Vec<Record>> {
        let file = self.topic(topic).clone();
        tokio::task::spawn_blocking(move || file.read(topic, from, max))
            .await
            .map_err(|_| Error::Closed)?
    }

    fn end_offset(&self, topic: Topic) -> u64 {
        *self.topic(topic).end.borrow()
    }

    fn subscribe(&self, topic: Topic) -> watch::Receiver<u64> {
        self.topic(topic).end.subscribe()
    }

    async fn commit_offset(&self, group: &str, topic: Topic, next: u64) -> Result<()> {
        let end = self.end_offset(topic);
        if next > end {
            return Err(Error::OffsetOutOfRange {
                topic: topic.to_string(),
                offset: next,
                end,
            });
        }
        let path = self.offsets_path(group)?;
        let _guard = self.offsets_lock.lock().await;
        let dir = self.dir.join("_offsets");
        tokio::task::spawn_blocking(move || {
            let mut offsets = Self::read_offsets(&path)?;
            offsets.insert(topic.as_str().to_string(), next);
            let tmp = path.with_extension("json.tmp");
            let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            file.write_all(&serde_json::to_vec_pretty(&offsets)?)
                .map_err(|e| Error::io(&tmp, e))?;
            file.sync_all().map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            sync_dir(&dir)
        })
        .await
        .map_err(|_| Error::Closed)?
    }

    async fn committed_offset(&self, group: &str, topic: Topic) -> Result<Option<u64>> {
        let path = self.offsets_path(group)?;
        let _guard = self.offsets_lock.lock().await;
        Ok(Self::read_offsets(&path)?.get(topic.as_str()).copied())
    }
}

impl TopicFile {
    fn open(path: PathBuf) -> Result<Self> {
        let mut writer = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut bytes = Vec::new();
        writer
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        let scan = scan(&bytes);
        let (positions, valid_len) = match scan {
            Scan::Clean { positions } => (positions, bytes.len() as u64),
            Scan::TornTail {
                positions,
                valid_len,
            } => {
                tracing::warn!(
                    log.file = %path.display(),
                    kept_bytes = valid_len,
                    dropped_bytes = bytes.len() as u64 - valid_len,
                    "cutting off a torn, never-acknowledged tail"
                );
                writer.set_len(valid_len).map_err(|e| Error::io(&path, e))?;
                writer.sync_all().map_err(|e| Error::io(&path, e))?;
                (positions, valid_len)
            }
            Scan::Corrupt { position, reason } => {
                return Err(Error::Corrupt {
                    path: path.display().to_string(),
                    position,
                    reason,
                });
            }
        };
        let reader = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let (end, _) = watch::channel(positions.len() as u64);
        Ok(TopicFile {
            path,
            reader,
            inner: Mutex::new(TopicInner {
                writer,
                positions,
                len: valid_len,
            }),
            end,
        })
    }

    /// Writes and syncs frames; returns the first offset.
    fn append(&self, inner: &mut TopicInner, records: &[(usize, AppendRecord)]) -> Result<u64> {
        let mut buf = Vec::with_capacity(
            records
                .iter()
                .map(|(_, r)| HEADER + 2 + r.key.len() + r.value.len())
                .sum(),
        );
        let mut positions = Vec::with_capacity(records.len());
        for (_, record) in records {
            positions.push(inner.len + buf.len() as u64);
            encode_frame(&mut buf, &record.key, &record.value);
        }
        let result = inner
            .writer
            .write_all(&buf)
            .and_then(|()| inner.writer.sync_data());
        if let Err(e) = result {
            // Leave no partial frame behind for the next append to build on.
            let _ = inner.writer.set_len(inner.len);
            return Err(Error::io(&self.path, e));
        }
        let first = inner.positions.len() as u64;
        inner.positions.extend(positions);
        inner.len += buf.len() as u64;
        Ok(first)
    }

    /// Undoes the last append of this topic (used when another topic of the same batch failed).
    /// Nobody has seen those records: the end offset is published only after every topic synced.
    fn roll_back_last(&self, inner: &mut TopicInner) {
        let end = *self.end.borrow();
        if let Some(&position) = inner.positions.get(end as usize) {
            inner.positions.truncate(end as usize);
            inner.len = position;
            if let Err(e) = inner
                .writer
                .set_len(position)
                .and_then(|()| inner.writer.sync_data())
            {
                tracing::error!(log.file = %self.path.display(), error = %e, "could not roll back a failed append");
            }
        }
    }

    fn read(&self, topic: Topic, from: u64, max: usize) -> Result<Vec<Record>> {
        let end = *self.end.borrow();
        if from > end {
            return Err(Error::OffsetOutOfRange {
                topic: topic.to_string(),
                offset: from,
                end,
            });
        }
        let until = end.min(from.saturating_add(max as u64));
        if until == from {
            return Ok(Vec::new());
        }
        let (start, stop) = {
            let inner = self.inner.lock().expect("log mutex");
            let start = inner.positions[from as usize];
            let stop = inner
                .positions
                .get(until as usize)
                .copied()
                .unwrap_or(inner.len);
            (start, stop)
        };
        let mut bytes = vec![0; (stop - start) as usize];
        self.reader
            .read_exact_at(&mut bytes, start)
            .map_err(|e| Error::io(&self.path, e))?;
        let mut records = Vec::with_capacity((until - from) as usize);
        let mut at = 0;
        for offset in from..until {
            let Some((key, value, next)) = decode_frame(&bytes[at..]) else {
                return Err(Error::Corrupt {
                    path: self.path.display().to_string(),
                    position: start + at as u64,
                    reason: "a record changed on disk after it was written".into(),
                });
            };
            records.push(Record {
                topic,
                offset,
                key,
                value,
            });
            at += next;
        }
        Ok(records)
    }
}

fn encode_frame(buf: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body_len = 2 + key.len() + value.len();
    let start = buf.len();
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&(key.len() as u16).to_le_bytes());
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(value);
    let crc = crc32fast::hash(&buf[start + HEADER..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the frame at the start of `bytes`: `(key, value, frame length)`, or `None` if it is
/// incomplete or fails its checksum.
fn decode_frame(bytes: &[u8]) -> Option<(String, Vec<u8>, usize)> {
    let header = bytes.get(..HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    if !(2..=MAX_RECORD).contains(&len) {
        return None;
    }
    let body = bytes.get(HEADER..HEADER + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let key_len = u16::from_le_bytes([body[0], body[1]]) as usize;
    let key = std::str::from_utf8(body.get(2..2 + key_len)?)
        .ok()?
        .to_string();
    Some((key, body[2 + key_len..].to_vec(), HEADER + len))
}

enum Scan {
    Clean { positions: Vec<u64> },
    TornTail { positions: Vec<u64>, valid_len: u64 },
    Corrupt { position: u64, reason: String },
}

fn scan(bytes: &[u8]) -> Scan {
    let mut positions = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        match decode_frame(&bytes[at..]) {
            Some((_, _, len)) => {
                positions.push(at as u64);
                at += len;
            }
            None => {
                // Is there a complete frame after this one? Then the damage is in the middle.
                let claimed = bytes
                    .get(at..at + 4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
                let frame_end = claimed.map(|len| at + HEADER + len);
                let is_last = match frame_end {
                    Some(end) => end >= bytes.len(),
                    None => true,
                };
                if is_last
                    || claimed.is_some_and(|len| len > MAX_RECORD)
                        && !has_valid_frame_after(bytes, at)
                {
                    return Scan::TornTail {
                        positions,
                        valid_len: at as u64,
                    };
                }
                return Scan::Corrupt {
                    position: at as u64,
                    reason: "checksum mismatch with intact records after it".into(),
                };
            }
        }
    }
    Scan::Clean { positions }
}

/// Whether any well-formed frame starts after `at` (a cheap look for intact data past damage).
fn has_valid_frame_after(bytes: &[u8], at: usize) -> bool {
    (at + 1..bytes.len()).any(|i| decode_frame(&bytes[i..]).is_some())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: Topic, n: u32) -> AppendRecord {
        AppendRecord::new(topic, format!("k{n}"), format!("value {n}").into_bytes())
    }

    #[tokio::test]
    async fn appends_read_back_in_order_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            let offsets = log
                .append(vec![
                    record(Topic::Activity, 0),
                    record(Topic::Commerce, 1),
                    record(Topic::Activity, 2),
                ])
                .await
                .unwrap();
            assert_eq!(offsets, vec![0, 0, 1]);
            assert_eq!(log.end_offset(Topic::Activity), 2);
            let offsets = log.append(vec![record(Topic::Activity, 3)]).await.unwrap();
            assert_eq!(offsets, vec![2]);
            assert!(
                EmbeddedLog::open(dir.path()).is_err(),
                "a second writer is locked out"
            );
        }
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let read = log.read(Topic::Activity, 0, 10).await.unwrap();
        let values: Vec<_> = read
            .iter()
            .map(|r| String::from_utf8(r.value.clone()).unwrap())
            .collect();
        assert_eq!(values, ["value 0", "value 2", "value 3"]);
        assert_eq!(read[2].offset, 2);
        assert_eq!(read[1].key, "k2");
        assert_eq!(log.read(Topic::Activity, 1, 1).await.unwrap()[0].offset, 1);
        assert!(log.read(Topic::Activity, 3, 10).await.unwrap().is_empty());
        assert!(log.read(Topic::Activity, 4, 10).await.is_err());
        assert_eq!(log.read(Topic::Commerce, 0, 10).await.unwrap().len(), 1);
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
        let path = dir.path().join("logs.log");
        let full = std::fs::read(&path).unwrap();
        // Every cut inside the second frame leaves exactly the first record.
        let first_len = HEADER + 2 + 2 + "value 0".len();
        for cut in first_len + 1..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let log = EmbeddedLog::open(dir.path()).unwrap();
            let records = log.read(Topic::Logs, 0, 10).await.unwrap();
            assert_eq!(records.len(), 1, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), first_len as u64);
            // The log keeps working after recovery.
            assert_eq!(
                log.append(vec![record(Topic::Logs, 9)]).await.unwrap(),
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
        let path = dir.path().join("chat.log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + 3] ^= 0xff; // inside the first record's body
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
                log.committed_offset("sink", Topic::Activity).await.unwrap(),
                None
            );
            log.commit_offset("sink", Topic::Activity, 3).await.unwrap();
            log.commit_offset("other", Topic::Activity, 5)
                .await
                .unwrap();
            assert!(log.commit_offset("sink", Topic::Activity, 6).await.is_err());
            assert!(
                log.commit_offset("../evil", Topic::Activity, 1)
                    .await
                    .is_err()
            );
        }
        let log = EmbeddedLog::open(dir.path()).unwrap();
        assert_eq!(
            log.committed_offset("sink", Topic::Activity).await.unwrap(),
            Some(3)
        );
        assert_eq!(
            log.committed_offset("other", Topic::Activity)
                .await
                .unwrap(),
            Some(5)
        );
        assert_eq!(
            log.committed_offset("sink", Topic::Commerce).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn subscribers_wake_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let waiter = {
            let log = log.clone();
            tokio::spawn(async move { log.wait_for(Topic::Activity, 0).await })
        };
        log.append(vec![record(Topic::Activity, 0)]).await.unwrap();
        waiter.await.unwrap().unwrap();
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
