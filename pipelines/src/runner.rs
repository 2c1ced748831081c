use crate::spec::{Mode, PipelineSpec};
use crate::{Error, Result};
use lakehouse::Lake;
use lakehouse::arrow::array::{Array, Int64Array};
use lakehouse::arrow::datatypes::SchemaRef;
use lakehouse::arrow::record_batch::RecordBatch;
use lakehouse::datafusion::prelude::{SessionContext, col, lit};
use lakehouse::deltalake::kernel::Transaction;
use lakehouse::deltalake::kernel::transaction::CommitProperties;
use lakehouse::deltalake::protocol::SaveMode;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Source rows the run read (those after the watermark).
    pub rows_in: u64,
    /// Rows the SQL produced and the run wrote.
    pub rows_out: u64,
    /// The source offset processed up to, inclusive (`None`: nothing processed yet).
    pub watermark: Option<i64>,
    pub duration_ms: u64,
}

/// A pipeline's state, as `/health` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineStatus {
    pub runs: u64,
    pub last: Option<RunReport>,
    pub last_error: Option<String>,
}

/// Runs pipelines against a lake.
pub struct Runner {
    lake: Lake,
    pipelines: Vec<PipelineSpec>,
    status: watch::Sender<BTreeMap<String, PipelineStatus>>,
}

fn app_id(spec: &PipelineSpec) -> String {
    format!("pipeline/{}", spec.name)
}

impl Runner {
    pub fn new(lake: Lake, pipelines: Vec<PipelineSpec>) -> Self {
        let status = pipelines
            .iter()
            .map(|p| (p.name.clone(), PipelineStatus::default()))
            .collect();
        Runner {
            lake,
            pipelines,
            status: watch::Sender::new(status),
        }
    }

    pub fn pipelines(&self) -> &[PipelineSpec] {
        &self.pipelines
    }

    pub fn status(&self) -> watch::Receiver<BTreeMap<String, PipelineStatus>> {
        self.status.subscribe()
    }

    /// Runs every pipeline once, in order.
    pub async fn run_all_once(&self) -> Result<Vec<RunReport>> {
        let mut reports = Vec::with_capacity(self.pipelines.len());
        for spec in &self.pipelines {
            reports.push(self.run_and_record(spec).await?);
        }
        Ok(reports)
    }

    /// Runs each pipeline on its trigger until cancelled. A failing run is recorded in the status
    /// and tried again at the next trigger; the runner itself keeps going.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut next: Vec<Instant> = self.pipelines.iter().map(|_| Instant::now()).collect();
        loop {
            let now = Instant::now();
            for (i, spec) in self.pipelines.iter().enumerate() {
                if next[i] <= now {
                    if let Err(e) = self.run_and_record(spec).await {
                        tracing::warn!(pipeline = %spec.name, error = %e, "pipeline run failed; will retry at the next trigger");
                    }
                    next[i] = Instant::now() + spec.trigger;
                }
            }
            let wake = next
                .iter()
                .min()
                .copied()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    async fn run_and_record(&self, spec: &PipelineSpec) -> Result<RunReport> {
        let span = tracing::info_span!("pipeline", pipeline = %spec.name);
        let _entered = span.enter();
        let result = self.run_once(spec).await;
        self.status.send_modify(|all| {
            let status = all.entry(spec.name.clone()).or_default();
            status.runs += 1;
            match &result {
                Ok(report) => {
                    status.last = Some(report.clone());
                    status.last_error = None;
                }
                Err(e) => status.last_error = Some(e.to_string()),
            }
        });
        result
    }

    /// Runs one pipeline over the source rows after its watermark and commits the result with the
    /// new watermark in one Delta commit.
    pub async fn run_once(&self, spec: &PipelineSpec) -> Result<RunReport> {
        let started = Instant::now();
        let lake_err = |source| Error::Lake {
            pipeline: spec.name.clone(),
            source,
        };
        let target = self.lake.open_table(&spec.target).await.map_err(lake_err)?;
        let watermark = match &target {
            Some(table) => self
                .lake
                .transaction_version(table, &app_id(spec))
                .await
                .map_err(lake_err)?,
            None => None,
        };
        let ctx = self.lake.session().await.map_err(lake_err)?;
        let source_ref = spec.source.to_string();
        let Ok(source) = ctx.table(source_ref.as_str()).await else {
            // No source table yet: nothing has happened, nothing to do.
            return Ok(RunReport {
                watermark,
                ..Default::default()
            });
        };
        if source
            .schema()
            .field_with_unqualified_name("offset")
            .is_err()
        {
            return Err(Error::NoOffset {
                pipeline: spec.name.clone(),
                source_table: source_ref,
            });
        }
        let high = max_offset(&source).await.map_err(lake_err)?;
        let Some(high) = high.filter(|h| watermark.is_none_or(|w| *h > w)) else {
            return Ok(RunReport {
                watermark,
                duration_ms: started.elapsed().as_millis() as u64,
                ..Default::default()
            });
        };
        // The SQL sees only the new slice of its source, under the source's own name.
        let mut slice = source
            .filter(col("offset").lt_eq(lit(high)))
            .map_err(lakehouse::Error::from)
            .map_err(lake_err)?;
        if let Some(w) = watermark {
            slice = slice
                .filter(col("offset").gt(lit(w)))
                .map_err(lakehouse::Error::from)
                .map_err(lake_err)?;
        }
        let rows_in = slice
            .clone()
            .count()
            .await
            .map_err(lakehouse::Error::from)
            .map_err(lake_err)? as u64;
        ctx.deregister_table(source_ref.as_str())
            .map_err(lakehouse::Error::from)
            .map_err(lake_err)?;
        ctx.register_table(source_ref.as_str(), slice.into_view())
            .map_err(lakehouse::Error::from)
            .map_err(lake_err)?;
        let frame = lakehouse::plan(&ctx, &spec.sql).await.map_err(lake_err)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let output = frame
            .collect()
            .await
            .map_err(lakehouse::Error::from)
            .map_err(lake_err)?;
        let rows_out = output.iter().map(|b| b.num_rows() as u64).sum();
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(app_id(spec), high));
        self.write(spec, schema, output, commit)
            .await
            .map_err(lake_err)?;
        let report = RunReport {
            rows_in,
            rows_out,
            watermark: Some(high),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        tracing::info!(
            rows_in,
            rows_out,
            watermark = high,
            duration_ms = report.duration_ms,
            "pipeline committed"
        );
        Ok(report)
    }

    async fn write(
        &self,
        spec: &PipelineSpec,
        schema: SchemaRef,
        output: Vec<RecordBatch>,
        commit: CommitProperties,
    ) -> lakehouse::Result<()> {
        let table = self
            .lake
            .open_or_create(&spec.target, schema.clone(), &[])
            .await?;
        let delta = |e| lakehouse::Error::delta(&spec.target, e);
        match &spec.mode {
            Mode::Append => {
                table
                    .write(output)
                    .with_commit_properties(commit)
                    .await
                    .map_err(delta)?;
            }
            Mode::Overwrite => {
                table
                    .write(output)
                    .with_save_mode(SaveMode::Overwrite)
                    .with_commit_properties(commit)
                    .await
                    .map_err(delta)?;
            }
            // Nothing to merge: commit the watermark alone, so it moves past source rows that
            // produced no output.
            Mode::Merge { .. } if output.iter().all(|b| b.num_rows() == 0) => {
                table
                    .write(vec![RecordBatch::new_empty(schema)])
                    .with_commit_properties(commit)
                    .await
                    .map_err(delta)?;
            }
            Mode::Merge { keys, add } => {
                let columns: Vec<String> = table
                    .snapshot()
                    .map_err(delta)?
                    .schema()
                    .fields()
                    .map(|f| f.name().to_string())
                    .collect();
                let predicate = keys
                    .iter()
                    .map(|k| format!("(target.{k} IS NOT DISTINCT FROM source.{k})"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let rows =
                    lakehouse::datafusion::datasource::MemTable::try_new(schema, vec![output])?;
                let source = SessionContext::new().read_table(Arc::new(rows))?;
                table
                    .merge(source, predicate)
                    .with_source_alias("source")
                    .with_target_alias("target")
                    .when_matched_update(|mut update| {
                        for c in columns.iter().filter(|c| !keys.contains(c)) {
                            let value = if add.contains(c) {
                                format!("target.{c} + source.{c}")
                            } else {
                                format!("source.{c}")
                            };
                            update = update.update(c.as_str(), value);
                        }
                        update
                    })
                    .map_err(delta)?
                    .when_not_matched_insert(|mut insert| {
                        for c in &columns {
                            insert = insert.set(c.as_str(), format!("source.{c}"));
                        }
                        insert
                    })
                    .map_err(delta)?
                    .with_commit_properties(commit)
                    .await
                    .map_err(delta)?;
            }
        }
        Ok(())
    }
}

async fn max_offset(
    source: &lakehouse::datafusion::dataframe::DataFrame,
) -> lakehouse::Result<Option<i64>> {
    use lakehouse::datafusion::functions_aggregate::expr_fn::max;
    let batches = source
        .clone()
        .aggregate(vec![], vec![max(col("offset")).alias("high")])?
        .collect()
        .await?;
    let Some(batch) = batches.first() else {
        return Ok(None);
    };
    let column = batch.column(0).as_any().downcast_ref::<Int64Array>();
    Ok(column
        .filter(|c| !c.is_empty() && c.is_valid(0))
        .map(|c| c.value(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakehouse::TableName;
    use lakehouse::arrow::array::{StringArray, TimestampMicrosecondArray};
    use lakehouse::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    fn activity_schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("offset", DataType::Int64, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("payload", DataType::Utf8, false),
        ]))
    }

    /// `(offset, kind, day of November 2026, product)` rows appended to bronze.activity.
    async fn add_activity(lake: &Lake, rows: &[(i64, &str, u32, &str)]) {
        let day = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        let batch = RecordBatch::try_new(
            activity_schema(),
            vec![
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from(
                        rows.iter().map(|r| day(r.2)).collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from(
                    rows.iter()
                        .map(|r| format!(r#"{{"product_id":"{}","shop_id":"s"}}"#, r.3))
                        .collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap();
        let table = lake
            .open_or_create(
                &TableName::bronze("activity").unwrap(),
                activity_schema(),
                &[],
            )
            .await
            .unwrap();
        table.write(vec![batch]).await.unwrap();
    }

    async fn gold(lake: &Lake) -> Vec<String> {
        let ctx = lake.session().await.unwrap();
        let rows = lakehouse::query(
            &ctx,
            "SELECT product_id, CAST(day AS VARCHAR) AS day, views, cart_adds, wishlist_adds FROM gold.product_daily ORDER BY product_id, day",
        )
        .await
        .unwrap();
        let json = lakehouse::format_batches(&rows, lakehouse::OutputFormat::Json).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        rows.iter()
            .map(|r| {
                format!(
                    "{} {} v{} c{} w{}",
                    r["product_id"].as_str().unwrap(),
                    r["day"].as_str().unwrap(),
                    r["views"],
                    r["cart_adds"],
                    r["wishlist_adds"]
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn product_daily_counts_incrementally_and_never_twice() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let runner = Runner::new(lake.clone(), crate::builtin());
        let spec = runner.pipelines()[0].clone();
        // No source yet: nothing to do, and no failure.
        assert_eq!(runner.run_once(&spec).await.unwrap().rows_out, 0);

        add_activity(
            &lake,
            &[
                (0, "product_view", 1, "a"),
                (1, "product_view", 1, "a"),
                (2, "add_to_cart", 1, "a"),
                (3, "product_view", 2, "b"),
                (4, "search", 2, "x"),
            ],
        )
        .await;
        let report = runner.run_once(&spec).await.unwrap();
        assert_eq!(
            (report.rows_in, report.rows_out, report.watermark),
            (5, 2, Some(4))
        );
        assert_eq!(
            gold(&lake).await,
            ["a 2026-11-01 v2 c1 w0", "b 2026-11-02 v1 c0 w0"]
        );

        // Nothing new: the run is a no-op.
        assert_eq!(runner.run_once(&spec).await.unwrap().rows_in, 0);
        assert_eq!(
            gold(&lake).await,
            ["a 2026-11-01 v2 c1 w0", "b 2026-11-02 v1 c0 w0"]
        );

        // New rows add to the stored counts and create new keys.
        add_activity(
            &lake,
            &[
                (5, "product_view", 1, "a"),
                (6, "add_to_wishlist", 2, "b"),
                (7, "product_view", 3, "b"),
            ],
        )
        .await;
        let report = runner.run_once(&spec).await.unwrap();
        assert_eq!((report.rows_in, report.watermark), (3, Some(7)));
        assert_eq!(
            gold(&lake).await,
            [
                "a 2026-11-01 v3 c1 w0",
                "b 2026-11-02 v1 c0 w1",
                "b 2026-11-03 v1 c0 w0"
            ]
        );

        // Source rows that produce no output still move the watermark.
        add_activity(&lake, &[(8, "search", 3, "x")]).await;
        assert_eq!(runner.run_once(&spec).await.unwrap().watermark, Some(8));
        assert_eq!(runner.run_once(&spec).await.unwrap().rows_in, 0);
        assert_eq!(gold(&lake).await.len(), 3);
    }
}
