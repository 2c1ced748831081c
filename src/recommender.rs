//! `marketplace models …`: snapshots, training, evaluation and the registry of the recommender.

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use lakehouse::Lake;
use models::registry::{self, Prepared, Run};
use models::{Architecture, InteractionWeights, Metrics, TrainParams};
use std::path::PathBuf;

#[derive(clap::Subcommand, Clone, Debug)]
pub enum ModelsCmd {
    /// Freeze `silver.interactions` at its current version (or `--version`) as a training
    /// snapshot; the version is the snapshot id.
    Snapshot {
        #[arg(long)]
        version: Option<u64>,
    },
    /// Train on a snapshot, evaluate beside popularity and the serving model on the same holdout,
    /// record the run, and promote it if it beats the serving model.
    Train {
        /// The snapshot id (the newest when left out; one is taken if there is none).
        #[arg(long)]
        snapshot: Option<u64>,
        #[command(flatten)]
        params: TrainArgs,
        /// Record the run without promoting it even if it is better.
        #[arg(long)]
        no_promote: bool,
        #[arg(long)]
        json: bool,
    },
    /// Train and evaluate under the NCF protocol on a dataset file (CSV or Parquet with user,
    /// item and timestamp columns, e.g. MovieLens) — or, with `--run`, evaluate a registered run
    /// on a snapshot's holdout. Nothing is recorded.
    Evaluate {
        #[arg(long, conflicts_with = "run")]
        dataset: Option<PathBuf>,
        #[arg(long)]
        run: Option<String>,
        /// With `--run`: the snapshot whose holdout to use (the newest when left out).
        #[arg(long)]
        snapshot: Option<u64>,
        #[command(flatten)]
        params: TrainArgs,
        #[arg(long)]
        json: bool,
    },
    /// Every run, newest first, with the serving one marked.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a run the serving model (a rollback is promoting an older run); a running `serve`
    /// picks it up within seconds.
    Promote {
        run_id: String,
        #[arg(long, default_value = "promoted by hand")]
        reason: String,
    },
    /// Top-N products for a user from the serving model, with serving's filters (purchased,
    /// deleted, out of stock, own shop) and its cold-start fallback.
    Recommend {
        #[arg(long)]
        user: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
}

/// Training parameters (defaults: NeuMF, 32 factors, layers 64,32,16, 8 epochs, batch 1024,
/// learning rate 0.002, 4 negatives).
#[derive(clap::Args, Clone, Debug)]
pub struct TrainArgs {
    /// `neumf` or `mf`.
    #[arg(long, default_value = "neumf")]
    model: Architecture,
    #[arg(long)]
    factors: Option<usize>,
    /// MLP widths, e.g. `64,32,16`.
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Sampled negatives per positive.
    #[arg(long)]
    negatives: Option<usize>,
    #[arg(long)]
    l2: Option<f32>,
    #[arg(long)]
    seed: Option<u64>,
    /// Action weights, e.g. `view=0.1,wishlist=0.5,cart=0.7,purchase=1.0`.
    #[arg(long)]
    weights: Option<String>,
}

impl TrainArgs {
    pub fn params(&self) -> anyhow::Result<TrainParams> {
        let d = TrainParams::default();
        let mut weights = InteractionWeights::default();
        if let Some(spec) = &self.weights {
            for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
                let (action, value) = pair
                    .split_once('=')
                    .with_context(|| format!("'{pair}': write action=weight"))?;
                let value: f32 = value.trim().parse().with_context(|| format!("'{pair}'"))?;
                match action.trim() {
                    "view" => weights.view = value,
                    "wishlist" => weights.wishlist = value,
                    "cart" => weights.cart = value,
                    "purchase" => weights.purchase = value,
                    other => {
                        anyhow::bail!("unknown action '{other}' (view, wishlist, cart, purchase)")
                    }
                }
            }
        }
        let params = TrainParams {
            architecture: self.model,
            factors: self.factors.unwrap_or(d.factors),
            mlp_layers: self.layers.clone().unwrap_or(d.mlp_layers),
            epochs: self.epochs.unwrap_or(d.epochs),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            learning_rate: self.learning_rate.unwrap_or(d.learning_rate),
            negatives: self.negatives.unwrap_or(d.negatives),
            l2: self.l2.unwrap_or(d.l2),
            seed: self.seed.unwrap_or(d.seed),
            weights,
        };
        params.validate().map_err(|e| anyhow::anyhow!(e))?;
        Ok(params)
    }
}

/// A progress bar over every batch of every epoch, with the loss and the time left.
pub fn training_bar(epochs: usize) -> (ProgressBar, impl FnMut(models::Progress) + Send) {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "epoch {msg} [{bar:40.cyan/blue}] {percent:>3}% ({elapsed} so far, {eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("0/{epochs}"));
    let handle = bar.clone();
    let report = move |p: models::Progress| {
        if handle.length() == Some(0) {
            handle.set_length((p.epochs * p.batches) as u64);
        }
        handle.set_position(((p.epoch - 1) * p.batches + p.batch) as u64);
        if p.batch == p.batches || p.batch % 50 == 0 {
            handle.set_message(format!("{}/{} loss {:.4}", p.epoch, p.epochs, p.loss));
        }
    };
    (bar, report)
}

pub async fn run(command: ModelsCmd, lake: &Lake) -> anyhow::Result<()> {
    match command {
        ModelsCmd::Snapshot { version } => {
            let snapshot = models::source::take_snapshot(lake, version).await?;
            println!(
                "snapshot {}: {} interactions{}",
                snapshot.id,
                snapshot.rows,
                if snapshot.created {
                    ""
                } else {
                    " (taken before)"
                }
            );
        }
        ModelsCmd::Train {
            snapshot,
            params,
            no_promote,
            json,
        } => {
            let params = params.params()?;
            let snapshot = match snapshot {
                Some(id) => Some(id),
                None if models::source::latest_snapshot(lake).await?.is_none() => {
                    Some(models::source::take_snapshot(lake, None).await?.id)
                }
                None => None,
            };
            let (bar, mut report) = training_bar(params.epochs);
            let trained =
                registry::train_run(lake, snapshot, &params, !no_promote, &mut report).await;
            bar.finish_and_clear();
            let trained = trained?;
            if json {
                println!("{}", serde_json::to_string_pretty(&trained)?);
                return Ok(());
            }
            let run = &trained.run;
            println!(
                "run {} on snapshot {} ({} users, {} items, {} interactions), trained in {:.1} s",
                run.run_id,
                run.snapshot_id,
                run.users,
                run.items,
                run.interactions,
                run.training_seconds
            );
            print_metrics_header();
            print_metrics(&run.architecture, &run.metrics);
            print_metrics("popularity", &run.popularity);
            if let Some((id, metrics)) = &trained.serving {
                print_metrics(&format!("serving {id}"), metrics);
            }
            match &trained.promoted {
                Some(reason) => println!("promoted: {reason}"),
                None if no_promote => println!("not promoted (--no-promote)"),
                None => println!("not promoted: it does not beat the serving model"),
            }
        }
        ModelsCmd::Evaluate {
            dataset,
            run,
            snapshot,
            params,
            json,
        } => {
            let params = params.params()?;
            let (label, metrics, popularity, seconds) = match (dataset, run) {
                (Some(path), _) => {
                    let data = models::source::read_file(&path).await?;
                    let prepared = Prepared::new(data, params.seed)?;
                    eprintln!(
                        "{}: {} users, {} items, {} interactions; {} held out",
                        path.display(),
                        prepared.data.user_count(),
                        prepared.data.item_count(),
                        prepared.data.rows.len(),
                        prepared.holdout.cases.len()
                    );
                    let (bar, mut report) = training_bar(params.epochs);
                    let started = std::time::Instant::now();
                    let model =
                        tokio::task::block_in_place(|| prepared.train(&params, &mut report));
                    let seconds = started.elapsed().as_secs_f64();
                    bar.finish_and_clear();
                    (
                        params.architecture.to_string(),
                        prepared.evaluate(&model),
                        prepared.popularity(),
                        Some(seconds),
                    )
                }
                (None, Some(run_id)) => {
                    let run = registry::run(lake, &run_id).await?;
                    let snapshot = match snapshot {
                        Some(id) => id,
                        None => models::source::latest_snapshot(lake).await?.context(
                            "no snapshot yet: take one with `marketplace models snapshot`",
                        )?,
                    };
                    let run_params = run.params()?;
                    let data =
                        models::source::read_snapshot(lake, snapshot, &run_params.weights).await?;
                    let prepared = Prepared::new(data, run_params.seed)?;
                    let model = registry::load_model(lake, &run).await?;
                    (
                        run.run_id.clone(),
                        prepared.evaluate(&model),
                        prepared.popularity(),
                        None,
                    )
                }
                (None, None) => anyhow::bail!("give --dataset FILE or --run RUN_ID"),
            };
            if json {
                let out = serde_json::json!({
                    "model": label, "params": params, "metrics": metrics,
                    "popularity": popularity, "training_seconds": seconds,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            print_metrics_header();
            print_metrics(&label, &metrics);
            print_metrics("popularity", &popularity);
            if let Some(s) = seconds {
                println!("trained in {s:.1} s");
            }
        }
        ModelsCmd::List { json } => {
            let runs = registry::runs(lake).await?;
            let serving = registry::serving(lake).await?.map(|(p, _)| p.run_id);
            if json {
                let rows: Vec<_> = runs
                    .iter()
                    .map(|r| serde_json::json!({"serving": Some(&r.run_id) == serving.as_ref(), "run": r}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if runs.is_empty() {
                println!("no runs yet: `marketplace models train`");
                return Ok(());
            }
            println!(
                "  {:<24} {:<6} {:>8} {:>7} {:>7} {:>9} {:>8} {:>8}  created",
                "run", "model", "snapshot", "HR@10", "NDCG@10", "recall@20", "pop HR", "seconds"
            );
            for run in &runs {
                print_run(run, Some(&run.run_id) == serving.as_ref());
            }
        }
        ModelsCmd::Promote { run_id, reason } => {
            let promotion = registry::promote(lake, &run_id, &reason).await?;
            println!(
                "{} serves from now ({})",
                promotion.run_id, promotion.reason
            );
        }
        ModelsCmd::Recommend { .. } => unreachable!("answered with the marketplace's state"),
    }
    Ok(())
}

fn print_metrics_header() {
    println!(
        "{:<28} {:>7} {:>8} {:>10}",
        "", "HR@10", "NDCG@10", "recall@20"
    );
}

fn print_metrics(label: &str, m: &Metrics) {
    println!(
        "{label:<28} {:>7.4} {:>8.4} {:>10.4}",
        m.hr_at_10, m.ndcg_at_10, m.recall_at_20
    );
}

fn print_run(run: &Run, serving: bool) {
    println!(
        "{} {:<24} {:<6} {:>8} {:>7.4} {:>7.4} {:>9.4} {:>8.4} {:>8.1}  {}",
        if serving { "*" } else { " " },
        run.run_id,
        run.architecture,
        run.snapshot_id,
        run.metrics.hr_at_10,
        run.metrics.ndcg_at_10,
        run.metrics.recall_at_20,
        run.popularity.hr_at_10,
        run.training_seconds,
        run.created_at.format("%Y-%m-%d %H:%M")
    );
}

/// `models recommend --user`: what `GET /api/recommendations` would answer that account (by id
/// or e-mail) right now.
pub async fn recommend(app: &api::AppState, user: &str, limit: usize) -> anyhow::Result<()> {
    app.recommender
        .refresh_model(&app.lake)
        .await
        .context("loading the serving model")?;
    app.recommender
        .refresh_trending(&app.lake)
        .await
        .context("reading trending products")?;
    let state = app.state();
    let account = match user.parse::<uuid::Uuid>() {
        Ok(id) => domain::AccountId(id),
        Err(_) => *state
            .account_emails
            .get(&user.trim().to_lowercase())
            .with_context(|| format!("no account '{user}' (give an account id or e-mail)"))?,
    };
    let ask = api::recommend::Ask {
        account: Some(account),
        limit,
        ..Default::default()
    };
    let recommended = app.recommender.recommend(&state, &ask);
    match &recommended.run_id {
        Some(run) => println!("ranked by model run {run}"),
        None => println!("the model does not know this account: trending products"),
    }
    for (rank, id) in recommended.products.iter().enumerate() {
        if let Some(p) = state.products.get(id) {
            let shop = state.shops.get(&p.shop_id).map_or("?", |s| s.name.as_str());
            println!("{:>3}. {} — {} ({})", rank + 1, p.title, shop, p.category);
        }
    }
    Ok(())
}
