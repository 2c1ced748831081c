//! The lake sink is SIGKILLed at random moments while events pour into the log, again and again.
//! After every kill the bronze table holds no record twice; after the last restart it holds every
//! log record exactly once.

use chrono::Utc;
use domain::{ActivityDetails, Actor, Event, EventId, SessionId};
use ingest::{AppendRecord, EmbeddedLog, Envelope, EventLog, LakeSink, Partitions, Topic};
use lakehouse::Lake;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const DIR_VAR: &str = "INGEST_SINK_KILL_DIR";
const ROUNDS: u32 = 30;

fn partitions() -> Partitions {
    Partitions::default().with(Topic::Activity, 2)
}

fn open(dir: &Path) -> (Arc<dyn EventLog>, Lake) {
    let log: Arc<dyn EventLog> =
        Arc::new(EmbeddedLog::open_with(dir.join("log"), &partitions()).expect("the log opens"));
    let lake = Lake::open(dir.join("lake").to_str().unwrap()).expect("the lake opens");
    (log, lake)
}

fn search(n: u64) -> AppendRecord {
    let session = SessionId(uuid::Uuid::from_u128(u128::from(n % 7)));
    let event = Event::Search(ActivityDetails {
        query: Some(format!("q{n}")),
        ..Default::default()
    });
    let envelope = Envelope::wrap(
        EventId(uuid::Uuid::now_v7()),
        &event,
        Actor::Anonymous { session },
        Utc::now(),
    );
    AppendRecord::new(Topic::Activity, envelope.key.clone(), envelope.to_bytes())
}

/// The child: appends batches of events and runs the sink (small batches, so it commits often),
/// printing `COMMIT` after each commit, until it is killed.
#[test]
#[ignore = "run by `a_killed_sink_copies_every_record_exactly_once` as a child process"]
fn child() {
    let dir = std::env::var(DIR_VAR).expect("run by the parent test");
    let runtime = crate::child::runtime();
    runtime.block_on(async move {
        let (log, lake) = open(Path::new(&dir));
        let sink = Arc::new(LakeSink::new(log.clone(), lake).with_batch_max(40));
        let mut progress = sink.progress();
        tokio::spawn(sink.run(CancellationToken::new()));
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let batch = (n..n + 25).map(search).collect();
                log.append(batch).await.expect("append");
                n += 25;
                tokio::task::yield_now().await;
            }
        });
        while progress.changed().await.is_ok() {
            let mut out = std::io::stdout().lock();
            writeln!(out, "COMMIT").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn a_killed_sink_copies_every_record_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for round in 0..ROUNDS {
        let mut child = crate::child::spawn(
            "sink_kill::child",
            &[(DIR_VAR, dir.path().display().to_string())],
        );
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of progress updates: mid-batch, mid-commit or between.
        let kill_after = rng.random_range(1..12);
        let seen = lines
            .map_while(Result::ok)
            .filter(|l| l == "COMMIT")
            .take(kill_after)
            .count();
        assert_eq!(seen, kill_after, "round {round}: the child died on its own");
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        let (rows, distinct) = runtime.block_on(bronze_rows(dir.path()));
        assert_eq!(rows, distinct, "round {round}: a record was copied twice");
    }
    // A last, orderly catch-up: everything in the log is in the lake exactly once.
    runtime.block_on(async {
        let (log, lake) = open(dir.path());
        LakeSink::new(log.clone(), lake.clone())
            .catch_up(Topic::Activity)
            .await
            .expect("the sink catches up");
        let (rows, distinct) = bronze_rows(dir.path()).await;
        let records = log.records_in(Topic::Activity);
        assert!(records > u64::from(ROUNDS) * 25, "the children appended");
        assert_eq!((rows, distinct), (records, records));
        let ctx = lake.session().await.unwrap();
        let ids = lakehouse::query(&ctx, "select count(distinct id) as n from bronze.activity")
            .await
            .unwrap();
        let ids = lakehouse::format_batches(&ids, lakehouse::OutputFormat::Csv).unwrap();
        assert_eq!(ids.lines().nth(1), Some(records.to_string().as_str()));
    });
}

/// Rows in bronze.activity, and distinct `(partition, offset)` among them.
async fn bronze_rows(dir: &Path) -> (u64, u64) {
    let lake = Lake::open(dir.join("lake").to_str().unwrap()).unwrap();
    let ctx = lake.session().await.unwrap();
    let sql = "select count(*) as n, count(distinct (partition, offset)) as d from bronze.activity";
    let Ok(batches) = lakehouse::query(&ctx, sql).await else {
        return (0, 0); // not created yet
    };
    let csv = lakehouse::format_batches(&batches, lakehouse::OutputFormat::Csv).unwrap();
    let row = csv.lines().nth(1).unwrap_or("0,0").to_string();
    let (n, d) = row.split_once(',').unwrap();
    (n.parse().unwrap(), d.parse().unwrap())
}
