use crate::app::AppState;
use crate::health::WorkerState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;
use ingest::{COMMIT_BUCKETS_MS, Topic};
use std::fmt::Write;

/// Prometheus text: the log's size, the lake sink's lag (records and seconds), commit latency and
/// throughput per partition, pipeline runs, lake upkeep and worker liveness. Operational figures
/// only: no personal data.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub(super) async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let mut out = Metrics::default();
    let progress = app.sink.progress().borrow().clone();
    let now = Utc::now();
    for at in Topic::LAKE
        .into_iter()
        .flat_map(|t| app.log.partitions_of(t))
    {
        let labels = format!("topic=\"{}\",partition=\"{}\"", at.topic, at.partition);
        let end = app.log.end_offset(at);
        let p = progress.get(&at).cloned().unwrap_or_default();
        out.gauge(
            "marketplace_log_records",
            "Records in a log partition (its end offset).",
            &labels,
            end as f64,
        );
        out.gauge(
            "marketplace_sink_lag_records",
            "Records in the log not yet in the lake.",
            &labels,
            end.saturating_sub(p.next) as f64,
        );
        out.gauge(
            "marketplace_sink_lag_seconds",
            "How long the lake has been behind the log (0 when caught up).",
            &labels,
            p.lag_seconds(end, now),
        );
        out.counter(
            "marketplace_sink_rows_total",
            "Rows the lake sink wrote to bronze.",
            &labels,
            p.rows as f64,
        );
        out.counter(
            "marketplace_sink_dead_letters_total",
            "Records the lake sink sent to bronze.dead_letters.",
            &labels,
            p.dead_letters as f64,
        );
        let mut cumulative = 0;
        for (i, bound) in COMMIT_BUCKETS_MS.iter().enumerate() {
            cumulative += p.commit_ms_buckets[i];
            out.sample(
                "marketplace_sink_commit_seconds_bucket",
                "histogram",
                "Lake sink commit latency.",
                &format!("{labels},le=\"{}\"", *bound as f64 / 1000.0),
                cumulative as f64,
            );
        }
        out.sample(
            "marketplace_sink_commit_seconds_bucket",
            "histogram",
            "",
            &format!("{labels},le=\"+Inf\""),
            p.commits as f64,
        );
        out.sample(
            "marketplace_sink_commit_seconds_sum",
            "histogram",
            "",
            &labels,
            p.commit_ms_total as f64 / 1000.0,
        );
        out.sample(
            "marketplace_sink_commit_seconds_count",
            "histogram",
            "",
            &labels,
            p.commits as f64,
        );
    }
    for (name, status) in app.pipelines.status().borrow().iter() {
        let labels = format!("pipeline=\"{name}\"");
        out.counter(
            "marketplace_pipeline_runs_total",
            "Pipeline runs since start.",
            &labels,
            status.runs as f64,
        );
        out.gauge(
            "marketplace_pipeline_failing",
            "1 when the pipeline's last run failed.",
            &labels,
            f64::from(u8::from(status.last_error.is_some())),
        );
        if let Some(p95) = status.lag_p95_ms() {
            out.gauge(
                "marketplace_pipeline_lag_p95_seconds",
                "Freshness: event time to visible in the target, 95th percentile of recent runs.",
                &labels,
                p95 as f64 / 1000.0,
            );
        }
        if let Some(last) = &status.last {
            out.gauge(
                "marketplace_pipeline_last_rows_in",
                "Source rows the last run read.",
                &labels,
                last.rows_in as f64,
            );
            out.gauge(
                "marketplace_pipeline_last_duration_seconds",
                "Wall time of the last run.",
                &labels,
                last.duration_ms as f64 / 1000.0,
            );
        }
    }
    let upkeep = app.upkeep.borrow().clone();
    out.counter(
        "marketplace_lake_upkeep_rounds_total",
        "Rounds of lake compaction and vacuum.",
        "",
        upkeep.rounds as f64,
    );
    out.counter(
        "marketplace_lake_files_compacted_total",
        "Small files merged away.",
        "",
        upkeep.files_compacted as f64,
    );
    out.counter(
        "marketplace_lake_files_vacuumed_total",
        "Files deleted by vacuum.",
        "",
        upkeep.files_vacuumed as f64,
    );
    let logs = &app.logs;
    for (outcome, lines) in [
        (
            "shipped",
            logs.shipped.load(std::sync::atomic::Ordering::Relaxed),
        ),
        ("dropped", logs.feed.dropped()),
        (
            "failed",
            logs.failed.load(std::sync::atomic::Ordering::Relaxed),
        ),
    ] {
        out.counter(
            "marketplace_log_lines_total",
            "Log lines by outcome: shipped to the logs topic, dropped (buffer full), failed (append refused).",
            &format!("outcome=\"{outcome}\""),
            lines as f64,
        );
    }
    out.gauge(
        "marketplace_sockets",
        "Open WebSockets on this service.",
        "",
        app.live.sockets() as f64,
    );
    for (worker, state) in app.health.snapshot() {
        let up = matches!(state, WorkerState::Running | WorkerState::Starting);
        out.gauge(
            "marketplace_worker_up",
            "1 while a background worker runs.",
            &format!("worker=\"{worker}\""),
            f64::from(u8::from(up)),
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out.text(),
    )
}

/// Prometheus text exposition: every sample of a metric family grouped under its one HELP and
/// TYPE, families in the order first seen (the format requires the grouping).
#[derive(Default)]
struct Metrics {
    families: Vec<Family>,
}

struct Family {
    name: String,
    kind: &'static str,
    help: String,
    samples: Vec<String>,
}

impl Metrics {
    fn gauge(&mut self, name: &str, help: &str, labels: &str, value: f64) {
        self.sample(name, "gauge", help, labels, value);
    }

    fn counter(&mut self, name: &str, help: &str, labels: &str, value: f64) {
        self.sample(name, "counter", help, labels, value);
    }

    fn sample(&mut self, name: &str, kind: &'static str, help: &str, labels: &str, value: f64) {
        let family = if kind == "histogram" {
            name.trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count")
        } else {
            name
        };
        let index = match self.families.iter().position(|f| f.name == family) {
            Some(index) => index,
            None => {
                self.families.push(Family {
                    name: family.to_string(),
                    kind,
                    help: help.to_string(),
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        let sample = if labels.is_empty() {
            format!("{name} {value}")
        } else {
            format!("{name}{{{labels}}} {value}")
        };
        self.families[index].samples.push(sample);
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for family in &self.families {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
            for sample in &family.samples {
                let _ = writeln!(out, "{sample}");
            }
        }
        out
    }
}
