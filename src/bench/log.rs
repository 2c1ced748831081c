//! `bench log` and `bench log-tail`: the embedded log against the disk's own ceilings.

use super::{Figure, figure, percentile, print};
use anyhow::Context as _;
use ingest::{AppendRecord, EmbeddedLog, EventLog, Topic, TopicPartition};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENT_BYTES: usize = 300;

/// Durable appends with 1, 16 and 256 writers and batches of 1, 100 and 1000.
pub async fn appends_bench(data_dir: &Path, json: bool, seconds: f64) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let scratch = tempfile::tempdir_in(data_dir).context("a scratch directory on the data disk")?;
    let budget = Duration::from_secs_f64(seconds);
    let show = |line: String| {
        if !json {
            eprintln!("{line}");
        }
    };
    show(format!("measuring the disk under {} …", data_dir.display()));
    let (bandwidth, fsync_p50, fsync_p99) = raw_disk(scratch.path(), budget)?;
    let mut figures = vec![
        figure("raw durable sequential write", bandwidth, "MB/s", None),
        figure("raw fsync p50", fsync_p50, "ms", None),
        figure("raw fsync p99", fsync_p99, "ms", None),
    ];
    for writers in [1usize, 16, 256] {
        for batch in [1usize, 100, 1000] {
            show(format!("append batch={batch} writers={writers} …"));
            let dir = scratch.path().join(format!("log-{writers}-{batch}"));
            let run = appends(&dir, writers, batch, budget).await?;
            let name = format!("batch={batch} writers={writers}");
            figures.extend([
                figure(format!("append {name}"), run.events_per_s, "events/s", None),
                figure(
                    format!("append {name} bandwidth"),
                    run.mb_per_s,
                    "MB/s",
                    Some(bandwidth),
                ),
                figure(format!("append {name} p50"), run.p50, "ms", None),
                figure(format!("append {name} p99"), run.p99, "ms", Some(fsync_p99)),
                figure(format!("append {name} p999"), run.p999, "ms", None),
            ]);
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    print(&figures, "log", json);
    Ok(())
}

/// Writes `events` events, then tails them the way the lake sink does.
pub async fn tail_bench(data_dir: &Path, json: bool, events: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let scratch = tempfile::tempdir_in(data_dir).context("a scratch directory on the data disk")?;
    let figures = tail(scratch.path(), events, json).await?;
    print(&figures, "log-tail", json);
    Ok(())
}

/// Resident memory of this process in MB, from /proc (Linux).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn tail(dir: &Path, events: u64, quiet: bool) -> anyhow::Result<Vec<Figure>> {
    let log = Arc::new(EmbeddedLog::open(dir)?);
    let value = vec![b'e'; EVENT_BYTES - 20];
    let started = Instant::now();
    let mut written = 0u64;
    while written < events {
        let n = (events - written).min(1000);
        let records = (0..n)
            .map(|_| AppendRecord::new(Topic::Activity, "visitor", value.clone()))
            .collect();
        log.append(records).await?;
        written += n;
        if !quiet && written.is_multiple_of(1_000_000) {
            eprintln!("written {written} events");
        }
    }
    let write_s = started.elapsed().as_secs_f64();
    let rss_before = rss_mb();
    let mut rss_peak = rss_before;
    let started = Instant::now();
    let mut next = 0u64;
    let mut checksum = 0u64;
    while next < events {
        let records = log
            .read(TopicPartition::new(Topic::Activity, 0), next, 10_000)
            .await?;
        let Some(last) = records.last() else { break };
        next = last.offset + 1;
        checksum = checksum.wrapping_add(records.iter().map(|r| r.value.len() as u64).sum::<u64>());
        if next % 100_000 < 10_000 {
            rss_peak = rss_peak.max(rss_mb());
        }
    }
    anyhow::ensure!(next == events, "read {next} of {events} events");
    anyhow::ensure!(
        checksum == events * value.len() as u64,
        "read back different bytes"
    );
    let read_s = started.elapsed().as_secs_f64();
    rss_peak = rss_peak.max(rss_mb());
    Ok(vec![
        figure(
            format!("write {events} events"),
            events as f64 / write_s,
            "events/s",
            None,
        ),
        figure(
            format!("tail {events} events"),
            events as f64 / read_s,
            "events/s",
            None,
        ),
        figure("resident memory before tailing", rss_before, "MB", None),
        figure("resident memory peak while tailing", rss_peak, "MB", None),
    ])
}

/// The disk's own ceilings: sequential 4 MiB writes each made durable with `fdatasync`, and the
/// latency of a 4 KiB write + `fdatasync`.
fn raw_disk(dir: &Path, budget: Duration) -> anyhow::Result<(f64, f64, f64)> {
    let path = dir.join("raw");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let chunk = vec![0x5a_u8; 4 << 20];
    let started = Instant::now();
    let mut written = 0usize;
    while started.elapsed() < budget || written < (64 << 20) {
        file.write_all(&chunk)?;
        file.sync_data()?;
        written += chunk.len();
    }
    let bandwidth = written as f64 / 1e6 / started.elapsed().as_secs_f64();
    drop(file);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let small = vec![0x5a_u8; 4096];
    let mut latencies = Vec::new();
    let started = Instant::now();
    while latencies.len() < 50 || (started.elapsed() < budget && latencies.len() < 5000) {
        let t = Instant::now();
        file.write_all(&small)?;
        file.sync_data()?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    std::fs::remove_file(&path).ok();
    latencies.sort_by(f64::total_cmp);
    Ok((
        bandwidth,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    ))
}

struct AppendRun {
    events_per_s: f64,
    mb_per_s: f64,
    p50: f64,
    p99: f64,
    p999: f64,
}

async fn appends(
    dir: &Path,
    writers: usize,
    batch: usize,
    budget: Duration,
) -> anyhow::Result<AppendRun> {
    let log = Arc::new(EmbeddedLog::open(dir)?);
    let started = Instant::now();
    let deadline = started + budget;
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("writer-{writer}");
            let value = vec![b'e'; EVENT_BYTES - key.len() - 20];
            let mut latencies = Vec::new();
            let mut events = 0u64;
            while Instant::now() < deadline {
                let records = (0..batch)
                    .map(|_| AppendRecord::new(Topic::Activity, key.clone(), value.clone()))
                    .collect();
                let t = Instant::now();
                log.append(records).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                events += batch as u64;
            }
            Ok::<_, ingest::Error>((events, latencies))
        }));
    }
    let mut events = 0;
    let mut latencies = Vec::new();
    for task in tasks {
        let (n, l) = task.await??;
        events += n;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let file = dir.join(format!("{}.log", TopicPartition::new(Topic::Activity, 0)));
    let bytes = std::fs::metadata(&file)
        .with_context(|| format!("the log file {}", file.display()))?
        .len() as f64;
    Ok(AppendRun {
        events_per_s: events as f64 / elapsed,
        mb_per_s: bytes / 1e6 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_measure_events_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let run = appends(&dir.path().join("log"), 2, 10, Duration::from_millis(50))
            .await
            .unwrap();
        assert!(run.events_per_s > 0.0 && run.mb_per_s > 0.0);
        assert!(run.p50 <= run.p99 && run.p99 <= run.p999);
    }
}
