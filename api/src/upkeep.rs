//! Lake upkeep in `serve`: every so often, compact each table's small files (with a checkpoint)
//! and vacuum what no retained version needs. `marketplace lake …` does the same by hand.

use lakehouse::Lake;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Deleted files stay readable for this long: a reader at any version committed within the
/// window finds every file it needs (Delta's own default).
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What upkeep has done since the service started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpkeepStatus {
    pub rounds: u64,
    /// Small files merged away by compaction.
    pub files_compacted: u64,
    pub files_vacuumed: u64,
    pub last_error: Option<String>,
}

/// Runs a round of upkeep every `every` until cancelled. A table that fails is reported and
/// tried again next round; the others go on.
pub async fn run(
    lake: Lake,
    every: Duration,
    status: watch::Sender<UpkeepStatus>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let mut compacted = 0;
        let mut vacuumed = 0;
        let mut error = None;
        let tables = match lake.tables().await {
            Ok(tables) => tables,
            Err(e) => {
                status.send_modify(|s| s.last_error = Some(e.to_string()));
                continue;
            }
        };
        for table in tables {
            let round = async {
                let optimized = lake.optimize(&table).await?;
                let vacuum = lake.vacuum(&table, RETENTION, false).await?;
                Ok::<_, lakehouse::Error>((optimized, vacuum))
            };
            match round.await {
                Ok((optimized, vacuum)) => {
                    if optimized.version.is_some() || !vacuum.files_deleted.is_empty() {
                        tracing::info!(table = %table, files_before = optimized.files_before, files_after = optimized.files_after, vacuumed = vacuum.files_deleted.len(), "lake upkeep");
                    }
                    compacted += optimized
                        .files_removed
                        .saturating_sub(optimized.files_added);
                    vacuumed += vacuum.files_deleted.len() as u64;
                }
                Err(e) => {
                    // Most often a commit race with a writer; the next round tries again.
                    tracing::warn!(table = %table, error = %e, "lake upkeep failed for a table; retrying next round");
                    error = Some(format!("{table}: {e}"));
                }
            }
        }
        status.send_modify(|s| {
            s.rounds += 1;
            s.files_compacted += compacted;
            s.files_vacuumed += vacuumed;
            s.last_error = error;
        });
    }
}
