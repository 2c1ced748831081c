use crate::spec::{Mode, PipelineSpec};
use crate::{Error, Result};
use lakehouse::Lake;
use lakehouse::arrow::array::{Array, Int32Array, Int64Array};
use lakehouse::arrow::datatypes::SchemaRef;
use lakehouse::arrow::record_batch::RecordBatch;
use lakehouse::datafusion::prelude::{Expr, SessionContext, col, lit};
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
    /// Per source partition, the offset processed up to, inclusive (empty: nothing processed yet).
    pub watermarks: BTreeMap<i32, i64>,
    pub duration_ms: u64,
    /// Freshness: from the oldest event the run read (its event time) to the run's commit, when
    /// it read any.
    pub lag_ms: Option<u64>,
}

/// A pipeline's state, as `/health` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineStatus {
    pub runs: u64,
    pub last: Option<RunReport>,
    pub last_error: Option<String>,
    /// The lags of the last [`LAGS_KEPT`] runs that read something, oldest first.
    pub recent_lags_ms: std::collections::VecDeque<u64>,
}

/// How many runs' lags a status keeps for its percentiles.
pub const LAGS_KEPT: usize = 100;

impl PipelineStatus {
    /// The 95th percentile of the recent runs' lags: how stale the target was, at worst, for
    /// nearly every event.
    pub fn lag_p95_ms(&self) -> Option<u64> {
        let mut lags: Vec<u64> = self.recent_lags_ms.iter().copied().collect();
        if lags.is_empty() {
            return None;
        }
        lags.sort_unstable();
        Some(lags[(lags.len() * 95).div_ceil(100) - 1])
    }
}

/// Where a pipeline with `-- publish: <topic>` hands its rows (each a JSON object of the SQL's
/// columns) before its run commits. A run that fails after publishing publishes the same rows
/// again, so the receiver must drop repeats by the rows' ids.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, topic: &str, rows: Vec<serde_json::Value>) -> Result<(), String>;
}

/// Runs pipelines against a lake.
pub struct Runner {
    lake: Lake,
    pipelines: Vec<PipelineSpec>,
    publisher: Option<Arc<dyn Publisher>>,
    status: watch::Sender<BTreeMap<String, PipelineStatus>>,
    /// Tests: the next run dies after its SQL (and publishing) and before its commit.
    #[cfg(test)]
    pub(crate) crash_before_commit: std::sync::atomic::AtomicBool,
}

/// The Delta txn app id that records how far `spec` has read partition `partition` of its source.
fn app_id(spec: &PipelineSpec, partition: i32) -> String {
    format!("pipeline/{}/{partition}", spec.name)
}

/// Where pipelines recorded their one watermark before sources had partitions: partition 0's.
fn legacy_app_id(spec: &PipelineSpec) -> String {
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
            publisher: None,
            status: watch::Sender::new(status),
            #[cfg(test)]
            crash_before_commit: Default::default(),
        }
    }

    /// Where pipelines that publish send their rows. Without one they do not run (their
    /// watermark would move past rows nobody received).
    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    /// The pipelines that can run: all but those that publish, when there is no publisher.
    fn runnable(&self) -> impl Iterator<Item = &PipelineSpec> {
        self.pipelines
            .iter()
            .filter(|p| p.publish.is_none() || self.publisher.is_some())
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
        for spec in self.runnable() {
            reports.push(self.run_and_record(spec).await?);
        }
        Ok(reports)
    }

    /// Runs each pipeline on its trigger until cancelled. Pipelines that write different tables
    /// run side by side (one task per target); the writers of one table take turns, in order. A
    /// failing run is recorded in the status and tried again at the next trigger; the runner
    /// itself keeps going.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let mut groups: Vec<Vec<PipelineSpec>> = Vec::new();
        for spec in self.runnable() {
            match groups.iter_mut().find(|g| g[0].target == spec.target) {
                Some(group) => group.push(spec.clone()),
                None => groups.push(vec![spec.clone()]),
            }
        }
        // The set owns the group tasks: when this task ends or is aborted, they end with it.
        let mut tasks = tokio::task::JoinSet::new();
        for group in groups {
            tasks.spawn(self.clone().run_group(group, cancel.clone()));
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn run_group(self: Arc<Self>, specs: Vec<PipelineSpec>, cancel: CancellationToken) {
        let mut next: Vec<Instant> = specs.iter().map(|_| Instant::now()).collect();
        loop {
            let now = Instant::now();
            for (i, spec) in specs.iter().enumerate() {
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
        use tracing::Instrument;
        let span = tracing::info_span!("pipeline", pipeline = %spec.name);
        let result = self.run_once(spec).instrument(span).await;
        self.status.send_modify(|all| {
            let status = all.entry(spec.name.clone()).or_default();
            status.runs += 1;
            match &result {
                Ok(report) => {
                    status.last = Some(report.clone());
                    status.last_error = None;
                    if let Some(lag) = report.lag_ms {
                        status.recent_lags_ms.push_back(lag);
                        if status.recent_lags_ms.len() > LAGS_KEPT {
                            status.recent_lags_ms.pop_front();
                        }
                    }
                }
                Err(e) => status.last_error = Some(e.to_string()),
            }
        });
        result
    }

    /// Runs one pipeline over the source rows after its watermarks and commits the result with
    /// the new watermarks in one Delta commit. The source's rows are tracked per log partition
    /// (its `partition` and `offset` columns); each partition's watermark is a Delta txn of the
    /// target (`pipeline/<name>/<partition>`).
    pub async fn run_once(&self, spec: &PipelineSpec) -> Result<RunReport> {
        let started = Instant::now();
        let lake_err = |source| Error::Lake {
            pipeline: spec.name.clone(),
            source,
        };
        let target = match (
            self.lake.open_table(&spec.target).await.map_err(lake_err)?,
            &spec.columns,
        ) {
            // A pipeline that reads its own target finds it, empty, on its first run.
            (None, Some(columns)) => Some(
                self.lake
                    .open_or_create(&spec.target, columns.clone(), &[])
                    .await
                    .map_err(lake_err)?,
            ),
            (target, _) => target,
        };
        // Only the tables the SQL names are loaded (a session of the whole lake costs a load of
        // every table, every run).
        let mut tables = Vec::with_capacity(spec.reads.len() + 1);
        for name in
            std::iter::once(&spec.source).chain(spec.reads.iter().filter(|t| **t != spec.source))
        {
            // A pipeline that reads its own target reads it as loaded above.
            let table = if *name == spec.target {
                target.clone()
            } else {
                self.lake.open_table(name).await.map_err(lake_err)?
            };
            match table {
                Some(table) => tables.push((name.clone(), table)),
                // Another table the SQL joins is not there yet (its own pipeline has not written
                // it): wait for it rather than fail, and read nothing meanwhile.
                None if *name != spec.source && *name != spec.target => {
                    tracing::debug!(pipeline = %spec.name, table = %name, "waiting for a table the pipeline reads");
                    return Ok(RunReport::default());
                }
                None => {}
            }
        }
        // Tables the SQL joins that other pipelines build from the same source hold what those
        // pipelines have read so far; this run reads its source no further (below), so a join
        // never misses a row its upstream is about to add — a new shop's settings, say, when the
        // shop's first stock change arrives within the same second.
        let upstream: Vec<(&PipelineSpec, lakehouse::deltalake::DeltaTable)> = tables
            .iter()
            .filter(|(name, _)| *name != spec.source && *name != spec.target)
            .filter_map(|(name, table)| {
                self.pipelines
                    .iter()
                    .find(|p| p.target == *name && p.source == spec.source && p.name != spec.name)
                    .map(|p| (p, table.clone()))
            })
            .collect();
        let ctx = self.lake.session_with(tables).await.map_err(lake_err)?;
        let source_ref = spec.source.to_string();
        let Ok(source) = ctx.table(source_ref.as_str()).await else {
            // No source table yet: nothing has happened, nothing to do.
            return Ok(RunReport::default());
        };
        let schema = source.schema();
        if ["offset", "partition"]
            .iter()
            .any(|c| schema.field_with_unqualified_name(c).is_err())
        {
            return Err(Error::NoOffset {
                pipeline: spec.name.clone(),
                source_table: source_ref,
            });
        }
        let mut highs = max_offsets(&source).await.map_err(lake_err)?;
        for (up, table) in &upstream {
            for (&partition, high) in highs.iter_mut() {
                let reached = self
                    .watermark(table, up, partition)
                    .await
                    .map_err(lake_err)?
                    .unwrap_or(-1);
                *high = (*high).min(reached);
            }
        }
        let mut watermarks = BTreeMap::new();
        if let Some(table) = &target {
            for &partition in highs.keys() {
                let stored = self
                    .watermark(table, spec, partition)
                    .await
                    .map_err(lake_err)?;
                if let Some(w) = stored {
                    watermarks.insert(partition, w);
                }
            }
        }
        // Per partition with rows past its watermark: the new range `(watermark, high]`.
        let fresh: Vec<(i32, Option<i64>, i64)> = highs
            .iter()
            .map(|(&p, &high)| (p, watermarks.get(&p).copied(), high))
            .filter(|(_, w, high)| *high >= 0 && w.is_none_or(|w| *high > w))
            .collect();
        if fresh.is_empty() {
            return Ok(RunReport {
                watermarks,
                duration_ms: started.elapsed().as_millis() as u64,
                ..Default::default()
            });
        }
        // The SQL sees only the new slice of its source, under the source's own name.
        let in_slice = fresh
            .iter()
            .map(|&(p, w, high)| {
                let range = col("partition")
                    .eq(lit(p))
                    .and(col("offset").lt_eq(lit(high)));
                match w {
                    Some(w) => range.and(col("offset").gt(lit(w))),
                    None => range,
                }
            })
            .reduce(Expr::or)
            .expect("at least one partition");
        let slice = source
            .clone()
            .filter(in_slice.clone())
            .map_err(lakehouse::Error::from)
            .map_err(lake_err)?;
        let (rows_in, oldest) = slice_stats(&slice).await.map_err(lake_err)?;
        let slice = without_repeats(&ctx, &source, slice, &fresh)
            .await
            .map_err(lake_err)?;
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
        if let Some(topic) = &spec.publish {
            let publisher = self.publisher.as_ref().ok_or_else(|| Error::Publish {
                pipeline: spec.name.clone(),
                reason: "no publisher".into(),
            })?;
            let rows = lakehouse::json_rows(&output).map_err(lake_err)?;
            if !rows.is_empty() {
                publisher
                    .publish(topic, rows)
                    .await
                    .map_err(|reason| Error::Publish {
                        pipeline: spec.name.clone(),
                        reason,
                    })?;
            }
        }
        // Delta does not refuse a stale txn version by itself: if another runner committed this
        // pipeline meanwhile, this run's rows are already in and it must not commit them again.
        if let Some(table) = self.lake.open_table(&spec.target).await.map_err(lake_err)? {
            for &(p, started_from, _) in &fresh {
                let now = self.watermark(&table, spec, p).await.map_err(lake_err)?;
                if now != started_from {
                    return Err(Error::Moved {
                        pipeline: spec.name.clone(),
                    });
                }
            }
        }
        let commit = CommitProperties::default().with_application_transactions(
            fresh
                .iter()
                .map(|&(p, _, high)| Transaction::new(app_id(spec, p), high))
                .collect(),
        );
        #[cfg(test)]
        if self
            .crash_before_commit
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::Publish {
                pipeline: spec.name.clone(),
                reason: "simulated crash before the commit".into(),
            });
        }
        self.write(spec, schema, output, commit)
            .await
            .map_err(lake_err)?;
        watermarks.extend(fresh.iter().map(|&(p, _, high)| (p, high)));
        let report = RunReport {
            rows_in,
            rows_out,
            watermarks,
            duration_ms: started.elapsed().as_millis() as u64,
            lag_ms: oldest.map(|at| (chrono::Utc::now() - at).num_milliseconds().max(0) as u64),
        };
        tracing::info!(
            rows_in,
            rows_out,
            watermarks = ?report.watermarks,
            duration_ms = report.duration_ms,
            "pipeline committed"
        );
        Ok(report)
    }

    /// The offset of `partition` that `spec` has processed up to, as its target's commits record
    /// it (under the app id from before partitions, for partition 0).
    async fn watermark(
        &self,
        target: &lakehouse::deltalake::DeltaTable,
        spec: &PipelineSpec,
        partition: i32,
    ) -> lakehouse::Result<Option<i64>> {
        let stored = self
            .lake
            .transaction_version(target, &app_id(spec, partition))
            .await?;
        if stored.is_none() && partition == 0 {
            return self
                .lake
                .transaction_version(target, &legacy_app_id(spec))
                .await;
        }
        Ok(stored)
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
        // A run whose rows all went away (repeats) still commits its watermark.
        let output = if output.is_empty() {
            vec![RecordBatch::new_empty(schema.clone())]
        } else {
            output
        };
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

/// How far back in its partition a repeated event is looked for, in records: a producer's retry
/// lands next to its first copy, and the bound keeps each run's look back small at any rate.
pub const REPEAT_WINDOW: i64 = 10_000;

/// The slice with each event once, when the source has an `id`: a repeat (the same id, e.g. a
/// producer's retry that reached the log twice) keeps only its first copy in the slice, and a
/// copy of an event an earlier run already read — among the [`REPEAT_WINDOW`] records before
/// each partition's watermark — is dropped.
async fn without_repeats(
    ctx: &SessionContext,
    source: &lakehouse::datafusion::dataframe::DataFrame,
    slice: lakehouse::datafusion::dataframe::DataFrame,
    fresh: &[(i32, Option<i64>, i64)],
) -> lakehouse::Result<lakehouse::datafusion::dataframe::DataFrame> {
    if slice.schema().field_with_unqualified_name("id").is_err() {
        return Ok(slice);
    }
    let before_watermarks = fresh
        .iter()
        .filter_map(|&(p, watermark, _)| {
            let w = watermark?;
            Some(
                col("partition")
                    .eq(lit(p))
                    .and(col("offset").lt_eq(lit(w)))
                    .and(col("offset").gt(lit(w - REPEAT_WINDOW))),
            )
        })
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    let earlier = source
        .clone()
        .filter(before_watermarks)?
        .select(vec![col("id").alias("seen_id")])?;
    ctx.register_table("pipeline_slice", slice.into_view())?;
    ctx.register_table("pipeline_seen", earlier.into_view())?;
    Ok(ctx
        .sql(
            r#"SELECT * EXCLUDE (copy_rank) FROM (
                   SELECT *, row_number() OVER (PARTITION BY id ORDER BY "partition", "offset") AS copy_rank
                   FROM pipeline_slice
               ) AS s
               WHERE copy_rank = 1
                 AND NOT EXISTS (SELECT 1 FROM pipeline_seen WHERE pipeline_seen.seen_id = s.id)"#,
        )
        .await?)
}

/// How many rows the slice has and the oldest event time among them (when it has an `at`).
async fn slice_stats(
    slice: &lakehouse::datafusion::dataframe::DataFrame,
) -> lakehouse::Result<(u64, Option<chrono::DateTime<chrono::Utc>>)> {
    use lakehouse::arrow::array::TimestampMicrosecondArray;
    use lakehouse::arrow::compute::cast;
    use lakehouse::arrow::datatypes::{DataType, TimeUnit};
    use lakehouse::datafusion::functions_aggregate::expr_fn::{count, min};
    let has_at = slice.schema().field_with_unqualified_name("at").is_ok();
    let mut aggregates = vec![count(lit(1)).alias("n")];
    if has_at {
        aggregates.push(min(col("at")).alias("oldest"));
    }
    let batches = slice
        .clone()
        .aggregate(vec![], aggregates)?
        .collect()
        .await?;
    let Some(batch) = batches.first().filter(|b| b.num_rows() == 1) else {
        return Ok((0, None));
    };
    let n = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .map_or(0, |c| c.value(0) as u64);
    let oldest = if has_at {
        let micros = cast(
            batch.column(1),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let micros = micros
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .filter(|c| c.is_valid(0))
            .map(|c| c.value(0));
        micros.and_then(chrono::DateTime::from_timestamp_micros)
    } else {
        None
    };
    Ok((n, oldest))
}

/// The highest offset of each partition in the source.
async fn max_offsets(
    source: &lakehouse::datafusion::dataframe::DataFrame,
) -> lakehouse::Result<BTreeMap<i32, i64>> {
    use lakehouse::datafusion::functions_aggregate::expr_fn::max;
    let batches = source
        .clone()
        .aggregate(
            vec![col("partition")],
            vec![max(col("offset")).alias("high")],
        )?
        .collect()
        .await?;
    let mut highs = BTreeMap::new();
    for batch in &batches {
        let partitions = batch.column(0).as_any().downcast_ref::<Int32Array>();
        let offsets = batch.column(1).as_any().downcast_ref::<Int64Array>();
        let (Some(partitions), Some(offsets)) = (partitions, offsets) else {
            return Err(lakehouse::datafusion::error::DataFusionError::Execution(
                "the source's partition must be INT and its offset BIGINT".into(),
            )
            .into());
        };
        for i in 0..batch.num_rows() {
            if partitions.is_valid(i) && offsets.is_valid(i) {
                highs.insert(partitions.value(i), offsets.value(i));
            }
        }
    }
    Ok(highs)
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
            Field::new("partition", DataType::Int32, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("payload", DataType::Utf8, false),
        ]))
    }

    /// `(offset, kind, day of November 2026, product)` rows of partition 0 appended to
    /// bronze.activity.
    async fn add_activity(lake: &Lake, rows: &[(i64, &str, u32, &str)]) {
        add_partition_activity(lake, 0, rows).await
    }

    /// The same, for one partition.
    async fn add_partition_activity(lake: &Lake, partition: i32, rows: &[(i64, &str, u32, &str)]) {
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
                Arc::new(Int32Array::from(vec![partition; rows.len()])),
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

    fn product_daily(runner: &Runner) -> PipelineSpec {
        runner
            .pipelines()
            .iter()
            .find(|p| p.name == "gold_product_daily")
            .expect("a built-in pipeline")
            .clone()
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
        let spec = product_daily(&runner);
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
            (report.rows_in, report.rows_out, report.watermarks),
            (5, 2, BTreeMap::from([(0, 4)]))
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
        assert_eq!(
            (report.rows_in, report.watermarks),
            (3, BTreeMap::from([(0, 7)]))
        );
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
        assert_eq!(
            runner.run_once(&spec).await.unwrap().watermarks,
            BTreeMap::from([(0, 8)])
        );
        assert_eq!(runner.run_once(&spec).await.unwrap().rows_in, 0);
        assert_eq!(gold(&lake).await.len(), 3);
    }

    #[tokio::test]
    async fn each_source_partition_has_its_own_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let runner = Runner::new(lake.clone(), crate::builtin());
        let spec = product_daily(&runner);
        // Offsets repeat across partitions: each partition counts from 0.
        add_partition_activity(
            &lake,
            0,
            &[(0, "product_view", 1, "a"), (1, "product_view", 1, "a")],
        )
        .await;
        add_partition_activity(&lake, 1, &[(0, "product_view", 1, "a")]).await;
        let report = runner.run_once(&spec).await.unwrap();
        assert_eq!(report.rows_in, 3);
        assert_eq!(report.watermarks, BTreeMap::from([(0, 1), (1, 0)]));
        assert_eq!(gold(&lake).await, ["a 2026-11-01 v3 c0 w0"]);

        // Partition 1 moves on while partition 0 stands still; a third partition appears.
        add_partition_activity(
            &lake,
            1,
            &[(1, "add_to_cart", 1, "a"), (2, "product_view", 1, "a")],
        )
        .await;
        add_partition_activity(&lake, 2, &[(0, "add_to_wishlist", 1, "a")]).await;
        let report = runner.run_once(&spec).await.unwrap();
        assert_eq!(report.rows_in, 3);
        assert_eq!(report.watermarks, BTreeMap::from([(0, 1), (1, 2), (2, 0)]));
        assert_eq!(gold(&lake).await, ["a 2026-11-01 v4 c1 w1"]);
        assert_eq!(runner.run_once(&spec).await.unwrap().rows_in, 0);
        assert_eq!(gold(&lake).await, ["a 2026-11-01 v4 c1 w1"]);
    }

    #[tokio::test]
    async fn a_watermark_from_before_partitions_counts_as_partition_zero() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let runner = Runner::new(lake.clone(), crate::builtin());
        let spec = product_daily(&runner);
        add_activity(
            &lake,
            &[(0, "product_view", 1, "a"), (1, "product_view", 1, "a")],
        )
        .await;
        // What an older runner left: gold rows and one watermark under the old app id.
        let output = vec![
            RecordBatch::try_new(
                Arc::new(Schema::new(vec![
                    Field::new("product_id", DataType::Utf8, true),
                    Field::new("shop_id", DataType::Utf8, true),
                    Field::new("day", DataType::Date32, true),
                    Field::new("views", DataType::Int64, true),
                    Field::new("cart_adds", DataType::Int64, true),
                    Field::new("wishlist_adds", DataType::Int64, true),
                ])),
                vec![
                    Arc::new(StringArray::from(vec!["a"])),
                    Arc::new(StringArray::from(vec!["s"])),
                    Arc::new(lakehouse::arrow::array::Date32Array::from(vec![20_758])),
                    Arc::new(Int64Array::from(vec![2])),
                    Arc::new(Int64Array::from(vec![0])),
                    Arc::new(Int64Array::from(vec![0])),
                ],
            )
            .unwrap(),
        ];
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(legacy_app_id(&spec), 1));
        runner
            .write(&spec, output[0].schema(), output, commit)
            .await
            .unwrap();
        assert_eq!(
            runner.run_once(&spec).await.unwrap().rows_in,
            0,
            "nothing is counted twice"
        );
        assert_eq!(gold(&lake).await, ["a 2026-11-01 v2 c0 w0"]);
    }
}
