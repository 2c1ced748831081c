//! `/admin/logs`: the live log. The last lines from `bronze.logs` are rendered; `portal.js` then
//! follows the socket's log stream, filters by level, source and text, pauses, and the download
//! form fetches a time range from `GET /api/admin/logs` as CSV or NDJSON.

use crate::chrome::Chrome;
use crate::session::Viewer;
use api::AppState;
use api::logs::query::{self, LogFilter};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use domain::LogLine;

/// Lines the page starts with.
const BACKFILL: usize = 200;

#[derive(Template, WebTemplate)]
#[template(path = "admin_logs.html")]
pub struct LogsPage {
    chrome: Chrome,
    lines: Vec<LogLine>,
    sources: Vec<&'static str>,
    /// Why the backfill is missing, if it is.
    error: Option<String>,
    lost: u64,
}

impl LogsPage {
    fn fields(line: &LogLine) -> String {
        line.fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub async fn show(State(app): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require_admin(&app, "/admin/logs") {
        return refused;
    }
    let now = Utc::now();
    let filter = LogFilter {
        from: now - Duration::hours(24),
        to: now + Duration::seconds(1),
        level: None,
        source: None,
        text: None,
    };
    let (lines, error) = match query::read(&app.lake, &filter, BACKFILL).await {
        Ok((lines, _)) => (lines, None),
        Err(e) => (Vec::new(), Some(e.public_message())),
    };
    LogsPage {
        chrome: Chrome::with(&app.state(), "admin", &viewer).in_section("logs"),
        lines,
        sources: vec![
            "api",
            "portals",
            "pipelines",
            "ingest",
            "lakehouse",
            "models",
            "cli",
            "browser",
            "tower_http",
        ],
        error,
        lost: app.logs.lost(),
    }
    .into_response()
}
