//! The scheduled purge: products deleted more than the restore window ago are removed for good
//! (`product.purged`), once a minute in `serve`.

use crate::app::AppState;
use chrono::{DateTime, Utc};
use domain::{Actor, Command};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Purges every product whose restore window had passed at `now`; returns how many.
pub async fn purge_due(app: &AppState, now: DateTime<Utc>) -> usize {
    let due: Vec<_> = app
        .state()
        .products
        .values()
        .filter(|p| p.deleted_at.is_some() && !p.restorable(now))
        .map(|p| p.id)
        .collect();
    let mut purged = 0;
    for id in due {
        match app
            .execute_at(Actor::System, Command::PurgeProduct { id }, now)
            .await
        {
            Ok(_) => purged += 1,
            // Restored or purged in between: nothing to do.
            Err(e) => tracing::debug!(product.id = %id, error = %e, "not purged"),
        }
    }
    if purged > 0 {
        tracing::info!(
            products = purged,
            "purged products deleted more than 24 hours ago"
        );
    }
    purged
}

/// Runs [`purge_due`] every `every` until cancelled.
pub async fn run(app: AppState, every: Duration, cancel: CancellationToken) {
    loop {
        purge_due(&app, Utc::now()).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
