//! `POST /api/logs` (browsers' log lines) and `GET /api/admin/logs` (reading them back).

use crate::app::AppState;
use crate::auth::limits::{self, Limit};
use crate::auth::{Admin, MaybeUser};
use crate::error::{ApiError, ErrorBody};
use crate::logs::query::{self, LogFilter};
use crate::request::ClientAddr;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use domain::{LOG_LEVELS, LogLine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Browser lines per request at most, and requests per client address.
const MAX_BROWSER_LINES: usize = 20;
const BROWSER_LIMIT: Limit = Limit::new(30, 60);
/// The largest request body, in bytes.
pub const MAX_BROWSER_BODY: usize = 32 * 1024;
const MAX_FIELDS: usize = 20;
const MAX_FIELD_TEXT: usize = 500;

#[derive(Deserialize, ToSchema)]
pub(crate) struct BrowserLine {
    /// `error`, `warn`, `info` or `debug`.
    level: String,
    message: String,
    /// The page's path.
    #[serde(default)]
    page: String,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct BrowserLines {
    lines: Vec<BrowserLine>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    accepted: usize,
}

/// Browsers' log lines (errors a page met, mostly): at most 20 per request and 32 KB, 30 requests
/// a minute per address. They join the `logs` topic as source `browser`.
#[utoipa::path(post, path = "/api/logs", tag = "operations", request_body = BrowserLines,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn browser_lines(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    MaybeUser(user): MaybeUser,
    Json(body): Json<BrowserLines>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    limits::check(app.kv.as_ref(), "browser-logs", &addr, BROWSER_LIMIT).await?;
    if body.lines.len() > MAX_BROWSER_LINES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BROWSER_LINES} lines per request"
        )));
    }
    let now = Utc::now();
    let mut lines = Vec::with_capacity(body.lines.len());
    for line in body.lines {
        let level = line.level.to_ascii_lowercase();
        if !LOG_LEVELS.contains(&level.as_str()) {
            return Err(ApiError::bad_request(format!(
                "level '{}' is not one of {}",
                line.level,
                LOG_LEVELS.join(", ")
            )));
        }
        if line.fields.len() > MAX_FIELDS {
            return Err(ApiError::bad_request(format!(
                "at most {MAX_FIELDS} fields per line"
            )));
        }
        let mut message = line.message;
        LogLine::clip(&mut message);
        let mut fields: BTreeMap<String, String> = line
            .fields
            .into_iter()
            .map(|(k, v)| (clip(&k, 60), clip(&v, MAX_FIELD_TEXT)))
            .collect();
        // Who, by role only: no account id or address reaches the logs from here.
        let role = user.as_ref().map_or("anonymous", |u| u.actor().role_name());
        fields.insert("role".into(), role.into());
        lines.push(LogLine {
            at: now,
            level,
            source: "browser".into(),
            target: clip(&line.page, 200),
            message,
            fields,
            spans: Vec::new(),
        });
    }
    let accepted = lines.len();
    for line in lines {
        app.logs.feed.offer(line);
    }
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted })))
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// The least severe level to include: `error`, `warn`, `info`, `debug`, `trace`.
    level: Option<String>,
    /// `api`, `pipelines`, `ingest`, `lakehouse`, `models`, `cli`, `browser`, …
    source: Option<String>,
    /// Text in the message, module or fields.
    q: Option<String>,
    /// RFC 3339 (or `YYYY-MM-DDTHH:MM[:SS]`, read as UTC); an hour before `to` by default.
    from: Option<String>,
    /// Like `from`; now by default.
    to: Option<String>,
    /// `json` (default), `csv` or `ndjson` (both downloads).
    format: Option<String>,
    /// Lines in a `json` answer (default 200, at most 5,000); downloads hold up to 100,000.
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct LogPage {
    /// Oldest first.
    #[schema(value_type = Vec<Object>)]
    items: Vec<LogLine>,
    /// Whether more lines matched than the answer holds (the newest are kept).
    truncated: bool,
    /// Lines this service dropped since it started because the log could not keep up.
    lost: u64,
}

/// Log lines from `bronze.logs` (what the lake sink has copied: seconds behind the live page),
/// filtered; `format=csv|ndjson` downloads the range.
#[utoipa::path(get, path = "/api/admin/logs", tag = "admin", params(LogQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn admin_logs(
    State(app): State<AppState>,
    _admin: Admin,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let to = instant("to", query.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = instant("from", query.from.as_deref())?.unwrap_or(to - Duration::hours(1));
    let level = query.level.filter(|l| !l.is_empty());
    if from >= to {
        return Err(ApiError::bad_request("`from` must be before `to`"));
    }
    if let Some(level) = &level
        && !LOG_LEVELS.contains(&level.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "level '{level}' is not one of {}",
            LOG_LEVELS.join(", ")
        )));
    }
    let filter = LogFilter {
        from,
        to,
        level,
        source: query.source.filter(|s| !s.is_empty()),
        text: query.q.filter(|q| !q.trim().is_empty()),
    };
    let format = query.format.as_deref().unwrap_or("json");
    let limit = match format {
        "json" => query.limit.unwrap_or(200).clamp(1, 5000),
        "csv" | "ndjson" => query::MAX_LINES,
        other => {
            return Err(ApiError::bad_request(format!(
                "format '{other}' is not json, csv or ndjson"
            )));
        }
    };
    let (items, truncated) = query::read(&app.lake, &filter, limit).await?;
    let name = format!(
        "logs-{}-{}",
        from.format("%Y%m%dT%H%M%S"),
        to.format("%Y%m%dT%H%M%S")
    );
    Ok(match format {
        "csv" => {
            let mut csv = crate::csv::Csv::new(&[
                "at", "level", "source", "target", "message", "fields", "spans",
            ]);
            for line in items {
                csv.row([
                    line.at.to_rfc3339(),
                    line.level,
                    line.source,
                    line.target,
                    line.message,
                    serde_json::to_string(&line.fields).unwrap_or_default(),
                    line.spans.join(" > "),
                ]);
            }
            csv.download(&format!("{name}.csv"))
        }
        "ndjson" => {
            let mut out = String::new();
            for line in &items {
                out.push_str(&serde_json::to_string(line).expect("a line serializes"));
                out.push('\n');
            }
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}.ndjson\""),
                    ),
                ],
                out,
            )
                .into_response()
        }
        _ => Json(LogPage {
            items,
            truncated,
            lost: app.logs.lost(),
        })
        .into_response(),
    })
}

/// A time from a query: RFC 3339, or a form's local `YYYY-MM-DDTHH:MM[:SS]` read as UTC; empty
/// means not given.
fn instant(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` is not a time: write it as 2026-11-28T09:30:00Z"
            ))
        })
}
