//! `marketplace bench freshness`: how fresh the lake is under load. The whole dataflow runs in
//! process — command path, log, lake sink, every pipeline on its trigger — while `--rate` activity
//! events a second (views, cart adds, searches by many visitors) go through the command path.
//! Meanwhile a seller's product drops to its low-stock threshold every few seconds, and the bench
//! times each drop from its acknowledgement until the seller's notification is in the service
//! (event → sink → bronze → pipeline → published → delivered). The figures: each pipeline's lag
//! (event time → committed in its target) at p50/p95 over the runs in the measured window, and the
//! notification's end-to-end time at p50/p95.

use super::{figure, percentile, print};
use anyhow::Context as _;
use domain::{
    ActivityDetails, ActivityKind, Actor, ClientContext, Command, Device, ProductChanges, SessionId,
};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Tasks sending activity, each at `rate / SENDERS` events a second.
const SENDERS: usize = 32;

pub async fn bench(data_dir: &Path, json: bool, rate: u64, seconds: f64) -> anyhow::Result<()> {
    let dir = data_dir.join("bench-freshness");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context("clearing the previous bench's data")?;
    }
    let config = api::Config::new(&dir);
    let app = api::App::start(config).await?;
    let products = super::checkout::catalog(&app).await?;
    // The first shop hears of its low stock.
    let (watched, shop) = products[0];
    // The bench watches the shop's notifications in the service (its owner would see them).
    eprintln!("warming up: the pipelines take in the catalog…");
    wait_caught_up(&app, Duration::from_secs(120)).await?;

    eprintln!("{rate} activity events/s for {seconds} s, a low-stock drop every 2 s…");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|n| {
            let (app, stop, sent, products) =
                (app.clone(), stop.clone(), sent.clone(), products.clone());
            let every = Duration::from_secs_f64(SENDERS as f64 / rate.max(1) as f64);
            tokio::spawn(async move {
                let mut next = Instant::now();
                let mut i = n;
                while !stop.load(Ordering::Relaxed) {
                    let (product, shop) = products[i % products.len()];
                    let kind = match i % 10 {
                        0 => ActivityKind::AddToCart,
                        1 => ActivityKind::Search,
                        _ => ActivityKind::ProductView,
                    };
                    let details = ActivityDetails {
                        product_id: Some(product),
                        shop_id: Some(shop),
                        query: (kind == ActivityKind::Search).then(|| "bench".to_string()),
                        recommendation: None,
                        client: ClientContext {
                            device: [Device::Mobile, Device::Desktop, Device::Tablet][i % 3],
                            country: Some(["DE", "FR", "US", "IT"][i % 4].into()),
                            city: None,
                        },
                    };
                    let visitor = Actor::Anonymous {
                        session: SessionId(uuid::Uuid::from_u128((i % 5000) as u128 + 1)),
                    };
                    if app
                        .execute(visitor, Command::RecordActivity { kind, details })
                        .await
                        .is_ok()
                    {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    i += SENDERS;
                    next += every;
                    tokio::time::sleep_until(next.into()).await;
                }
            })
        })
        .collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    // Runs before this point carried the catalog: only lags measured under load count.
    let runs_before: std::collections::BTreeMap<String, usize> = app
        .pipelines
        .status()
        .borrow()
        .iter()
        .map(|(name, s)| (name.clone(), s.recent_lags_ms.len()))
        .collect();
    let mut notified_ms = Vec::new();
    let mut stock = 1_000u32;
    while Instant::now() < deadline {
        let before = app
            .state()
            .notifications
            .get(&domain::Recipient::Shop(shop))
            .map_or(0, |n| n.len());
        stock = if stock > 3 { 3 } else { stock - 1 };
        let changes = ProductChanges {
            stock: Some(stock),
            ..Default::default()
        };
        app.execute(
            Actor::System,
            Command::UpdateProduct {
                id: watched,
                changes,
            },
        )
        .await?;
        let acknowledged = Instant::now();
        loop {
            let now = app
                .state()
                .notifications
                .get(&domain::Recipient::Shop(shop))
                .map_or(0, |n| n.len());
            if now > before {
                notified_ms.push(acknowledged.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if acknowledged.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("no low-stock notification within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if stock == 0 {
            stock = 1_000;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let statuses = app.pipelines.status().borrow().clone();
    app.shutdown().await;

    let mut figures = vec![figure(
        "activity events sent",
        sent.load(Ordering::Relaxed) as f64 / elapsed,
        "events/s",
        Some(rate as f64),
    )];
    notified_ms.sort_by(f64::total_cmp);
    figures.push(figure(
        "notification, event → delivered p50",
        percentile(&notified_ms, 0.5),
        "ms",
        None,
    ));
    figures.push(figure(
        "notification, event → delivered p95",
        percentile(&notified_ms, 0.95),
        "ms",
        None,
    ));
    for (name, status) in &statuses {
        let skip = runs_before.get(name).copied().unwrap_or(0);
        let mut lags: Vec<f64> = status
            .recent_lags_ms
            .iter()
            .skip(skip.min(status.recent_lags_ms.len().saturating_sub(1)))
            .map(|&l| l as f64)
            .collect();
        lags.sort_by(f64::total_cmp);
        if lags.is_empty() {
            continue;
        }
        figures.push(figure(
            format!("{name} lag p50"),
            percentile(&lags, 0.5),
            "ms",
            None,
        ));
        figures.push(figure(
            format!("{name} lag p95"),
            percentile(&lags, 0.95),
            "ms",
            None,
        ));
    }
    print(&figures, "freshness", json);
    Ok(())
}

/// Waits until every pipeline's last run read nothing new.
async fn wait_caught_up(app: &api::AppState, limit: Duration) -> anyhow::Result<()> {
    let mut status = app.pipelines.status();
    tokio::time::timeout(
        limit,
        status.wait_for(|all| {
            !all.is_empty()
                && all
                    .values()
                    .all(|s| s.runs > 0 && s.last.as_ref().is_some_and(|r| r.rows_in == 0))
        }),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the pipelines did not catch up within {limit:?}"))??;
    Ok(())
}
