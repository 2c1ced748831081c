use crate::app::AppState;
use crate::health::WorkerState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ingest::Topic;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(super) struct HealthReport {
    /// `ok` when every worker runs, `degraded` otherwise.
    status: &'static str,
    workers: BTreeMap<String, WorkerState>,
    topics: BTreeMap<String, TopicHealth>,
    pipelines: BTreeMap<String, PipelineHealth>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct TopicHealth {
    partitions: u32,
    /// Records in the log, over all partitions.
    log_records: u64,
    /// Records the lake sink has copied (or dead-lettered), over all partitions.
    lake_records: u64,
    /// Records in the log not yet in the lake.
    lake_lag_records: u64,
    /// How long the lake has been behind the log (0 when caught up).
    lake_lag_seconds: f64,
    rows_written: u64,
    dead_letters: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct PipelineHealth {
    target: String,
    runs: u64,
    /// Per source partition, the offset processed up to.
    watermarks: BTreeMap<i32, i64>,
    last_rows_in: Option<u64>,
    last_duration_ms: Option<u64>,
    /// Freshness: from an event's time to its run's commit, for the oldest event of the last run
    /// that read any, and the 95th percentile over the last runs.
    last_lag_ms: Option<u64>,
    lag_p95_ms: Option<u64>,
    last_error: Option<String>,
}

/// Liveness, with each background worker's state, the lake sink's lag per topic and each
/// pipeline's last run. 503 when a worker has failed.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = HealthReport), (status = 503, body = HealthReport)))]
pub(super) async fn health(State(app): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let progress = app.sink.progress().borrow().clone();
    let topics = Topic::LAKE
        .into_iter()
        .map(|topic| {
            let records = app.log.records_in(topic);
            let p = app.sink.topic_progress(topic);
            let health = TopicHealth {
                partitions: app.log.partitions(topic),
                log_records: records,
                lake_records: p.next,
                lake_lag_records: records.saturating_sub(p.next),
                lake_lag_seconds: app
                    .log
                    .partitions_of(topic)
                    .into_iter()
                    .map(|at| {
                        let end = app.log.end_offset(at);
                        progress
                            .get(&at)
                            .map_or(0.0, |p| p.lag_seconds(end, chrono::Utc::now()))
                    })
                    .fold(0.0, f64::max),
                rows_written: p.rows,
                dead_letters: p.dead_letters,
            };
            (topic.to_string(), health)
        })
        .collect();
    let statuses = app.pipelines.status().borrow().clone();
    let pipelines = app
        .pipelines
        .pipelines()
        .iter()
        .map(|spec| {
            let status = statuses.get(&spec.name).cloned().unwrap_or_default();
            let health = PipelineHealth {
                target: spec.target.to_string(),
                runs: status.runs,
                watermarks: status
                    .last
                    .as_ref()
                    .map(|r| r.watermarks.clone())
                    .unwrap_or_default(),
                last_rows_in: status.last.as_ref().map(|r| r.rows_in),
                last_duration_ms: status.last.as_ref().map(|r| r.duration_ms),
                last_lag_ms: status.recent_lags_ms.back().copied(),
                lag_p95_ms: status.lag_p95_ms(),
                last_error: status.last_error,
            };
            (spec.name.clone(), health)
        })
        .collect();
    let workers: BTreeMap<String, WorkerState> = app
        .health
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let failed = workers
        .values()
        .any(|w| matches!(w, WorkerState::Failed { .. }));
    let status = if app.health.all_running() {
        "ok"
    } else {
        "degraded"
    };
    let code = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(HealthReport {
            status,
            workers,
            topics,
            pipelines,
        }),
    )
}
