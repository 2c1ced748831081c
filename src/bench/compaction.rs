//! `bench compaction`: what many small commits cost a reader, and what compaction gives back.

use super::{Figure, figure, print};
use anyhow::Context as _;
use lakehouse::arrow::array::{Int64Array, StringArray};
use lakehouse::arrow::datatypes::{DataType, Field, Schema};
use lakehouse::arrow::record_batch::RecordBatch;
use lakehouse::{Lake, TableName};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Times the query analysts run most: a grouped count over the whole table.
const QUERY: &str = "select kind, count(*) from bronze.events group by kind";

pub async fn bench(data_dir: &Path, json: bool, commits: u64) -> anyhow::Result<()> {
    let show = |line: String| {
        if !json {
            eprintln!("{line}");
        }
    };
    std::fs::create_dir_all(data_dir)?;
    let scratch = tempfile::tempdir_in(data_dir).context("a scratch directory on the data disk")?;
    let lake = Lake::open(scratch.path().to_str().context("a UTF-8 path")?)?;
    let name = TableName::bronze("events")?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, false),
    ]));
    let mut table = lake.open_or_create(&name, schema.clone(), &[]).await?;
    show(format!("making {commits} one-row commits …"));
    let started = Instant::now();
    for n in 0..commits {
        let kind = ["view", "cart", "wishlist"][(n % 3) as usize];
        let row = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![n as i64])),
                Arc::new(StringArray::from(vec![kind])),
            ],
        )?;
        table = table.write(vec![row]).await?;
        if n > 0 && n % 1000 == 0 {
            show(format!(
                "  {n} commits, {:.0} commits/s",
                n as f64 / started.elapsed().as_secs_f64()
            ));
        }
    }
    let before_files = table.snapshot()?.log_data().num_files();
    let before_ms = query_ms(&lake).await?;
    show("compacting …".into());
    let started = Instant::now();
    let report = lake.optimize(&name).await?;
    let optimize_s = started.elapsed().as_secs_f64();
    let after_ms = query_ms(&lake).await?;
    let figures: Vec<Figure> = vec![
        figure(
            "files before compaction",
            before_files as f64,
            "files",
            None,
        ),
        figure(
            "files after compaction",
            report.files_after as f64,
            "files",
            None,
        ),
        figure("open + query before compaction", before_ms, "ms", None),
        figure(
            "open + query after compaction",
            after_ms,
            "ms",
            Some(before_ms),
        ),
        figure("compaction", optimize_s, "s", None),
    ];
    print(&figures, "compaction", json);
    Ok(())
}

/// Milliseconds to open the lake afresh (replaying its log) and run [`QUERY`], best of three.
async fn query_ms(lake: &Lake) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let ctx = lake.session().await?;
        let rows = lakehouse::query(&ctx, QUERY).await?;
        anyhow::ensure!(rows.iter().map(RecordBatch::num_rows).sum::<usize>() == 3);
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_compaction_bench_runs_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        super::bench(dir.path(), true, 30).await.unwrap();
    }
}
