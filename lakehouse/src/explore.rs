//! People's own questions: one read-only SQL statement over every table of the lake (now, or as
//! of a version or time), bounded in time, memory and rows, with errors a person can act on.
//! The SQL explorer (`POST /api/sql`), `marketplace sql` and the Flight SQL endpoint all ask here.

use crate::{AsOf, Lake, TableName};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::error::DataFusionError;
use deltalake::datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use deltalake::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use deltalake::datafusion::execution::session_state::SessionStateBuilder;
use deltalake::datafusion::prelude::SessionContext;
use futures::StreamExt;
use std::time::{Duration, Instant};

/// How far one question may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall time, planning included.
    pub time: Duration,
    /// Memory for sorts, joins and aggregations (no spilling to disk).
    pub memory_bytes: usize,
    /// Rows returned; more are cut off and the answer says so.
    pub rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(30),
            memory_bytes: 512 << 20,
            rows: 100_000,
        }
    }
}

/// What a question got back.
#[derive(Debug)]
pub struct Answer {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    /// More rows were there than the limit let through.
    pub truncated: bool,
    pub elapsed: Duration,
    /// Each table the session had, at the version it was read.
    pub tables: Vec<(TableName, u64)>,
}

impl Answer {
    /// The columns' names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    /// Not a query: DDL, DML, COPY or a settings change.
    #[error(
        "only queries run here (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE): {0} is refused, because the lake is read-only to SQL"
    )]
    Refused(String),
    /// The SQL does not parse or plan (a typo, an unknown table or column).
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the query was stopped after {0:?}, its time limit: narrow it with WHERE or LIMIT, or aggregate"
    )]
    TimeLimit(Duration),
    #[error(
        "the query needed more than its {mib} MiB of memory and was stopped: aggregate or filter before sorting or joining ({reason})",
        mib = .0 >> 20,
        reason = .1
    )]
    MemoryLimit(usize, String),
    #[error("the query failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Lake(#[from] crate::Error),
}

/// Runs one read-only statement. The rows come back in the order the query gives them.
pub async fn explore(
    lake: &Lake,
    sql: &str,
    as_of: Option<AsOf>,
    limits: Limits,
) -> Result<Answer, ExploreError> {
    let started = Instant::now();
    let deadline = started + limits.time;
    let (ctx, tables) = match as_of {
        Some(as_of) => lake.session_as_of(as_of).await?,
        None => lake.session_with_versions().await?,
    };
    let ctx = bounded(ctx, limits.memory_bytes)?;
    let failed = |e| from_datafusion(e, limits.memory_bytes);
    let answer = tokio::time::timeout_at(deadline.into(), async {
        let frame = crate::plan(&ctx, sql).await.map_err(classify)?;
        let schema: SchemaRef = std::sync::Arc::new(frame.schema().as_arrow().clone());
        let mut stream = frame.execute_stream().await.map_err(failed)?;
        let (mut batches, mut rows, mut truncated) = (Vec::new(), 0usize, false);
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(failed)?;
            let room = limits.rows - rows;
            if batch.num_rows() > room {
                batches.push(batch.slice(0, room));
                rows += room;
                truncated = true;
                break;
            }
            rows += batch.num_rows();
            batches.push(batch);
            if rows == limits.rows {
                // Exactly at the limit: one more row would mean the answer was cut.
                truncated = match stream.next().await {
                    Some(Ok(more)) => more.num_rows() > 0,
                    Some(Err(e)) => return Err(failed(e)),
                    None => false,
                };
                break;
            }
        }
        // Dropping the stream stops whatever the plan still had running.
        Ok::<_, ExploreError>((schema, batches, rows, truncated))
    })
    .await
    .map_err(|_| ExploreError::TimeLimit(limits.time))??;
    let (schema, batches, rows, truncated) = answer;
    Ok(Answer {
        schema,
        batches,
        rows,
        truncated,
        elapsed: started.elapsed(),
        tables,
    })
}

/// One table as a catalog browser shows it.
#[derive(Clone, Debug)]
pub struct TableDescription {
    pub name: TableName,
    pub version: u64,
    pub schema: SchemaRef,
}

/// Every table of the lake with its latest version and its columns, sorted by name (each table
/// is loaded once).
pub async fn catalog(lake: &Lake) -> crate::Result<Vec<TableDescription>> {
    let (ctx, versions) = lake.session_with_versions().await?;
    let mut tables = Vec::with_capacity(versions.len());
    for (name, version) in versions {
        let schema = ctx
            .table_provider(name.to_string().as_str())
            .await?
            .schema();
        tables.push(TableDescription {
            name,
            version,
            schema,
        });
    }
    tables.sort_by_cached_key(|t| t.name.to_string());
    Ok(tables)
}

/// The columns a read-only statement would answer with, without running it (for clients that
/// prepare a statement before they execute it). Refused and invalid SQL fail as in [`explore`].
pub async fn describe(lake: &Lake, sql: &str) -> Result<SchemaRef, ExploreError> {
    let (ctx, _) = lake.session_with_versions().await?;
    let frame = crate::plan(&ctx, sql).await.map_err(classify)?;
    Ok(std::sync::Arc::new(frame.schema().as_arrow().clone()))
}

/// The same session with a memory pool of `memory_bytes` and no spilling.
fn bounded(ctx: SessionContext, memory_bytes: usize) -> Result<SessionContext, ExploreError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(memory_bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|e| from_datafusion(e, memory_bytes))?;
    let state = SessionStateBuilder::new_from_existing(ctx.state())
        .with_runtime_env(runtime)
        .build();
    Ok(SessionContext::new_with_state(state))
}

/// Planning errors: a refused statement, or SQL that does not parse or plan.
fn classify(error: crate::Error) -> ExploreError {
    match error {
        crate::Error::Query(e) => {
            let message = e.find_root().to_string();
            let message = message.as_str();
            for (marker, what) in [
                ("DDL not supported: ", "DDL"),
                ("DML not supported: ", "DML"),
                ("Statement not supported: ", "a statement"),
            ] {
                if let Some(at) = message.find(marker) {
                    let name = message[at + marker.len()..].trim();
                    return ExploreError::Refused(if name.is_empty() {
                        what.to_string()
                    } else {
                        format!("{what} ({name})")
                    });
                }
            }
            ExploreError::Invalid(tidy(message))
        }
        other => ExploreError::Lake(other),
    }
}

fn from_datafusion(error: DataFusionError, memory_bytes: usize) -> ExploreError {
    match error.find_root() {
        DataFusionError::ResourcesExhausted(reason) => {
            ExploreError::MemoryLimit(memory_bytes, tidy(reason))
        }
        root => ExploreError::Failed(tidy(&root.to_string())),
    }
}

/// DataFusion's messages without their internal prefixes.
fn tidy(message: &str) -> String {
    let mut text = message.trim();
    for prefix in [
        "Error during planning: ",
        "SQL error: ",
        "Schema error: ",
        "Execution error: ",
        "This feature is not implemented: ",
        "Resources exhausted: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest;
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{Int64Array, StringArray};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    async fn lake_with_numbers(dir: &std::path::Path, n: i64) -> Lake {
        let lake = Lake::open(dir.to_str().unwrap()).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("word", DataType::Utf8, false),
        ]));
        let table = lake
            .open_or_create(&"silver.numbers".parse().unwrap(), schema.clone(), &[])
            .await
            .unwrap();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())),
                Arc::new(StringArray::from(
                    (0..n).map(|i| format!("word {i}")).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap();
        table.write(vec![batch]).await.unwrap();
        lake
    }

    #[tokio::test]
    async fn answers_queries_and_says_when_rows_were_cut() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_with_numbers(dir.path(), 1000).await;
        let limits = Limits {
            rows: 10,
            ..Limits::default()
        };
        let answer = explore(
            &lake,
            "SELECT n FROM silver.numbers ORDER BY n",
            None,
            limits,
        )
        .await
        .unwrap();
        assert_eq!((answer.rows, answer.truncated), (10, true));
        assert_eq!(answer.tables.len(), 1);
        let exact = explore(
            &lake,
            "SELECT n FROM silver.numbers ORDER BY n LIMIT 10",
            None,
            limits,
        )
        .await
        .unwrap();
        assert_eq!((exact.rows, exact.truncated), (10, false));
        let sum = explore(
            &lake,
            "SELECT sum(n) AS s FROM silver.numbers",
            None,
            limits,
        )
        .await
        .unwrap();
        assert_eq!(sum.rows, 1);
    }

    #[tokio::test]
    async fn refuses_everything_but_queries() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_with_numbers(dir.path(), 10).await;
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "DROP TABLE silver.numbers",
            "INSERT INTO silver.numbers VALUES (1, 'x')",
            "DELETE FROM silver.numbers",
            "UPDATE silver.numbers SET n = 0",
            "COPY silver.numbers TO '/tmp/stolen.csv'",
            "COPY (SELECT 1) TO '/tmp/stolen.parquet'",
            "SET datafusion.execution.batch_size = 1",
            "CREATE VIEW v AS SELECT 1",
        ] {
            match explore(&lake, sql, None, Limits::default()).await {
                Err(ExploreError::Refused(_)) => {}
                // Statements DataFusion cannot even plan are refused all the same.
                Err(ExploreError::Invalid(_)) => {}
                other => panic!("{sql}: {other:?}"),
            }
        }
        assert!(!std::path::Path::new("/tmp/stolen.csv").exists());
        let count = explore(
            &lake,
            "SELECT count(*) FROM silver.numbers",
            None,
            Limits::default(),
        )
        .await
        .unwrap();
        assert_eq!(count.rows, 1, "the table is as it was");
        let err = explore(&lake, "SELEC 1", None, Limits::default())
            .await
            .unwrap_err();
        assert!(matches!(err, ExploreError::Invalid(_)), "{err}");
        let err = explore(&lake, "SELECT * FROM gold.nothing", None, Limits::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("gold.nothing"), "{err}");
    }

    #[tokio::test]
    async fn a_runaway_query_is_stopped_by_its_limits() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_with_numbers(dir.path(), 3000).await;
        let cross = "SELECT a.word, b.word, c.n FROM silver.numbers a, silver.numbers b, silver.numbers c ORDER BY 1, 2, 3";
        let limits = Limits {
            time: Duration::from_millis(300),
            memory_bytes: 16 << 20,
            rows: 100,
        };
        let err = explore(&lake, cross, None, limits).await.unwrap_err();
        assert!(
            matches!(
                err,
                ExploreError::TimeLimit(_) | ExploreError::MemoryLimit(..)
            ),
            "{err:?}"
        );
        let limits = Limits {
            time: Duration::from_secs(60),
            memory_bytes: 1 << 20,
            rows: 100,
        };
        let err = explore(
            &lake,
            "SELECT a.n, b.word FROM silver.numbers a, silver.numbers b ORDER BY b.word, a.n",
            None,
            limits,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ExploreError::MemoryLimit(..)), "{err:?}");
        assert!(err.to_string().contains("memory"), "{err}");
    }
}
