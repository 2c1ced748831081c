//! Keeping tables fast and small as they grow, and going back in time.
//!
//! - [`Lake::history`]: the commits of a table, newest first.
//! - [`Lake::optimize`]: compacts small files into large ones (bin-packing) and writes a checkpoint,
//!   so readers open few files and replay a short log.
//! - [`Lake::vacuum`]: deletes files no version inside the retention window refers to. A reader at
//!   any retained version still finds every file it needs; delta-rs refuses windows shorter than
//!   the table's `deletedFileRetentionDuration` (7 days by default).
//! - [`Lake::checkpoint`]: writes a checkpoint of the current version.
//! - [`Lake::restore`]: makes an old version current again, in a new commit. Writers' bookmarks
//!   (Delta `txn`s: the lake sink's offsets, pipelines' watermarks) move back with the data, so the
//!   writer re-derives everything after the restored version from its source instead of skipping it.
//! - [`AsOf`] and [`Lake::session_as_of`]: read every table as it was at a version or a time.

use crate::table_name::TableName;
use crate::{Error, Lake, Result};
use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use deltalake::arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use deltalake::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use futures::TryStreamExt;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A point in a table's past: a version number, or a time (the latest version committed at or
/// before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Version(u64),
    Time(DateTime<Utc>),
}

impl FromStr for AsOf {
    type Err = String;

    /// `42`, or an RFC 3339 time such as `2026-11-27T09:00:00Z`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(version) = s.parse::<i64>() {
            return u64::try_from(version)
                .map(AsOf::Version)
                .map_err(|_| "a table version is 0 or more".into());
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| AsOf::Time(t.with_timezone(&Utc)))
            .map_err(|_| {
                format!(
                    "'{s}' is neither a table version nor an RFC 3339 time (2026-11-27T09:00:00Z)"
                )
            })
    }
}

impl std::fmt::Display for AsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AsOf::Version(v) => write!(f, "version {v}"),
            AsOf::Time(t) => write!(f, "{}", t.to_rfc3339()),
        }
    }
}

/// What [`Lake::optimize`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptimizeReport {
    pub files_before: usize,
    pub files_after: usize,
    pub files_removed: u64,
    pub files_added: u64,
    /// The version the compaction committed, if it committed anything.
    pub version: Option<u64>,
}

/// What [`Lake::vacuum`] did (or, on a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VacuumReport {
    pub dry_run: bool,
    pub files_deleted: Vec<String>,
}

/// What [`Lake::restore`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    pub restored: u64,
    pub version: u64,
    pub files_removed: usize,
    pub files_restored: usize,
    /// The writers' bookmarks moved back: `(app id, version at the restored point; -1 for none)`.
    pub bookmarks: Vec<(String, i64)>,
}

/// The default file size compaction aims at.
const TARGET_FILE_BYTES: u64 = 128 << 20;

impl Lake {
    /// The latest `limit` commits of `table`, newest first: version, time, operation, parameters
    /// and metrics.
    pub async fn history(&self, table: &TableName, limit: usize) -> Result<RecordBatch> {
        let delta = self.require_table(table).await?;
        let latest = delta.version().unwrap_or(0);
        let infos: Vec<_> = delta
            .history(Some(limit))
            .try_collect()
            .await
            .map_err(|e| Error::delta(table, e))?;
        // Parameters as JSON, with long values (a CREATE's whole schema) cut to a readable length.
        let json = |v: &Option<std::collections::HashMap<String, serde_json::Value>>| {
            v.as_ref().map(|m| {
                let short: std::collections::BTreeMap<_, _> = m
                    .iter()
                    .map(|(k, v)| {
                        let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        let text = match text.char_indices().nth(60) {
                            Some((cut, _)) => format!("{}…", &text[..cut]),
                            None => text,
                        };
                        (k, text)
                    })
                    .collect();
                serde_json::to_string(&short).unwrap_or_default()
            })
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("version", DataType::Int64, false),
            Field::new(
                "committed_at",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
            Field::new("operation", DataType::Utf8, true),
            Field::new("parameters", DataType::Utf8, true),
            Field::new("metrics", DataType::Utf8, true),
        ]));
        let versions: Vec<i64> = (0..infos.len() as u64)
            .map(|i| latest.saturating_sub(i) as i64)
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(versions)),
            Arc::new(
                TimestampMillisecondArray::from(
                    infos.iter().map(|i| i.timestamp).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(
                infos
                    .iter()
                    .map(|i| i.operation.clone())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                infos
                    .iter()
                    .map(|i| json(&i.operation_parameters))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                infos
                    .iter()
                    .map(|i| i.info.get("operationMetrics").map(|m| m.to_string()))
                    .collect::<Vec<_>>(),
            )),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// Compacts the small files of `table` into files of about 128 MiB, then checkpoints.
    pub async fn optimize(&self, table: &TableName) -> Result<OptimizeReport> {
        let delta = self.require_table(table).await?;
        let before = file_count(&delta, table)?;
        let (delta, metrics) = delta
            .optimize()
            .with_target_size(std::num::NonZeroU64::new(TARGET_FILE_BYTES).expect("not zero"))
            .await
            .map_err(|e| Error::delta(table, e))?;
        let committed = metrics.num_files_removed > 0;
        if committed {
            deltalake::checkpoints::create_checkpoint(&delta, None)
                .await
                .map_err(|e| Error::delta(table, e))?;
        }
        Ok(OptimizeReport {
            files_before: before,
            files_after: file_count(&delta, table)?,
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            version: committed.then(|| delta.version()).flatten(),
        })
    }

    /// Deletes the files of `table` that no version within `retention` refers to (or lists them,
    /// on a dry run). Windows shorter than the table's own minimum are refused.
    pub async fn vacuum(
        &self,
        table: &TableName,
        retention: Duration,
        dry_run: bool,
    ) -> Result<VacuumReport> {
        let delta = self.require_table(table).await?;
        let retention = chrono::Duration::from_std(retention).map_err(|_| Error::Location {
            location: table.to_string(),
            reason: "the retention window is too long".into(),
        })?;
        let (_, metrics) = delta
            .vacuum()
            .with_retention_period(retention)
            .with_dry_run(dry_run)
            .await
            .map_err(|e| Error::delta(table, e))?;
        Ok(VacuumReport {
            dry_run: metrics.dry_run,
            files_deleted: metrics.files_deleted,
        })
    }

    /// Writes a checkpoint of the current version of `table`; returns that version.
    pub async fn checkpoint(&self, table: &TableName) -> Result<u64> {
        let delta = self.require_table(table).await?;
        deltalake::checkpoints::create_checkpoint(&delta, None)
            .await
            .map_err(|e| Error::delta(table, e))?;
        Ok(delta.version().unwrap_or(0))
    }

    /// Makes `table` as it was at `to` current again, in a new commit, with the writers'
    /// bookmarks (txns) changed after that point set back to what they were then (-1 where there
    /// was none), so each writer re-derives what follows from its source.
    pub async fn restore(&self, table: &TableName, to: AsOf) -> Result<RestoreReport> {
        let delta = self.require_table(table).await?;
        let latest = delta.version().unwrap_or(0);
        let mut past = delta.clone();
        load_as_of(&mut past, to)
            .await
            .map_err(|e| Error::delta(table, e))?;
        let restored = past.version().unwrap_or(0);
        let mut changed = BTreeSet::new();
        for version in restored + 1..=latest {
            if let Some(bytes) = delta
                .log_store()
                .read_commit_entry(version)
                .await
                .map_err(|e| Error::delta(table, e))?
            {
                changed.extend(txn_app_ids(&bytes));
            }
        }
        let mut bookmarks = Vec::new();
        for app in changed {
            let then = self.transaction_version(&past, &app).await?.unwrap_or(-1);
            bookmarks.push((app, then));
        }
        let commit = CommitProperties::default().with_application_transactions(
            bookmarks
                .iter()
                .map(|(app, v)| Transaction::new(app, *v))
                .collect(),
        );
        let (delta, metrics) = delta
            .restore()
            .with_version_to_restore(restored)
            .with_commit_properties(commit)
            .await
            .map_err(|e| Error::delta(table, e))?;
        Ok(RestoreReport {
            restored,
            version: delta.version().unwrap_or(0),
            files_removed: metrics.num_removed_file,
            files_restored: metrics.num_restored_file,
            bookmarks,
        })
    }

    /// Like [`Lake::session`], with every table as it was at `as_of`. A table that did not exist
    /// yet (or has no such version) is left out, so a query on it fails rather than reading the
    /// present; the tables registered, with their versions, are returned beside the session.
    pub async fn session_as_of(
        &self,
        as_of: AsOf,
    ) -> Result<(
        deltalake::datafusion::prelude::SessionContext,
        Vec<(TableName, u64)>,
    )> {
        let ctx = self.empty_session();
        let mut registered = Vec::new();
        for name in self.tables().await? {
            let Some(mut table) = self.load(&name).await? else {
                continue;
            };
            if load_as_of(&mut table, as_of).await.is_err() {
                continue;
            }
            let version = table.version().unwrap_or(0);
            self.register(&ctx, &name, table).await?;
            registered.push((name, version));
        }
        Ok((ctx, registered))
    }
}

/// Loads `table` as it was at `as_of`. A time before the table's first commit is an error, as is
/// a version it does not have.
async fn load_as_of(table: &mut DeltaTable, as_of: AsOf) -> deltalake::DeltaResult<()> {
    match as_of {
        AsOf::Version(v) => table.load_version(v).await,
        AsOf::Time(t) => {
            table.load_with_datetime(t).await?;
            // Before the first commit, delta-rs still loads version 0: compare its commit time.
            let created = match table.version() {
                Some(0) => table
                    .log_store()
                    .read_commit_entry(0)
                    .await?
                    .and_then(|bytes| commit_timestamp(&bytes)),
                _ => None,
            };
            if created.is_some_and(|ms| ms > t.timestamp_millis()) {
                return Err(deltalake::DeltaTableError::Generic(format!(
                    "the table did not exist at {}",
                    t.to_rfc3339()
                )));
            }
            Ok(())
        }
    }
}

fn file_count(table: &DeltaTable, name: &TableName) -> Result<usize> {
    Ok(table
        .snapshot()
        .map_err(|e| Error::delta(name, e))?
        .log_data()
        .num_files())
}

/// The `commitInfo.timestamp` (ms) of one commit file.
fn commit_timestamp(commit: &[u8]) -> Option<i64> {
    actions(commit).find_map(|a| a.get("commitInfo")?.get("timestamp")?.as_i64())
}

/// The actions of one commit file (newline-delimited JSON).
fn actions(commit: &[u8]) -> impl Iterator<Item = serde_json::Value> + '_ {
    commit
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
}

/// The app ids of the `txn` actions in one commit file (newline-delimited JSON actions).
fn txn_app_ids(commit: &[u8]) -> Vec<String> {
    actions(commit)
        .filter_map(|action| Some(action.get("txn")?.get("appId")?.as_str()?.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::datatypes::SchemaRef;

    pub(super) fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
    }

    pub(super) async fn append(
        table: DeltaTable,
        ns: &[i64],
        txn: Option<(&str, i64)>,
    ) -> DeltaTable {
        let batch =
            RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(ns.to_vec()))]).unwrap();
        let mut commit = CommitProperties::default();
        if let Some((app, v)) = txn {
            commit = commit.with_application_transaction(Transaction::new(app, v));
        }
        table
            .write(vec![batch])
            .with_commit_properties(commit)
            .await
            .unwrap()
    }

    pub(super) async fn count(
        ctx: &deltalake::datafusion::prelude::SessionContext,
        sql: &str,
    ) -> i64 {
        let batches = crate::query(ctx, sql).await.unwrap();
        let json = crate::format_batches(&batches, crate::OutputFormat::Json).unwrap();
        let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
        rows[0]["n"].as_i64().unwrap()
    }

    #[tokio::test]
    async fn many_small_commits_compact_to_one_file_and_every_version_stays_readable() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let name = TableName::bronze("events").unwrap();
        let mut table = lake.open_or_create(&name, schema(), &[]).await.unwrap();
        for i in 0..40 {
            table = append(table, &[i, i + 1000], None).await;
        }
        let report = lake.optimize(&name).await.unwrap();
        assert_eq!((report.files_before, report.files_after), (40, 1));
        assert_eq!((report.files_removed, report.files_added), (40, 1));
        assert_eq!(report.version, Some(41));
        assert!(
            dir.path()
                .join("bronze/events/_delta_log/00000000000000000041.checkpoint.parquet")
                .exists(),
            "optimize leaves a checkpoint"
        );
        let ctx = lake.session().await.unwrap();
        assert_eq!(
            count(&ctx, "select count(*) as n from bronze.events").await,
            80
        );
        // Compacting again finds nothing to do.
        assert_eq!(lake.optimize(&name).await.unwrap().version, None);

        // A vacuum inside the default window keeps every file a retained version needs.
        let retention = Duration::from_secs(7 * 24 * 3600);
        let vacuumed = lake.vacuum(&name, retention, false).await.unwrap();
        assert!(vacuumed.files_deleted.is_empty());
        let (old, registered) = lake.session_as_of(AsOf::Version(3)).await.unwrap();
        assert_eq!(registered, vec![(name.clone(), 3)]);
        assert_eq!(
            count(&old, "select count(*) as n from bronze.events").await,
            6
        );
        // A window shorter than the table's minimum is refused, not obeyed.
        assert!(
            lake.vacuum(&name, Duration::from_secs(60), true)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn time_travel_leaves_out_tables_that_did_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let name = TableName::gold("things").unwrap();
        let table = lake.open_or_create(&name, schema(), &[]).await.unwrap();
        let table = append(table, &[1], None).await;
        let between = Utc::now();
        append(table, &[2, 3], None).await;
        let (ctx, registered) = lake.session_as_of(AsOf::Time(between)).await.unwrap();
        assert_eq!(registered, vec![(name.clone(), 1)]);
        assert_eq!(
            count(&ctx, "select count(*) as n from gold.things").await,
            1
        );
        let long_ago = "2001-01-01T00:00:00Z".parse().unwrap();
        let (ctx, registered) = lake.session_as_of(long_ago).await.unwrap();
        assert!(registered.is_empty());
        assert!(
            crate::query(&ctx, "select * from gold.things")
                .await
                .is_err()
        );
        assert!("-1".parse::<AsOf>().is_err());
        assert!(
            "yesterday"
                .parse::<AsOf>()
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[tokio::test]
    async fn restore_moves_writers_bookmarks_back_with_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let name = TableName::gold("totals").unwrap();
        let table = lake.open_or_create(&name, schema(), &[]).await.unwrap();
        let table = append(table, &[1, 2], Some(("pipeline/totals/0", 10))).await; // v1
        let table = append(table, &[3], Some(("pipeline/totals/0", 20))).await; // v2
        append(table, &[4], Some(("pipeline/totals/1", 5))).await; // v3
        let report = lake.restore(&name, AsOf::Version(1)).await.unwrap();
        assert_eq!((report.restored, report.version), (1, 4));
        assert_eq!(
            report.bookmarks,
            vec![
                ("pipeline/totals/0".to_string(), 10),
                ("pipeline/totals/1".to_string(), -1)
            ]
        );
        let table = lake.require_table(&name).await.unwrap();
        assert_eq!(
            lake.transaction_version(&table, "pipeline/totals/0")
                .await
                .unwrap(),
            Some(10)
        );
        let ctx = lake.session().await.unwrap();
        assert_eq!(
            count(&ctx, "select count(*) as n from gold.totals").await,
            2
        );
        let history = lake.history(&name, 10).await.unwrap();
        assert_eq!(history.num_rows(), 5);
        let operations = crate::format_batches(&[history], crate::OutputFormat::Csv).unwrap();
        assert!(
            operations.lines().nth(1).unwrap().starts_with("4,") && operations.contains("RESTORE"),
            "{operations}"
        );
    }
}

/// The lake on object stores: the same suite against each store whose variable names a URL —
/// `MARKETPLACE_TEST_S3` (`s3://bucket/prefix`, with the usual `AWS_*` variables),
/// `MARKETPLACE_TEST_AZURE` (`az://container/prefix`, with `AZURE_STORAGE_*` variables, e.g.
/// `AZURE_STORAGE_USE_EMULATOR=true` for Azurite) and `MARKETPLACE_TEST_GCS` (`gs://bucket/prefix`,
/// with `GOOGLE_*` variables). CI runs S3 against a local moto server; Azure and GCS run where a
/// container or bucket is configured.
#[cfg(test)]
mod object_store_tests {
    use super::*;

    /// The URL under the store's test variable (a fresh prefix per run), if set.
    fn configured(variable: &str, feature_built: bool, feature: &str) -> Option<String> {
        let Ok(base) = std::env::var(variable) else {
            eprintln!("{feature} suite did not run: {variable} is not set");
            return None;
        };
        if !feature_built {
            panic!("{variable} is set but lakehouse was built without the `{feature}` feature");
        }
        Some(format!(
            "{}/{}",
            base.trim_end_matches('/'),
            uuid::Uuid::new_v4()
        ))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lake_keeps_its_promises_on_s3() {
        if let Some(location) = configured("MARKETPLACE_TEST_S3", cfg!(feature = "s3"), "s3") {
            run_suite(&location).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lake_keeps_its_promises_on_azure() {
        if let Some(location) =
            configured("MARKETPLACE_TEST_AZURE", cfg!(feature = "azure"), "azure")
        {
            run_suite(&location).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lake_keeps_its_promises_on_gcs() {
        if let Some(location) = configured("MARKETPLACE_TEST_GCS", cfg!(feature = "gcs"), "gcs") {
            run_suite(&location).await;
        }
    }

    async fn run_suite(location: &str) {
        let lake = Lake::open(location).unwrap();
        assert!(lake.tables().await.unwrap().is_empty());
        let name = TableName::bronze("things").unwrap();
        assert!(lake.open_table(&name).await.unwrap().is_none());
        let schema = tests::schema();
        let table = lake
            .open_or_create(&name, schema.clone(), &[])
            .await
            .unwrap();
        let table = tests::append(table, &[1, 2, 3], Some(("writer", 3))).await;
        assert_eq!(
            lake.transaction_version(&table, "writer").await.unwrap(),
            Some(3)
        );
        assert_eq!(lake.tables().await.unwrap(), vec![name.clone()]);

        // Two writers commit at once from the same version: the store's put-if-absent makes one
        // retry on top of the other instead of overwriting its commit.
        let first = lake.require_table(&name).await.unwrap();
        let second = lake.require_table(&name).await.unwrap();
        let (a, b) = tokio::join!(
            tests::append(first, &[4], None),
            tests::append(second, &[5], None)
        );
        assert_ne!(a.version(), b.version());
        let ctx = lake.session().await.unwrap();
        assert_eq!(
            tests::count(&ctx, "select count(*) as n from bronze.things").await,
            5
        );

        let report = lake.optimize(&name).await.unwrap();
        assert_eq!(report.files_after, 1);
        let (old, _) = lake.session_as_of(AsOf::Version(1)).await.unwrap();
        assert_eq!(
            tests::count(&old, "select count(*) as n from bronze.things").await,
            3
        );
        let restored = lake.restore(&name, AsOf::Version(1)).await.unwrap();
        assert_eq!(restored.restored, 1);
        let ctx = lake.session().await.unwrap();
        assert_eq!(
            tests::count(&ctx, "select count(*) as n from bronze.things").await,
            3
        );
    }
}
