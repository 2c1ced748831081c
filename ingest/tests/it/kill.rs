//! A child process appends under load and is SIGKILLed at random moments, again and again. After
//! every restart, every acknowledged record is present exactly once, in order per partition,
//! intact; nothing partial is readable. `activity` has three partitions, `commerce` one.

use ingest::{AppendRecord, EmbeddedLog, EventLog, Partitions, Topic, TopicPartition};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;

const DIR_VAR: &str = "INGEST_KILL_TEST_DIR";
const GENERATION_VAR: &str = "INGEST_KILL_TEST_GENERATION";
const WRITERS: usize = 6;
const TOPICS: [Topic; 2] = [Topic::Commerce, Topic::Activity];

fn partitions() -> Partitions {
    Partitions::default().with(Topic::Activity, 3)
}

/// `g<generation>:w<writer>:<seq>:` then padding to ~300 bytes, like an event.
fn value(generation: u64, writer: usize, seq: u64) -> Vec<u8> {
    let mut v = format!("g{generation}:w{writer}:{seq}:").into_bytes();
    v.resize(300, b'x');
    v
}

fn parse(value: &[u8]) -> (u64, usize, u64) {
    let text = std::str::from_utf8(value).expect("values are text");
    let mut parts = text.split(':');
    let generation = parts.next().unwrap()[1..].parse().unwrap();
    let writer = parts.next().unwrap()[1..].parse().unwrap();
    let seq = parts.next().unwrap().parse().unwrap();
    assert!(
        text[text.rfind(':').unwrap() + 1..]
            .bytes()
            .all(|b| b == b'x'),
        "payload intact"
    );
    (generation, writer, seq)
}

/// The child: appends batches from several writers until it is killed, printing each
/// acknowledged record as `ACK <topic-partition> <offset> <generation> <writer> <seq>`.
#[test]
#[ignore = "run by `a_killed_writer_loses_nothing_it_acknowledged` as a child process"]
fn child() {
    let dir = std::env::var(DIR_VAR).expect("run by the parent test");
    let generation: u64 = std::env::var(GENERATION_VAR).unwrap().parse().unwrap();
    let runtime = crate::child::runtime();
    runtime.block_on(async move {
        let log = Arc::new(
            EmbeddedLog::open_with(&dir, &partitions()).expect("the log opens after a kill"),
        );
        for writer in 0..WRITERS {
            let log = log.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(generation * 100 + writer as u64);
                let topic = TOPICS[writer % TOPICS.len()];
                let mut seq = 0u64;
                loop {
                    let batch: Vec<AppendRecord> = (0..rng.random_range(1..40))
                        .map(|i| {
                            AppendRecord::new(
                                topic,
                                format!("w{writer}"),
                                value(generation, writer, seq + i),
                            )
                        })
                        .collect();
                    let n = batch.len() as u64;
                    let positions = log.append(batch).await.expect("append");
                    let mut out = std::io::stdout().lock();
                    for (i, p) in positions.iter().enumerate() {
                        writeln!(
                            out,
                            "ACK {} {} {generation} {writer} {}",
                            p.partition,
                            p.offset,
                            seq + i as u64
                        )
                        .unwrap();
                    }
                    out.flush().unwrap();
                    seq += n;
                }
            });
        }
        // Append until killed.
        std::future::pending::<()>().await;
    });
}

#[test]
fn a_killed_writer_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    // (partition, offset) → (generation, writer, seq), for every record a child was told is durable.
    let mut acknowledged: BTreeMap<(String, u64), (u64, usize, u64)> = BTreeMap::new();
    let rounds = 32;
    for generation in 0..rounds {
        let mut child = crate::child::spawn(
            "kill::child",
            &[
                (DIR_VAR, dir.path().display().to_string()),
                (GENERATION_VAR, generation.to_string()),
            ],
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of acknowledgements: mid-flight, with writers still appending.
        let kill_after = rng.random_range(1..400);
        let mut seen = 0;
        let record = |line: &str, acknowledged: &mut BTreeMap<_, _>| {
            let parts: Vec<&str> = line.split(' ').collect();
            if parts.len() == 6 && parts[0] == "ACK" {
                let key = (parts[1].to_string(), parts[2].parse::<u64>().unwrap());
                let value = (
                    parts[3].parse().unwrap(),
                    parts[4].parse().unwrap(),
                    parts[5].parse().unwrap(),
                );
                assert!(
                    acknowledged.insert(key.clone(), value).is_none(),
                    "offset {key:?} acknowledged twice"
                );
                true
            } else {
                false
            }
        };
        for line in lines.by_ref() {
            if record(&line.unwrap(), &mut acknowledged) {
                seen += 1;
                if seen >= kill_after {
                    break;
                }
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        // Acknowledgements already in the pipe were made before the kill: they count too.
        for line in lines {
            match line {
                Ok(line) => {
                    record(&line, &mut acknowledged);
                }
                Err(_) => break,
            }
        }
        verify(dir.path(), &acknowledged, generation);
    }
    assert!(
        acknowledged.len() > rounds as usize,
        "the children acknowledged records"
    );
    let partitions_written: std::collections::BTreeSet<&str> = acknowledged
        .keys()
        .filter(|(p, _)| p.starts_with("activity-"))
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(
        partitions_written.len() > 1,
        "the activity writers' keys spread over partitions: {partitions_written:?}"
    );
}

/// Reopens the log and checks it against everything acknowledged so far.
fn verify(
    dir: &std::path::Path,
    acknowledged: &BTreeMap<(String, u64), (u64, usize, u64)>,
    generation: u64,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let log = EmbeddedLog::open_with(dir, &partitions()).unwrap_or_else(|e| panic!("round {generation}: the log does not open after a kill: {e}"));
        let all: Vec<TopicPartition> = TOPICS.iter().flat_map(|t| log.partitions_of(*t)).collect();
        assert_eq!(all.len(), 4);
        for topic in all {
            let end = log.end_offset(topic);
            let name = topic.to_string();
            let mut records = Vec::new();
            while (records.len() as u64) < end {
                let batch = log.read(topic, records.len() as u64, 100_000).await.expect("every durable record reads back");
                assert!(!batch.is_empty(), "round {generation}: {topic} stops at {} of {end}", records.len());
                records.extend(batch);
            }
            assert_eq!(records.len() as u64, end, "round {generation}: {topic} reads back whole");
            // Per writer and generation, sequence numbers run 0, 1, 2, … with no gap or repeat.
            let mut next_seq: BTreeMap<(u64, usize), u64> = BTreeMap::new();
            for (i, r) in records.iter().enumerate() {
                assert_eq!(r.offset, i as u64);
                let (g, w, seq) = parse(&r.value);
                assert_eq!(r.key, format!("w{w}"));
                let expected = next_seq.entry((g, w)).or_insert(0);
                assert_eq!(seq, *expected, "round {generation}: {topic} offset {i} out of order or repeated");
                *expected += 1;
                if let Some(ack) = acknowledged.get(&(name.clone(), r.offset)) {
                    assert_eq!(*ack, (g, w, seq), "round {generation}: {topic} offset {i} holds another record");
                }
            }
            let acked_here = acknowledged.keys().filter(|(t, _)| *t == name).count();
            let missing = acknowledged.keys().filter(|(t, o)| *t == name && *o >= end).count();
            assert_eq!(missing, 0, "round {generation}: {missing} of {acked_here} acknowledged {topic} records are gone");
        }
    });
}
