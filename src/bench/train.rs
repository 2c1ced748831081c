//! `marketplace bench train`: the recommender's training throughput on data shaped like
//! MovieLens-100k and on 100k users × 100k products (the sparse embedding update is what keeps
//! that affordable), next to a PyTorch CPU implementation of the same NeuMF when one is
//! installed; and top-10 serving latency over 100,000 products.

use super::{Figure, figure, print};
use models::TrainParams;
use models::data::Interactions;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Synthetic implicit feedback with structure: users and items fall in 50 tastes, three picks in
/// four come from the user's taste, popularity is skewed.
fn synthetic(users: usize, items: usize, interactions: usize, seed: u64) -> Interactions {
    let mut rng = StdRng::seed_from_u64(seed);
    let tastes = 50;
    let actions = (0..interactions).map(|n| {
        let user = rng.random_range(0..users);
        let skewed = |rng: &mut StdRng, span: usize| {
            ((rng.random::<f64>().powi(3)) * span as f64) as usize % span.max(1)
        };
        let item = if rng.random::<f64>() < 0.75 {
            let per_taste = (items / tastes).max(1);
            (user % tastes) * per_taste + skewed(&mut rng, per_taste)
        } else {
            skewed(&mut rng, items)
        };
        (
            format!("u{user}"),
            format!("i{}", item.min(items - 1)),
            1.0,
            n as i64,
        )
    });
    Interactions::from_actions(actions.collect::<Vec<_>>())
}

/// Seconds of the fastest epoch after the first, and samples per second in it.
fn epoch_time(data: &Interactions, params: &TrainParams) -> (f64, f64, models::Model) {
    let prepared = models::registry::Prepared::new(data.clone(), params.seed).expect("held out");
    let mut epoch_started = Instant::now();
    let mut fastest = f64::INFINITY;
    let mut last_epoch = 0;
    let model = prepared.train(params, &mut |p| {
        if p.batch == p.batches && p.epoch != last_epoch {
            last_epoch = p.epoch;
            let seconds = epoch_started.elapsed().as_secs_f64();
            if p.epoch > 1 || p.epochs == 1 {
                fastest = fastest.min(seconds);
            }
            epoch_started = Instant::now();
        }
    });
    let samples = (prepared.split.train.len() * (1 + params.negatives)) as f64;
    (fastest, samples / fastest, model)
}

/// The same model in PyTorch on data of the same shape, in both of PyTorch's ways of training
/// embeddings (sparse like ours, and its dense default), the faster counting: samples per second,
/// or `None` when no interpreter with PyTorch is found (`MARKETPLACE_TORCH_PYTHON` names one;
/// otherwise `python3`, then the system's `/usr/bin/python3`, where Debian's `python3-torch` lives).
fn pytorch(users: usize, items: usize, interactions: usize, params: &TrainParams) -> Option<f64> {
    let script = std::env::temp_dir().join("marketplace-neumf-torch.py");
    std::fs::write(&script, include_str!("neumf_torch.py")).ok()?;
    let python = match std::env::var("MARKETPLACE_TORCH_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|python| {
                std::process::Command::new(python)
                    .args(["-c", "import torch"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })?
            .to_string(),
    };
    let layers: Vec<String> = params.mlp_layers.iter().map(|w| w.to_string()).collect();
    let mut best: Option<f64> = None;
    for mode in ["sparse", "dense"] {
        let output = std::process::Command::new(&python)
            .arg(&script)
            .args([users, items, interactions, params.factors].map(|n| n.to_string()))
            .arg(layers.join(","))
            .args([params.batch_size, params.negatives].map(|n| n.to_string()))
            .args([mode, TORCH_STEPS])
            .output()
            .ok()?;
        if !output.status.success() {
            let error = String::from_utf8_lossy(&output.stderr);
            eprintln!(
                "(PyTorch {mode} failed: {})",
                error.lines().last().unwrap_or("?")
            );
            continue;
        }
        let line: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        eprintln!("PyTorch {mode}: {line}");
        let rate = line["samples_per_s"].as_f64()?;
        best = Some(best.map_or(rate, |b: f64| b.max(rate)));
    }
    best
}

/// Batches PyTorch's rate is timed over (after a warm-up): enough for a steady rate, few enough
/// that the run stays short (a whole 100k × 100k epoch takes PyTorch 35 s sparse, 100 s dense).
const TORCH_STEPS: &str = "300";

pub async fn bench(
    json: bool,
    users: usize,
    items: usize,
    interactions: usize,
) -> anyhow::Result<()> {
    let params = TrainParams {
        epochs: 2,
        ..TrainParams::default()
    };
    let mut figures: Vec<Figure> = Vec::new();
    for (name, (u, i, n)) in [
        ("ml-100k shape (943 × 1,682, 100k)", (943, 1682, 100_000)),
        ("large", (users, items, interactions)),
    ] {
        eprintln!("generating {u} users × {i} items, {n} interactions…");
        let data = synthetic(u, i, n, 7);
        let label = if name == "large" {
            format!("{} × {} ({} interactions)", u, i, data.rows.len())
        } else {
            name.to_string()
        };
        eprintln!("training NeuMF in Burn…");
        let (seconds, rate, model) = tokio::task::block_in_place(|| epoch_time(&data, &params));
        let rows = data.rows.len();
        eprintln!("training the same NeuMF in PyTorch…");
        let reference = tokio::task::block_in_place(|| pytorch(u, i, rows, &params));
        figures.push(figure(format!("{label}: epoch"), seconds, "s", None));
        figures.push(figure(
            format!("{label}: training"),
            rate,
            "samples/s",
            reference,
        ));
        if name == "large" {
            serving(&model, &mut figures);
        }
    }
    print(&figures, "train", json);
    Ok(())
}

/// Top-10 for random users over every product of `model` (no filter), as serving asks it.
fn serving(model: &models::Model, figures: &mut Vec<Figure>) {
    let mut rng = StdRng::seed_from_u64(11);
    let mut latencies: Vec<f64> = (0..2_000)
        .map(|_| {
            let user = rng.random_range(0..model.user_count() as u32);
            let started = Instant::now();
            let top = model.top_n(user, 10, api::recommend::CANDIDATES, |_| true);
            let ms = started.elapsed().as_secs_f64() * 1e3;
            assert_eq!(top.len(), 10);
            ms
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let products = model.item_count();
    figures.push(figure(
        format!("top-10 over {products} products, p50"),
        at(0.50),
        "ms",
        None,
    ));
    figures.push(figure(
        format!("top-10 over {products} products, p99"),
        at(0.99),
        "ms",
        None,
    ));
}
