//! The SQL explorer's engine room, shared by `POST /api/sql` and the admin portal's explorer
//! page: who may ask, how many questions run at once, the limits, and the answer in each format.

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use lakehouse::{Answer, AsOf, ExploreError, Limits};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Questions running at once, over everyone: the service keeps its cores for the shop.
const SLOTS: usize = 2;
static RUNNING: Semaphore = Semaphore::const_new(SLOTS);
/// How long a question waits for a slot before it is turned away.
const QUEUE_WAIT: Duration = Duration::from_secs(10);
/// The longest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 64 * 1024;

/// The limits a question runs under: the configured ones, with fewer rows if the caller asks.
pub fn limits(app: &AppState, rows: Option<usize>) -> Limits {
    let configured = app.config.sql_limits;
    Limits {
        rows: rows.unwrap_or(configured.rows).clamp(1, configured.rows),
        ..configured
    }
}

/// Runs one read-only question for `who` (an admin or analyst: the caller checked).
pub async fn ask(
    app: &AppState,
    who: &Principal,
    sql: &str,
    as_of: Option<&str>,
    limits: Limits,
) -> Result<Answer, ApiError> {
    let sql = checked(sql)?;
    let as_of = match as_of.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(
            text.parse::<AsOf>()
                .map_err(|reason| ApiError::invalid("as_of", reason))?,
        ),
        None => None,
    };
    let _slot = tokio::time::timeout(QUEUE_WAIT, RUNNING.acquire())
        .await
        .map_err(|_| ApiError::TooManyRequests {
            message: format!("{SLOTS} questions are running already; try again in a few seconds"),
            retry_after_secs: 5,
        })?
        .map_err(|_| ApiError::Unavailable("the explorer is shutting down".into()))?;
    let answer = lakehouse::explore(&app.lake, sql, as_of, limits).await;
    let account = who.account.id;
    match &answer {
        Ok(a) => {
            tracing::info!(%account, rows = a.rows, truncated = a.truncated, elapsed_ms = a.elapsed.as_millis() as u64, sql = %clip(sql), "sql question answered")
        }
        Err(e) => {
            tracing::info!(%account, error = %e, sql = %clip(sql), "sql question refused or failed")
        }
    }
    answer.map_err(explore_error)
}

/// The columns `sql` would answer with, without running it (Flight SQL's prepared statements).
pub async fn describe(
    app: &AppState,
    sql: &str,
) -> Result<lakehouse::arrow::datatypes::SchemaRef, ApiError> {
    lakehouse::describe(&app.lake, checked(sql)?)
        .await
        .map_err(explore_error)
}

/// The statement without surrounding blanks, if it is one a person could mean.
fn checked(sql: &str) -> Result<&str, ApiError> {
    let sql = sql.trim();
    if sql.is_empty() {
        return Err(ApiError::invalid("sql", "write a query"));
    }
    if sql.len() > MAX_SQL_BYTES {
        return Err(ApiError::invalid(
            "sql",
            format!("at most {} KiB of SQL", MAX_SQL_BYTES / 1024),
        ));
    }
    Ok(sql)
}

fn explore_error(e: ExploreError) -> ApiError {
    match e {
        ExploreError::Refused(_) => ApiError::BadRequest {
            code: "read_only",
            message: e.to_string(),
        },
        ExploreError::Invalid(_) => ApiError::BadRequest {
            code: "bad_sql",
            message: e.to_string(),
        },
        ExploreError::TimeLimit(_) | ExploreError::MemoryLimit(..) => ApiError::BadRequest {
            code: "query_limit",
            message: e.to_string(),
        },
        ExploreError::Failed(_) => ApiError::BadRequest {
            code: "query_failed",
            message: e.to_string(),
        },
        ExploreError::Lake(e) => ApiError::Unavailable(format!("the lake could not be read: {e}")),
    }
}

fn clip(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// How an answer is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Arrow,
    Parquet,
}

impl Format {
    /// From `?format=` (`json`, `csv`, `arrow`, `parquet`).
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "arrow" => Some(Format::Arrow),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// From an `Accept` header (JSON unless it asks for one of the others).
    pub fn from_accept(accept: &str) -> Format {
        if accept.contains("text/csv") {
            Format::Csv
        } else if accept.contains("application/vnd.apache.arrow.stream") {
            Format::Arrow
        } else if accept.contains("application/vnd.apache.parquet") {
            Format::Parquet
        } else {
            Format::Json
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Arrow => "arrows",
            Format::Parquet => "parquet",
        }
    }
}

/// One column of an answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Column {
    pub name: String,
    /// The Arrow type, e.g. `Int64`, `Utf8`, `Date32`.
    pub data_type: String,
}

/// A table the answer read, at its version.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TableVersion {
    pub table: String,
    pub version: u64,
}

/// An answer as JSON: the columns, then each row as an array in the columns' order.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct JsonAnswer {
    pub columns: Vec<Column>,
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
    pub row_count: usize,
    /// More rows were there than the limit let through.
    pub truncated: bool,
    pub elapsed_ms: u64,
    pub tables: Vec<TableVersion>,
}

impl JsonAnswer {
    pub fn build(answer: &Answer) -> Result<JsonAnswer, ApiError> {
        let columns: Vec<Column> = answer
            .schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
            })
            .collect();
        let rows = lakehouse::json_rows(&answer.batches)
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .into_iter()
            .map(|mut row| {
                columns
                    .iter()
                    .map(|c| {
                        row.get_mut(&c.name)
                            .map_or(serde_json::Value::Null, serde_json::Value::take)
                    })
                    .collect()
            })
            .collect();
        Ok(JsonAnswer {
            columns,
            rows,
            row_count: answer.rows,
            truncated: answer.truncated,
            elapsed_ms: answer.elapsed.as_millis() as u64,
            tables: answer
                .tables
                .iter()
                .map(|(t, v)| TableVersion {
                    table: t.to_string(),
                    version: *v,
                })
                .collect(),
        })
    }
}

/// The answer's bytes in `format`.
pub fn encode(answer: &Answer, format: Format) -> Result<Vec<u8>, ApiError> {
    let failed =
        |e: lakehouse::Error| ApiError::Internal(format!("the answer could not be written: {e}"));
    match format {
        Format::Json => serde_json::to_vec(&JsonAnswer::build(answer)?)
            .map_err(|e| ApiError::Internal(e.to_string())),
        Format::Csv => {
            if answer.rows == 0 {
                // The header alone.
                return Ok(format!("{}\n", answer.column_names().join(",")).into_bytes());
            }
            lakehouse::format_batches(&answer.batches, lakehouse::OutputFormat::Csv)
                .map(String::into_bytes)
                .map_err(failed)
        }
        Format::Arrow => lakehouse::to_arrow_ipc(&answer.schema, &answer.batches).map_err(failed),
        Format::Parquet => {
            lakehouse::to_parquet(answer.schema.clone(), &answer.batches).map_err(failed)
        }
    }
}

/// The answer as a response in `format`: its content type, `x-row-count` and `x-truncated`, and
/// for anything but JSON a download (`query.csv`, `query.parquet`, `query.arrows`).
pub fn respond(answer: &Answer, format: Format) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let mut response = (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::HeaderName::from_static("x-row-count"),
                answer.rows.to_string(),
            ),
            (
                header::HeaderName::from_static("x-truncated"),
                answer.truncated.to_string(),
            ),
        ],
        encode(answer, format)?,
    )
        .into_response();
    if format != Format::Json {
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            header::HeaderValue::from_str(&format!(
                "attachment; filename=\"query.{}\"",
                format.extension()
            ))
            .expect("an ASCII header"),
        );
    }
    Ok(response)
}

/// The lake's tables with their columns and versions.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TableInfo {
    /// `layer.name`, as written in SQL.
    pub table: String,
    pub layer: String,
    pub version: u64,
    pub columns: Vec<Column>,
}

pub async fn tables(app: &AppState) -> Result<Vec<TableInfo>, ApiError> {
    let tables = lakehouse::catalog(&app.lake)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the lake could not be read: {e}")))?;
    Ok(tables
        .into_iter()
        .map(|t| TableInfo {
            table: t.name.to_string(),
            layer: t.name.layer().as_str().to_string(),
            version: t.version,
            columns: t
                .schema
                .fields()
                .iter()
                .map(|f| Column {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                })
                .collect(),
        })
        .collect())
}
