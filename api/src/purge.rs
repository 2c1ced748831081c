//! The scheduled purge, once a minute in `serve`: products deleted more than the restore window ago
//! are removed for good (`product.purged`), shops whose deletion was requested 28 days ago are
//! closed (`shop.purged`), and images unused for a day are deleted with their files. The same
//! loop closes checkouts whose payment time is up (their stock goes back on sale) and retries
//! transfers, reversals and refunds a crash or the provider left undone.

use crate::app::AppState;
use chrono::{DateTime, Utc};
use domain::{Actor, Command, ShopCommand};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub products: usize,
    pub shops: usize,
    pub images: usize,
}

/// Purges everything due at `now`. Products and shops go first, so the images they used are
/// unused when the images are looked at.
pub async fn purge_due(app: &AppState, now: DateTime<Utc>) -> Purged {
    let products = purge_products(app, now).await;
    let shops = purge_shops(app, now).await;
    let images = crate::media::purge_unused(app, now).await;
    forget_idle_visitor_carts(app, now).await;
    Purged {
        products,
        shops,
        images,
    }
}

async fn purge_shops(app: &AppState, now: DateTime<Utc>) -> usize {
    let due: Vec<_> = app
        .state()
        .shops
        .values()
        .filter(|s| s.purge_due_at().is_some_and(|due| now >= due))
        .map(|s| s.id)
        .collect();
    let mut purged = 0;
    for id in due {
        match app
            .execute_at(Actor::System, Command::Shop(ShopCommand::Purge { id }), now)
            .await
        {
            Ok(_) => {
                purged += 1;
                tracing::info!(shop.id = %id, "closed a shop whose deletion was requested 28 days ago");
            }
            Err(e) => tracing::debug!(shop.id = %id, error = %e, "not purged"),
        }
    }
    purged
}

async fn purge_products(app: &AppState, now: DateTime<Utc>) -> usize {
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
        let now = Utc::now();
        purge_due(&app, now).await;
        crate::orders::expire_due(&app, now).await;
        crate::payments::settle_due(&app, now).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Visitors' carts untouched for 30 days are forgotten (a shopper's cart stays with the account).
async fn forget_idle_visitor_carts(app: &AppState, now: DateTime<Utc>) {
    let idle = now - chrono::Duration::days(domain::VISITOR_CART_DAYS);
    let sessions: Vec<domain::SessionId> = app
        .state()
        .carts
        .values()
        .filter(|c| c.updated_at < idle)
        .filter_map(|c| match c.owner {
            domain::CartOwner::Session(session) => Some(session),
            domain::CartOwner::Account(_) => None,
        })
        .collect();
    for session in sessions {
        let forget = Command::Cart(domain::CartCommand::Forget { session });
        if let Err(e) = app.execute_at(Actor::System, forget, now).await {
            tracing::debug!(error = %e, "a visitor's cart was not forgotten");
        }
    }
}
