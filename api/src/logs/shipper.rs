//! Drains the service's [`LogFeed`] in batches into the `logs` topic, then the live stream.

use super::LogFeed;
use crate::app::AppState;
use chrono::Utc;
use domain::{Actor, Event, EventId, LogLine};
use ingest::{AppendRecord, Envelope, Topic};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Lines per append at most.
const BATCH: usize = 1000;

/// The envelope of one line on the `logs` topic.
pub fn record(line: &LogLine) -> AppendRecord {
    let event = Event::LogLine(Box::new(line.clone()));
    let envelope = Envelope::wrap(
        EventId(uuid::Uuid::now_v7()),
        &event,
        Actor::System,
        line.at,
    );
    AppendRecord::new(Topic::Logs, envelope.key.clone(), envelope.to_bytes())
}

/// Runs until `cancel`: whatever lines are waiting go out together, so a quiet service ships each
/// line at once and a busy one in batches of up to [`BATCH`].
pub async fn run(
    app: AppState,
    feed: Arc<LogFeed>,
    mut lines: mpsc::Receiver<LogLine>,
    cancel: CancellationToken,
) {
    let mut reported = 0;
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let received = tokio::select! {
            _ = cancel.cancelled() => return,
            received = lines.recv_many(&mut batch, BATCH) => received,
        };
        if received == 0 {
            return;
        }
        // Lines dropped since the last report become a line of their own.
        let dropped = feed.dropped();
        if dropped > reported {
            batch.push(LogLine {
                at: Utc::now(),
                level: "warn".into(),
                source: "api".into(),
                target: module_path!().into(),
                message: format!(
                    "{} log lines dropped: the log buffer was full",
                    dropped - reported
                ),
                fields: [("dropped_total".to_string(), dropped.to_string())].into(),
                spans: Vec::new(),
            });
            reported = dropped;
        }
        let records = batch.iter().map(record).collect();
        tokio::select! {
            _ = cancel.cancelled() => return,
            appended = app.log.append(records) => match appended {
                Ok(_) => {
                    app.logs.shipped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    for line in batch {
                        app.live.publish_log(Arc::new(line));
                    }
                }
                // Not traced: the line would come straight back here. Counted instead.
                Err(_) => {
                    app.logs.failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            },
        }
    }
}
