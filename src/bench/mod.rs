//! `marketplace bench …`: performance figures, measured against the machine's own ceilings in the
//! same run. Performance claims live here, never in timed unit tests.

mod api;
mod checkout;
mod compaction;
mod freshness;
mod http;
mod log;
mod query;
mod sink;
mod train;
mod ws;

use serde_json::json;
use std::path::Path;

#[derive(clap::Subcommand, Clone, Debug)]
pub enum Bench {
    /// Durable appends to the embedded log with 1, 16 and 256 writers and batches of 1, 100 and
    /// 1000 ~300-byte events, beside the disk's raw durable write bandwidth and fsync latency.
    Log {
        /// Print one JSON object (DESIGN.md §10) instead of a table.
        #[arg(long)]
        json: bool,
        /// Seconds to spend on each combination.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// Writes `--events` ~300-byte events, then reads them all back the way the lake sink tails a
    /// topic, watching the process's resident memory.
    LogTail {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
    /// Puts `--events` activity events in the log, then times the lake sink copying them to
    /// bronze, beside writing the same rows as ready-made Arrow batches straight to a Delta table.
    Sink {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Partitions of the activity topic (the sink copies partitions in parallel).
        #[arg(long, default_value_t = 1)]
        partitions: u32,
    },
    /// Serves `--products` demo products and loads search, the product JSON and the shop home page
    /// from a second process with `--connections` keep-alive connections, beside a trivial axum
    /// handler (the ceiling).
    Api {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 100_000)]
        products: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds of load per target (after a one-second warm-up).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// `--shoppers` concurrent shoppers each fill a cart from two shops, check out and have the
    /// payment confirmed by a signed webhook (the sandbox provider's), over and over: paid
    /// orders per second through the whole path, and each step's latency.
    Checkout {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 64)]
        shoppers: usize,
        /// Seconds of load (after a one-second warm-up).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// The whole dataflow in process under `--rate` activity events a second: each pipeline's lag
    /// (event → committed in its target) p50/p95, and a low-stock notification's time from the
    /// stock change to delivery.
    Freshness {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 5_000)]
        rate: u64,
        /// Seconds of load.
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
    },
    /// `--sockets` WebSockets on loopback (shoppers and shops in pairs) chatting at `--rate`
    /// messages a second in all: delivery latency from send to the other side's receipt p50/p99,
    /// and messages delivered per second.
    Ws {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 2_000)]
        sockets: usize,
        #[arg(long, default_value_t = 2_000.0)]
        rate: f64,
        /// Seconds of load.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// The load generator `bench api` runs in a second process.
    #[command(hide = true)]
    ApiLoad {
        /// The server's `host:port`.
        #[arg(long)]
        target: String,
        /// A file with one request path per line, sent in turn.
        #[arg(long)]
        paths: std::path::PathBuf,
        #[arg(long)]
        connections: usize,
        #[arg(long)]
        seconds: f64,
    },
    /// The dashboards' questions over `--orders` synthetic orders: DataFusion over our Delta
    /// table beside DuckDB (python3's `duckdb`) over the same Parquet files, median of `--runs`
    /// warm runs each, with the ratio.
    Query {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 10_000_000)]
        orders: u64,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Makes a table of `--commits` one-row commits, times a query over it, compacts it, and
    /// times the query again.
    Compaction {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 10_000)]
        commits: u64,
    },
    /// Recommender training: epoch time and samples/s on MovieLens-100k-shaped data and on
    /// `--users` × `--items` (beside PyTorch's CPU implementation of the same NeuMF when
    /// `python3 -c "import torch"` works, or `MARKETPLACE_TORCH_PYTHON` names an interpreter
    /// that has it), and top-10 serving latency p50/p99 over `--items` products.
    Train {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        #[arg(long, default_value_t = 1_000_000)]
        interactions: usize,
    },
}

struct Figure {
    name: String,
    value: f64,
    unit: &'static str,
    /// The reference measured in the same run, when the figure is judged against one.
    ceiling: Option<f64>,
}

fn figure(name: impl Into<String>, value: f64, unit: &'static str, ceiling: Option<f64>) -> Figure {
    Figure {
        name: name.into(),
        value,
        unit,
        ceiling,
    }
}

pub async fn run(bench: Bench, data_dir: &Path) -> anyhow::Result<()> {
    match bench {
        Bench::Log { json, seconds } => log::appends_bench(data_dir, json, seconds).await,
        Bench::LogTail { json, events } => log::tail_bench(data_dir, json, events).await,
        Bench::Sink {
            json,
            events,
            partitions,
        } => sink::bench(data_dir, json, events, partitions).await,
        Bench::Query { json, orders, runs } => query::bench(data_dir, json, orders, runs).await,
        Bench::Compaction { json, commits } => compaction::bench(data_dir, json, commits).await,
        Bench::Train {
            json,
            users,
            items,
            interactions,
        } => train::bench(json, users, items, interactions).await,
        Bench::Api {
            json,
            products,
            connections,
            seconds,
        } => api::bench(data_dir, json, products, connections, seconds).await,
        Bench::Checkout {
            json,
            shoppers,
            seconds,
        } => checkout::bench(data_dir, json, shoppers, seconds).await,
        Bench::Freshness {
            json,
            rate,
            seconds,
        } => freshness::bench(data_dir, json, rate, seconds).await,
        Bench::Ws {
            json,
            sockets,
            rate,
            seconds,
        } => ws::bench(data_dir, json, sockets, rate, seconds).await,
        Bench::ApiLoad {
            target,
            paths,
            connections,
            seconds,
        } => api::load(&target, &paths, connections, seconds).await,
    }
}

fn print(figures: &[Figure], bench: &str, json: bool) {
    if json {
        let results: Vec<_> = figures
            .iter()
            .map(|f| {
                let mut r = json!({"name": f.name, "value": round(f.value), "unit": f.unit});
                if let Some(ceiling) = f.ceiling {
                    r["ceiling"] = json!(round(ceiling));
                    r["ratio"] = json!(round(f.value / ceiling));
                }
                r
            })
            .collect();
        let machine = json!({
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        });
        println!(
            "{}",
            json!({"bench": bench, "machine": machine, "results": results})
        );
    } else {
        println!(
            "{:<44} {:>14} {:<9} {:>12} {:>7}",
            "figure", "value", "unit", "ceiling", "ratio"
        );
        for f in figures {
            let (ceiling, ratio) = match f.ceiling {
                Some(c) => (format!("{c:.1}"), format!("{:.2}", f.value / c)),
                None => (String::new(), String::new()),
            };
            println!(
                "{:<44} {:>14.1} {:<9} {:>12} {:>7}",
                f.name, f.value, f.unit, ceiling, ratio
            );
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
