//! The `EventLog` contract: one suite, run against every backend that can run here.
//! The embedded log always; Fluvio when `FLUVIO_ENDPOINT` points at a cluster. Every backend is
//! opened with `activity` split in four partitions and the other topics in one.

use futures::future::BoxFuture;
use ingest::{AppendRecord, EmbeddedLog, EventLog, Partitions, Position, Topic, TopicPartition};
use std::path::Path;
use std::sync::Arc;

/// Opens a backend for `dir`; opening again for the same dir is a restart, a new dir a new log.
type Open = fn(&Path) -> BoxFuture<'static, Arc<dyn EventLog>>;

const ACTIVITY_PARTITIONS: u32 = 4;

fn partitions() -> Partitions {
    Partitions::default().with(Topic::Activity, ACTIVITY_PARTITIONS)
}

fn embedded(dir: &Path) -> BoxFuture<'static, Arc<dyn EventLog>> {
    let log: Arc<dyn EventLog> =
        Arc::new(EmbeddedLog::open_with(dir, &partitions()).expect("the embedded log opens"));
    Box::pin(async move { log })
}

/// Each test directory gets its own topics on the cluster, named after the directory.
#[cfg(feature = "fluvio")]
fn fluvio_cluster(dir: &Path) -> BoxFuture<'static, Arc<dyn EventLog>> {
    let endpoint = std::env::var("FLUVIO_ENDPOINT").expect("set for this suite");
    let prefix = format!(
        "contract-{}-",
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace(['.', '_'], "-")
    );
    Box::pin(async move {
        let log: Arc<dyn EventLog> = Arc::new(
            ingest::FluvioLog::connect(&endpoint, &prefix, &partitions())
                .await
                .expect("the Fluvio cluster answers"),
        );
        log
    })
}

fn record(topic: Topic, key: &str, value: &str) -> AppendRecord {
    AppendRecord::new(topic, key, value.as_bytes().to_vec())
}

/// The only partition of a one-partition topic.
fn only(topic: Topic) -> TopicPartition {
    TopicPartition::new(topic, 0)
}

fn offsets(positions: &[Position]) -> Vec<u64> {
    positions.iter().map(|p| p.offset).collect()
}

async fn append_and_read(open: Open, dir: &Path) {
    let log = open(dir).await;
    let first = log
        .append(vec![
            record(Topic::Chat, "a", "1"),
            record(Topic::Chat, "b", "2"),
        ])
        .await
        .unwrap();
    assert_eq!(offsets(&first), vec![0, 1]);
    assert!(first.iter().all(|p| p.partition == only(Topic::Chat)));
    let second = log
        .append(vec![record(Topic::Chat, "a", "3")])
        .await
        .unwrap();
    assert_eq!(offsets(&second), vec![2]);
    assert_eq!(log.end_offset(only(Topic::Chat)), 3);
    let all = log.read(only(Topic::Chat), 0, 10).await.unwrap();
    let values: Vec<_> = all
        .iter()
        .map(|r| (r.offset, r.key.as_str(), r.value.as_slice()))
        .collect();
    assert_eq!(
        values,
        vec![
            (0, "a", &b"1"[..]),
            (1, "b", &b"2"[..]),
            (2, "a", &b"3"[..])
        ]
    );
    assert!(all.iter().all(|r| r.partition == only(Topic::Chat)));
    assert_eq!(
        log.read(only(Topic::Chat), 1, 1).await.unwrap()[0].value,
        b"2"
    );
    assert!(
        log.read(only(Topic::Chat), 3, 10).await.unwrap().is_empty(),
        "reading at the end is empty, not an error"
    );
    assert!(
        log.read(only(Topic::Chat), 4, 10).await.is_err(),
        "reading past the end is an error"
    );
    assert!(
        log.read(TopicPartition::new(Topic::Chat, 1), 0, 10)
            .await
            .is_err(),
        "reading a partition the topic does not have is an error"
    );
    assert!(log.append(Vec::new()).await.unwrap().is_empty());
}

async fn tail_wakes_on_append(open: Open, dir: &Path) {
    let log = open(dir).await;
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move {
            log.wait_for(only(Topic::Notifications), 0).await.unwrap();
            log.read(only(Topic::Notifications), 0, 10).await.unwrap()
        })
    };
    log.append(vec![record(Topic::Notifications, "u", "hello")])
        .await
        .unwrap();
    let seen = waiter.await.unwrap();
    assert_eq!(seen[0].value, b"hello");
}

async fn offsets_and_records_survive_restart(open: Open, dir: &Path) {
    {
        let log = open(dir).await;
        log.append(
            (0..10)
                .map(|i| record(Topic::Logs, "src", &i.to_string()))
                .collect(),
        )
        .await
        .unwrap();
        log.commit_offset("dashboard", only(Topic::Logs), 7)
            .await
            .unwrap();
        assert!(
            log.commit_offset("dashboard", only(Topic::Logs), 11)
                .await
                .is_err(),
            "no committing past the end"
        );
    }
    let log = open(dir).await;
    assert_eq!(log.partitions(Topic::Activity), ACTIVITY_PARTITIONS);
    assert_eq!(log.end_offset(only(Topic::Logs)), 10);
    assert_eq!(
        log.committed_offset("dashboard", only(Topic::Logs))
            .await
            .unwrap(),
        Some(7)
    );
    assert_eq!(
        log.committed_offset("someone-else", only(Topic::Logs))
            .await
            .unwrap(),
        None
    );
    let after = log
        .append(vec![record(Topic::Logs, "src", "10")])
        .await
        .unwrap();
    assert_eq!(
        offsets(&after),
        vec![10],
        "offsets continue after a restart"
    );
}

async fn order_per_key_under_concurrency(open: Open, dir: &Path) {
    let log = open(dir).await;
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..50 {
                    let batch = (0..3)
                        .map(|j| {
                            record(Topic::Activity, &format!("k{w}"), &format!("{}", i * 3 + j))
                        })
                        .collect();
                    log.append(batch).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    // Each key stays in its partition and keeps its order there; the keys spread over partitions.
    let mut next = std::collections::HashMap::new();
    let mut total = 0;
    let mut used = 0;
    for at in log.partitions_of(Topic::Activity) {
        let records = log.read(at, 0, 10_000).await.unwrap();
        total += records.len();
        used += usize::from(!records.is_empty());
        for r in records {
            assert_eq!(r.partition, at);
            assert_eq!(log.partition_for(Topic::Activity, &r.key), at);
            let n: u32 = String::from_utf8(r.value).unwrap().parse().unwrap();
            let expected = next.entry(r.key.clone()).or_insert(0);
            assert_eq!(n, *expected, "key {} out of order", r.key);
            *expected += 1;
        }
    }
    assert_eq!(total, 16 * 150);
    assert!(
        used > 1,
        "16 keys use more than one of {ACTIVITY_PARTITIONS} partitions"
    );
    assert_eq!(log.records_in(Topic::Activity), 16 * 150);
}

async fn back_pressure_bounds_the_queue(open: Open, dir: &Path) {
    // Far more appends in flight than any queue holds: all finish, none is lost or reordered.
    let log = open(dir).await;
    let value = "x".repeat(64 << 10);
    let appends: Vec<_> = (0..2048)
        .map(|i| {
            let log = log.clone();
            let value = format!("{i}:{value}");
            tokio::spawn(async move {
                log.append(vec![record(Topic::Logs, "bulk", &value)])
                    .await
                    .unwrap()[0]
                    .offset
            })
        })
        .collect();
    let mut offsets = Vec::new();
    for a in appends {
        offsets.push(a.await.unwrap());
    }
    offsets.sort_unstable();
    assert_eq!(offsets, (0..2048).collect::<Vec<u64>>());
}

async fn suite(name: &str, open: Open) {
    macro_rules! case {
        ($f:ident) => {{
            let dir = tempfile::tempdir().unwrap();
            $f(open, dir.path()).await;
            eprintln!("{name}: {} ok", stringify!($f));
        }};
    }
    case!(append_and_read);
    case!(tail_wakes_on_append);
    case!(offsets_and_records_survive_restart);
    case!(order_per_key_under_concurrency);
    case!(back_pressure_bounds_the_queue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_log_keeps_the_contract() {
    suite("embedded", embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fluvio_log_keeps_the_contract() {
    if std::env::var("FLUVIO_ENDPOINT").is_err() {
        eprintln!(
            "Fluvio suite did not run: FLUVIO_ENDPOINT is not set (no Fluvio cluster can run on this machine)"
        );
        return;
    }
    #[cfg(feature = "fluvio")]
    suite("fluvio", fluvio_cluster).await;
    #[cfg(not(feature = "fluvio"))]
    panic!("FLUVIO_ENDPOINT is set but ingest was built without the `fluvio` feature");
}
