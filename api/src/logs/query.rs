//! Reading log lines back from `bronze.logs` for the admins' page and downloads.

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use domain::LogLine;
use lakehouse::Lake;
use lakehouse::arrow;
use lakehouse::arrow::array::{Array, AsArray};

/// Lines one answer holds at most.
pub const MAX_LINES: usize = 100_000;

/// Which lines: a time range and optional filters.
#[derive(Clone, Debug)]
pub struct LogFilter {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The least severe level included (`warn` keeps errors and warnings).
    pub level: Option<String>,
    pub source: Option<String>,
    /// Text in the message, target or fields (case-insensitive).
    pub text: Option<String>,
}

impl LogFilter {
    pub fn keeps(&self, line: &LogLine) -> bool {
        let level_ok = self
            .level
            .as_deref()
            .is_none_or(|level| line.severity() <= domain::severity_of(level));
        let source_ok = self.source.as_deref().is_none_or(|s| s == line.source);
        let text_ok = self.text.as_deref().is_none_or(|q| {
            let q = q.to_lowercase();
            line.message.to_lowercase().contains(&q)
                || line.target.to_lowercase().contains(&q)
                || line
                    .fields
                    .iter()
                    .any(|(k, v)| k.to_lowercase().contains(&q) || v.to_lowercase().contains(&q))
        });
        level_ok && source_ok && text_ok
    }
}

/// The lines in `bronze.logs` that `filter` keeps, oldest first, at most `limit` of the newest;
/// and whether more matched.
pub async fn read(
    lake: &Lake,
    filter: &LogFilter,
    limit: usize,
) -> Result<(Vec<LogLine>, bool), ApiError> {
    let table = ingest::bronze_table(ingest::Topic::Logs);
    if lake.open_table(&table).await?.is_none() {
        return Ok((Vec::new(), false));
    }
    let ctx = lake.session().await?;
    let micros = |t: DateTime<Utc>| t.timestamp_micros();
    // Partition pruning by day first, then the exact range; the newest first so a limit keeps them.
    let sql = format!(
        "SELECT payload FROM {table} WHERE kind = 'log.line' \
         AND date >= DATE '{}' AND date <= DATE '{}' \
         AND at >= to_timestamp_micros({}) AND at < to_timestamp_micros({}) \
         ORDER BY at DESC, partition, \"offset\" DESC",
        filter.from.date_naive(),
        filter.to.date_naive(),
        micros(filter.from),
        micros(filter.to),
    );
    let batches = lakehouse::query(&ctx, &sql).await?;
    let mut lines = Vec::new();
    let mut more = false;
    'batches: for batch in &batches {
        // Read back as Utf8 or Utf8View depending on the session: normalize.
        let payloads = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let payloads = payloads.as_string::<i32>();
        for i in 0..payloads.len() {
            let Ok(line) = serde_json::from_str::<LogLine>(payloads.value(i)) else {
                continue;
            };
            if filter.keeps(&line) {
                if lines.len() == limit {
                    more = true;
                    break 'batches;
                }
                lines.push(line);
            }
        }
    }
    lines.reverse();
    Ok((lines, more))
}
