//! Why the embedded log keeps its own file format: the same durable-append workloads as
//! `marketplace bench log`, run against two well-kept embedded storage engines (redb, a B-tree;
//! fjall, an LSM tree with a journal) and the embedded log, in one run on one disk.
//!
//! ```text
//! cargo bench -p ingest --features storage-engines --bench storage_engines
//! ```
//!
//! Each engine stores a topic partition the way a log needs it: key = offset (big-endian), value
//! = a ~300-byte event, every acknowledged append durable (fsync/fdatasync) before it returns.

use ingest::{AppendRecord, EmbeddedLog, EventLog, Topic};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EVENT: usize = 300;
const SECONDS: f64 = 2.0;

/// A durable append of a batch of events; returns when they survive a crash.
trait Engine: Send + Sync {
    fn name(&self) -> &'static str;
    fn append(&self, events: &[Vec<u8>]);
}

struct Redb {
    db: redb::Database,
    next: AtomicU64,
}

const REDB_TABLE: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new("activity-0");

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb 4 (B-tree, Durability::Immediate)"
    }
    fn append(&self, events: &[Vec<u8>]) {
        let tx = self.db.begin_write().expect("write transaction");
        {
            let mut table = tx.open_table(REDB_TABLE).expect("table");
            for event in events {
                let offset = self.next.fetch_add(1, Ordering::Relaxed);
                table.insert(offset, event.as_slice()).expect("insert");
            }
        }
        tx.commit().expect("durable commit");
    }
}

struct Fjall {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
    next: AtomicU64,
}

impl Engine for Fjall {
    fn name(&self) -> &'static str {
        "fjall 3 (LSM + journal, SyncData per batch)"
    }
    fn append(&self, events: &[Vec<u8>]) {
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncData));
        for event in events {
            let offset = self.next.fetch_add(1, Ordering::Relaxed);
            batch.insert(&self.keyspace, offset.to_be_bytes(), event.as_slice());
        }
        batch.commit().expect("durable commit");
    }
}

struct Embedded {
    log: EmbeddedLog,
    runtime: tokio::runtime::Handle,
}

impl Engine for Embedded {
    fn name(&self) -> &'static str {
        "ingest::EmbeddedLog (frames + group commit)"
    }
    fn append(&self, events: &[Vec<u8>]) {
        let records = events
            .iter()
            .map(|e| AppendRecord::new(Topic::Activity, "visitor", e.clone()))
            .collect();
        self.runtime
            .block_on(self.log.append(records))
            .expect("durable append");
    }
}

struct Result {
    events_per_s: f64,
    p99_ms: f64,
}

/// `writers` threads append batches of `batch` events for `SECONDS`.
fn measure(engine: &Arc<dyn Engine>, writers: usize, batch: usize) -> Result {
    let events: Vec<Vec<u8>> = (0..batch)
        .map(|i| vec![b'a' + (i % 26) as u8; EVENT])
        .collect();
    let events = Arc::new(events);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs_f64(SECONDS);
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let engine = engine.clone();
            let events = events.clone();
            let latencies = latencies.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    engine.append(&events);
                    mine.push(t.elapsed());
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    Result {
        events_per_s: (latencies.len() * batch) as f64 / elapsed,
        p99_ms: p99.as_secs_f64() * 1000.0,
    }
}

fn main() {
    let scratch = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("a scratch dir on the disk under test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let redb_db = redb::Database::create(scratch.path().join("redb")).expect("redb opens");
    let fjall_db = fjall::Database::builder(scratch.path().join("fjall"))
        .open()
        .expect("fjall opens");
    let keyspace = fjall_db
        .keyspace("activity-0", fjall::KeyspaceCreateOptions::default)
        .expect("keyspace");
    let engines: Vec<Arc<dyn Engine>> = vec![
        Arc::new(Embedded {
            log: EmbeddedLog::open(scratch.path().join("log")).expect("log opens"),
            runtime: runtime.handle().clone(),
        }),
        Arc::new(Redb {
            db: redb_db,
            next: AtomicU64::new(0),
        }),
        Arc::new(Fjall {
            db: fjall_db,
            keyspace,
            next: AtomicU64::new(0),
        }),
    ];
    println!(
        "{:<46} {:<28} {:>14} {:>10}",
        "engine", "workload", "events/s", "p99 ms"
    );
    for engine in &engines {
        for (writers, batch) in [(1, 1000), (1, 1), (256, 1)] {
            let r = measure(engine, writers, batch);
            println!(
                "{:<46} {:<28} {:>14.0} {:>10.2}",
                engine.name(),
                format!("batch={batch} writers={writers}"),
                r.events_per_s,
                r.p99_ms
            );
        }
    }
}
