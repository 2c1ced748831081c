//! `bench query`: the dashboards' questions over `--orders` synthetic orders (a year of a
//! marketplace's `silver.orders`), answered by DataFusion over our Delta table and by DuckDB over
//! the same Parquet files, in the same run on the same machine, with the ratio per question.
//!
//! Both engines read the very files the Delta table lists (so the same rows, row groups and
//! compression), and each question is timed warm: one unmeasured run, then the median of
//! `--runs`. DataFusion also answers over the bare Parquet files (a listing table, no Delta), which
//! tells the Delta read path's cost apart from the engine's. The answers must agree (rows and a
//! checksum of the numbers) or the bench fails.

use super::{figure, print};
use anyhow::Context as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use lakehouse::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray,
};
use lakehouse::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use lakehouse::arrow::record_batch::RecordBatch;
use lakehouse::datafusion::catalog::MemorySchemaProvider;
use lakehouse::datafusion::datasource::file_format::parquet::ParquetFormat;
use lakehouse::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use lakehouse::datafusion::prelude::SessionContext;
use lakehouse::{Lake, TableName};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// Rows per generated batch and per commit.
const BATCH: usize = 1_000_000;
const SHOPS: u64 = 400;
const SHOPPERS: u64 = 2_000_000;
const DAYS: i64 = 365;
const COUNTRIES: [&str; 8] = ["DE", "FR", "NL", "ES", "IT", "PL", "SE", "AT"];
const CITIES: [&str; 4] = ["Capital", "Harbour", "Old Town", "Riverside"];
const STATUSES: [&str; 5] = ["paid", "shipped", "delivered", "delivered", "cancelled"];
const CODES: [&str; 4] = ["WELCOME10", "SPRING", "VIP", "FREESHIP"];

/// The dashboard's questions, written once for both engines (the SQL both dialects share). The
/// range ones cover the last 30 days, as the admin dashboard does by default.
fn questions(last_day: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let from = (last_day - Duration::days(30)).format("%Y-%m-%d %H:%M:%S");
    let range = format!("placed_at >= TIMESTAMP '{from}' AND NOT cancelled");
    vec![
        (
            "kpis",
            format!(
                "SELECT COUNT(*) AS orders, CAST(SUM(total) AS BIGINT) AS revenue, \
                 CAST(SUM(fee) AS BIGINT) AS fees, COUNT(DISTINCT shopper_id) AS shoppers \
                 FROM silver.orders WHERE {range}"
            ),
        ),
        (
            "sales by day",
            format!(
                "SELECT date_trunc('day', placed_at) AS day, COUNT(*) AS orders, \
                 CAST(SUM(total) AS BIGINT) AS revenue FROM silver.orders WHERE {range} \
                 GROUP BY 1 ORDER BY 1"
            ),
        ),
        (
            "top shops",
            format!(
                "SELECT shop_id, CAST(SUM(total) AS BIGINT) AS revenue, COUNT(*) AS orders \
                 FROM silver.orders WHERE {range} GROUP BY shop_id ORDER BY revenue DESC, shop_id LIMIT 10"
            ),
        ),
        (
            "geography",
            format!(
                "SELECT country, city, COUNT(*) AS orders, CAST(SUM(total) AS BIGINT) AS revenue \
                 FROM silver.orders WHERE {range} GROUP BY country, city ORDER BY revenue DESC, country, city"
            ),
        ),
        (
            "status mix (all time)",
            "SELECT status, COUNT(*) AS orders FROM silver.orders GROUP BY status ORDER BY status"
                .to_string(),
        ),
        (
            "sales by month (all time)",
            "SELECT date_trunc('month', placed_at) AS month, COUNT(*) AS orders, \
             CAST(SUM(total) AS BIGINT) AS revenue, CAST(SUM(discount) AS BIGINT) AS discounts \
             FROM silver.orders WHERE NOT cancelled GROUP BY 1 ORDER BY 1"
                .to_string(),
        ),
        (
            "discount codes",
            format!(
                "SELECT code, COUNT(*) AS orders, CAST(SUM(discount) AS BIGINT) AS discounts \
                 FROM silver.orders WHERE {range} AND code IS NOT NULL GROUP BY code ORDER BY code"
            ),
        ),
        (
            "newest orders",
            "SELECT order_id, shop_id, total, placed_at FROM silver.orders \
             ORDER BY placed_at DESC, order_id LIMIT 20"
                .to_string(),
        ),
    ]
}

pub async fn bench(data_dir: &Path, json: bool, orders: u64, runs: usize) -> anyhow::Result<()> {
    let show = |line: String| {
        if !json {
            eprintln!("{line}");
        }
    };
    anyhow::ensure!(runs > 0, "--runs must be at least 1");
    let duckdb_ready = tokio::process::Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    anyhow::ensure!(
        duckdb_ready,
        "this bench compares with DuckDB: `pip install duckdb pyarrow` for python3 first"
    );
    std::fs::create_dir_all(data_dir)?;
    let scratch = tempfile::tempdir_in(data_dir).context("a scratch directory on the data disk")?;
    let lake = Lake::open(scratch.path().to_str().context("a UTF-8 path")?)?;
    let name = TableName::silver("orders")?;
    let first_day = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let last_day = first_day + Duration::days(DAYS);

    show(format!(
        "writing {orders} synthetic orders to silver.orders …"
    ));
    let started = Instant::now();
    let schema = orders_schema();
    let mut table = lake.open_or_create(&name, schema.clone(), &[]).await?;
    let mut written = 0u64;
    while written < orders {
        let n = (orders - written).min(BATCH as u64);
        table = table
            .write(vec![synthetic_orders(
                &schema, written, n, orders, first_day,
            )?])
            .await?;
        written += n;
        show(format!(
            "  {written} orders ({:.0} rows/s)",
            written as f64 / started.elapsed().as_secs_f64()
        ));
    }
    let files: Vec<String> = table
        .get_file_uris()?
        .map(|uri| uri.strip_prefix("file://").unwrap_or(&uri).to_string())
        .collect();

    let questions = questions(last_day);
    show("DataFusion over the Delta table …".into());
    let ctx = lake.session_with(vec![(name.clone(), table)]).await?;
    let ours = answer_all(&ctx, &questions, runs, &show).await?;
    show("DataFusion over the bare Parquet files (no Delta) …".into());
    let bare = bare_parquet_session(&files).await?;
    let bare_times = answer_all(&bare, &questions, runs, &show)
        .await
        .context("DataFusion over bare Parquet")?;

    show("DuckDB over the same Parquet files …".into());
    let theirs = duckdb(&files, &questions, runs).await?;

    let mut figures = Vec::new();
    let mut ratios = Vec::new();
    for ((((label, _), (our_ms, our_digest)), (bare_ms, bare_digest)), (their_ms, their_digest)) in
        questions.iter().zip(&ours).zip(&bare_times).zip(&theirs)
    {
        anyhow::ensure!(
            our_digest == their_digest && bare_digest == their_digest,
            "the engines disagree on {label}: DataFusion {our_digest:?}, over bare Parquet {bare_digest:?}, DuckDB {their_digest:?}"
        );
        figures.push(figure(
            format!("{label}: DataFusion"),
            *our_ms,
            "ms",
            Some(*their_ms),
        ));
        figures.push(figure(
            format!("{label}: DataFusion, bare Parquet"),
            *bare_ms,
            "ms",
            Some(*their_ms),
        ));
        ratios.push(our_ms / their_ms);
    }
    let geometric_mean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    figures.push(figure(
        "geometric mean of the ratios",
        geometric_mean,
        "×",
        None,
    ));
    figures.push(figure("orders", orders as f64, "rows", None));
    figures.push(figure("parquet files", files.len() as f64, "files", None));
    print(&figures, "query", json);
    Ok(())
}

/// Each question's median time and its answer's digest, in `ctx`.
async fn answer_all(
    ctx: &SessionContext,
    questions: &[(&str, String)],
    runs: usize,
    show: &impl Fn(String),
) -> anyhow::Result<Vec<(f64, Digest)>> {
    let mut answers = Vec::with_capacity(questions.len());
    for (label, sql) in questions {
        let (ms, answer) = timed(ctx, sql, runs)
            .await
            .with_context(|| format!("DataFusion: {label}"))?;
        answers.push((ms, digest(&answer)));
        show(format!("  {label}: {ms:.1} ms"));
    }
    Ok(answers)
}

/// The median time of `runs` runs of `sql` after one unmeasured run, and the answer.
async fn timed(
    ctx: &SessionContext,
    sql: &str,
    runs: usize,
) -> anyhow::Result<(f64, Vec<RecordBatch>)> {
    let mut times = Vec::new();
    let mut answer = Vec::new();
    for run in 0..=runs {
        let started = Instant::now();
        answer = lakehouse::query(ctx, sql).await?;
        if run > 0 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok((median(times), answer))
}

/// `silver.orders` as a plain DataFusion listing table over `files`: what the engine does without
/// the Delta table provider in between.
async fn bare_parquet_session(files: &[String]) -> anyhow::Result<SessionContext> {
    let ctx = SessionContext::new();
    let urls = files
        .iter()
        .map(ListingTableUrl::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()));
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    ctx.catalog("datafusion")
        .context("the default catalog")?
        .register_schema("silver", Arc::new(MemorySchemaProvider::new()))?;
    ctx.register_table("silver.orders", Arc::new(ListingTable::try_new(config)?))?;
    Ok(ctx)
}

fn orders_schema() -> Arc<Schema> {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let money = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        text("order_id", false),
        text("shopper_id", false),
        text("shop_id", false),
        text("status", false),
        Field::new("cancelled", DataType::Boolean, false),
        text("currency", false),
        money("subtotal"),
        money("discount"),
        money("total"),
        money("fee"),
        text("code", true),
        text("city", false),
        text("country", false),
        Field::new(
            "placed_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// Orders `start..start + n` of `total`, spread evenly over the year in the order they were placed
/// (as the pipeline appends them). Values come from a cheap hash of the order number, so every run
/// writes the same rows.
fn synthetic_orders(
    schema: &Arc<Schema>,
    start: u64,
    n: u64,
    total: u64,
    first_day: DateTime<Utc>,
) -> anyhow::Result<RecordBatch> {
    let span_us = DAYS * 86_400_000_000;
    let numbers: Vec<u64> = (start..start + n).collect();
    let mix = |i: u64, salt: u64| {
        // splitmix64: well spread, deterministic.
        let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(salt);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let status: Vec<&str> = numbers
        .iter()
        .map(|&i| STATUSES[(mix(i, 1) % STATUSES.len() as u64) as usize])
        .collect();
    let subtotal: Vec<i64> = numbers
        .iter()
        .map(|&i| 500 + (mix(i, 2) % 20_000) as i64)
        .collect();
    let code: Vec<Option<&str>> = numbers
        .iter()
        .map(|&i| match mix(i, 3) % 10 {
            0..=3 => Some(CODES[(mix(i, 4) % CODES.len() as u64) as usize]),
            _ => None,
        })
        .collect();
    let discount: Vec<i64> = subtotal
        .iter()
        .zip(&code)
        .map(|(s, c)| if c.is_some() { s / 10 } else { 0 })
        .collect();
    let order_total: Vec<i64> = subtotal.iter().zip(&discount).map(|(s, d)| s - d).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            numbers.iter().map(|i| format!("M-{i:09}")),
        )),
        Arc::new(StringArray::from_iter_values(
            numbers
                .iter()
                .map(|&i| format!("u{}", mix(i, 5) % SHOPPERS)),
        )),
        Arc::new(StringArray::from_iter_values(numbers.iter().map(|&i| {
            // A few shops sell most: the square skews the draw towards low numbers.
            let u = (mix(i, 6) % 10_000) as f64 / 10_000.0;
            format!("shop-{:03}", (u * u * SHOPS as f64) as u64)
        }))),
        Arc::new(StringArray::from(status.clone())),
        Arc::new(BooleanArray::from(
            status.iter().map(|s| *s == "cancelled").collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(vec!["EUR"; n as usize])),
        Arc::new(Int64Array::from(subtotal)),
        Arc::new(Int64Array::from(discount)),
        Arc::new(Int64Array::from(order_total.clone())),
        Arc::new(Int64Array::from(
            order_total.iter().map(|t| t / 10).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(code)),
        Arc::new(StringArray::from_iter_values(
            numbers
                .iter()
                .map(|&i| CITIES[(mix(i, 7) % CITIES.len() as u64) as usize]),
        )),
        Arc::new(StringArray::from_iter_values(numbers.iter().map(|&i| {
            COUNTRIES[(mix(i, 8) % COUNTRIES.len() as u64) as usize]
        }))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(numbers.iter().map(|&i| {
                first_day.timestamp_micros() + (i as i128 * span_us as i128 / total as i128) as i64
            }))
            .with_timezone("UTC"),
        ),
    ];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// What must agree between the engines: the row count and the sum of every integer cell.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Digest {
    rows: u64,
    sum: i64,
}

fn digest(batches: &[RecordBatch]) -> Digest {
    let mut digest = Digest { rows: 0, sum: 0 };
    for batch in batches {
        digest.rows += batch.num_rows() as u64;
        for column in batch.columns() {
            if let Some(ints) = column.as_any().downcast_ref::<Int64Array>() {
                digest.sum += ints.iter().flatten().sum::<i64>();
            }
        }
    }
    digest
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// DuckDB, in python3: `silver.orders` as a view over `files`, each question timed like ours and
/// its answer fetched as Arrow (as DataFusion's is).
const DUCKDB: &str = r#"
import json, sys, time, duckdb
import pyarrow as pa, pyarrow.compute as pc
job = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("CREATE SCHEMA silver")
files = ", ".join("'" + f.replace("'", "''") + "'" for f in job["files"])
con.execute(f"CREATE VIEW silver.orders AS SELECT * FROM read_parquet([{files}])")
out = []
for sql in job["questions"]:
    times = []
    for run in range(job["runs"] + 1):
        started = time.perf_counter()
        answer = con.execute(sql).fetch_arrow_table()
        if run > 0:
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    total = sum(pc.sum(c).as_py() or 0 for c in answer.columns if pa.types.is_integer(c.type))
    out.append({"ms": times[len(times) // 2], "rows": answer.num_rows, "sum": total})
print(json.dumps(out))
"#;

async fn duckdb(
    files: &[String],
    questions: &[(&str, String)],
    runs: usize,
) -> anyhow::Result<Vec<(f64, Digest)>> {
    let job = serde_json::json!({
        "files": files,
        "questions": questions.iter().map(|(_, sql)| sql).collect::<Vec<_>>(),
        "runs": runs,
    });
    let mut child = tokio::process::Command::new("python3")
        .args(["-c", DUCKDB])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting python3")?;
    let mut stdin = child.stdin.take().context("python3's stdin")?;
    stdin.write_all(job.to_string().as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    anyhow::ensure!(
        output.status.success(),
        "DuckDB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    #[derive(serde::Deserialize)]
    struct Timed {
        ms: f64,
        #[serde(flatten)]
        digest: Digest,
    }
    let timed: Vec<Timed> = serde_json::from_slice(&output.stdout)
        .context("DuckDB's answer is not the JSON expected")?;
    Ok(timed.into_iter().map(|t| (t.ms, t.digest)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_orders_are_the_same_every_run_and_add_up() {
        let schema = orders_schema();
        let first_day = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let a = synthetic_orders(&schema, 0, 1000, 1000, first_day).unwrap();
        let b = synthetic_orders(&schema, 0, 1000, 1000, first_day).unwrap();
        assert_eq!(a, b);
        let column = |name: &str| {
            a.column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone()
        };
        let (subtotal, discount, total) = (column("subtotal"), column("discount"), column("total"));
        for i in 0..1000 {
            assert_eq!(total.value(i), subtotal.value(i) - discount.value(i));
        }
        let placed = a
            .column_by_name("placed_at")
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert!(
            placed.values().windows(2).all(|w| w[0] <= w[1]),
            "in time order"
        );
    }

    #[test]
    fn the_digest_counts_rows_and_sums_integers() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "c"])),
                Arc::new(Int64Array::from(vec![Some(2), None, Some(40)])),
            ],
        )
        .unwrap();
        assert_eq!(digest(&[batch]), Digest { rows: 3, sum: 42 });
    }
}
