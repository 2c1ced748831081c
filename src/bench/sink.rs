//! `bench sink`: events from the log into bronze, against the ceiling of writing the same rows
//! as ready-made Arrow batches straight to a Delta table, in the same run on the same disk.

use super::{Figure, figure, percentile, print};
use anyhow::Context as _;
use chrono::Utc;
use domain::{ActivityDetails, Actor, Event, EventId, ProductId, SessionId, ShopId};
use ingest::{AppendRecord, EmbeddedLog, Envelope, EventLog, LakeSink, Partitions, Topic};
use lakehouse::arrow::compute::concat_batches;
use lakehouse::{Lake, TableName};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Rows per commit, for the sink (its default batch) and for the ceiling alike.
const BATCH: usize = 10_000;

pub async fn bench(
    data_dir: &Path,
    json: bool,
    events: u64,
    partitions: u32,
) -> anyhow::Result<()> {
    let show = |line: String| {
        if !json {
            eprintln!("{line}");
        }
    };
    std::fs::create_dir_all(data_dir)?;
    let scratch = tempfile::tempdir_in(data_dir).context("a scratch directory on the data disk")?;
    let log = Arc::new(EmbeddedLog::open_with(
        scratch.path().join("log"),
        &Partitions::default().with(Topic::Activity, partitions),
    )?);
    show(format!("writing {events} activity events to the log …"));
    let mut written = 0u64;
    while written < events {
        let n = (events - written).min(BATCH as u64);
        log.append((written..written + n).map(synthetic_event).collect())
            .await?;
        written += n;
    }

    show("copying them to bronze with the lake sink …".into());
    let lake = Lake::open(
        scratch
            .path()
            .join("lake")
            .to_str()
            .context("a UTF-8 path")?,
    )?;
    let sink = Arc::new(LakeSink::new(log.clone(), lake.clone()));
    let mut progress = sink.progress();
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(sink.clone().run(cancel.clone()));
    let mut seen: BTreeMap<_, u64> = BTreeMap::new();
    let mut latencies = Vec::new();
    loop {
        progress.changed().await.context("the sink stopped")?;
        let now = progress.borrow_and_update().clone();
        for (at, p) in &now {
            let before = seen.insert(*at, p.commits).unwrap_or(0);
            if p.commits > before {
                // Commits seen one at a time carry their own latency; coalesced ones the last.
                latencies.push(p.last_commit_ms as f64);
            }
        }
        if now.values().map(|p| p.next).sum::<u64>() >= events {
            break;
        }
    }
    let sink_s = started.elapsed().as_secs_f64();
    cancel.cancel();
    running.await??;
    let commits: u64 = sink.progress().borrow().values().map(|p| p.commits).sum();
    let bronze = ingest::bronze_table(Topic::Activity);
    let table = lake.require_table(&bronze).await?;
    let files = table.snapshot()?.log_data().num_files();
    latencies.sort_by(f64::total_cmp);

    show("writing the same rows straight to a Delta table (the ceiling) …".into());
    let ctx = lake.session().await?;
    let rows = lakehouse::query(&ctx, "select * from bronze.activity").await?;
    let schema = rows.first().context("bronze has rows")?.schema();
    let all = concat_batches(&schema, &rows)?;
    let chunks: Vec<_> = (0..all.num_rows())
        .step_by(BATCH)
        .map(|start| all.slice(start, BATCH.min(all.num_rows() - start)))
        .collect();
    let ceiling_lake = Lake::open(
        scratch
            .path()
            .join("ceiling")
            .to_str()
            .context("a UTF-8 path")?,
    )?;
    let mut target = ceiling_lake
        .open_or_create(&TableName::bronze("activity")?, schema.clone(), &["date"])
        .await?;
    let started = Instant::now();
    for chunk in chunks {
        target = target
            .write(vec![chunk])
            .with_partition_columns(["date"])
            .await?;
    }
    let ceiling_s = started.elapsed().as_secs_f64();
    let ceiling = all.num_rows() as f64 / ceiling_s;

    let figures: Vec<Figure> = vec![
        figure(
            format!("sink {events} events, {partitions} partition(s)"),
            events as f64 / sink_s,
            "events/s",
            Some(ceiling),
        ),
        figure(
            "direct Delta write of the same rows",
            ceiling,
            "events/s",
            None,
        ),
        figure("sink commit p50", percentile(&latencies, 0.50), "ms", None),
        figure("sink commit p99", percentile(&latencies, 0.99), "ms", None),
        figure("sink commits", commits as f64, "commits", None),
        figure(
            "files per commit",
            files as f64 / commits.max(1) as f64,
            "files",
            None,
        ),
    ];
    print(&figures, "sink", json);
    Ok(())
}

/// A product view from one of 50,000 visitors, over 500 products, as the marketplace writes it.
fn synthetic_event(n: u64) -> AppendRecord {
    let event = Event::ProductView(ActivityDetails {
        product_id: Some(ProductId(uuid::Uuid::from_u128(u128::from(n % 500)))),
        shop_id: Some(ShopId(uuid::Uuid::from_u128(u128::from(n % 12)))),
        ..Default::default()
    });
    let actor = Actor::Anonymous {
        session: SessionId(uuid::Uuid::from_u128(u128::from(n % 50_000) + 1_000_000)),
    };
    let envelope = Envelope::wrap(EventId(uuid::Uuid::now_v7()), &event, actor, Utc::now());
    AppendRecord::new(Topic::Activity, envelope.key.clone(), envelope.to_bytes())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sink_bench_runs_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        super::bench(dir.path(), true, 2_500, 2).await.unwrap();
    }
}
