//! `POST /api/sql` and `GET /api/sql/tables`: read-only SQL over the lakehouse for admins and
//! analysts (see [`crate::explorer`]).

use crate::app::AppState;
use crate::auth::Analyst;
use crate::error::{ApiError, ErrorBody};
use crate::explorer::{self, Format, JsonAnswer, TableInfo};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Question {
    /// One read-only statement: SELECT, WITH, EXPLAIN, SHOW or DESCRIBE.
    sql: String,
    /// Every table as it was at this version, or at this RFC 3339 time.
    #[serde(default)]
    as_of: Option<String>,
    /// At most this many rows (and never more than 100,000).
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FormatQuery {
    /// `json`, `csv`, `arrow` or `parquet`; overrides the `Accept` header.
    format: Option<String>,
}

/// Answers one read-only SQL statement over `bronze.*`, `silver.*` and `gold.*`, bounded by time
/// (30 s), memory (512 MiB) and rows (100,000) by default. JSON by default; CSV, an Arrow IPC stream or
/// Parquet by `Accept` (`text/csv`, `application/vnd.apache.arrow.stream`,
/// `application/vnd.apache.parquet`) or `?format=`. DDL, DML, COPY and settings are refused (400,
/// code `read_only`); a query past its limits is stopped (400, `query_limit`).
#[utoipa::path(post, path = "/api/sql", tag = "analytics", request_body = Question, params(FormatQuery),
    responses((status = 200, body = JsonAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn ask(
    State(app): State<AppState>,
    Analyst(who): Analyst,
    Query(query): Query<FormatQuery>,
    headers: HeaderMap,
    body: Result<Json<Question>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(question) = body?;
    let format = match query.format.as_deref() {
        Some(name) => Format::parse(name)
            .ok_or_else(|| ApiError::invalid("format", "json, csv, arrow or parquet"))?,
        None => Format::from_accept(
            headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
    };
    let answer = explorer::ask(
        &app,
        &who,
        &question.sql,
        question.as_of.as_deref(),
        explorer::limits(&app, question.limit),
    )
    .await?;
    explorer::respond(&answer, format)
}

/// Every table of the lake: its layer, columns and latest version.
#[utoipa::path(get, path = "/api/sql/tables", tag = "analytics",
    responses((status = 200, body = [TableInfo]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn tables(
    State(app): State<AppState>,
    Analyst(_): Analyst,
) -> Result<Json<Vec<TableInfo>>, ApiError> {
    Ok(Json(explorer::tables(&app).await?))
}
