//! `marketplace bench api`: requests per second and latency of the busiest reads — search, the
//! product JSON and the shop's home page — over a catalog of `--products` demo products, with load
//! from a second process on loopback (wrk-like: keep-alive connections, each sending its next
//! request when the last answer arrives). A trivial axum handler served by the same process in
//! the same run is the ceiling: what this machine, runtime and load generator can do at all.

use super::{Figure, figure, percentile, print};
use crate::demo::{DemoOptions, seed};
use anyhow::Context as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seeds the catalog, serves it, and measures each target with a load-generating child process.
pub async fn bench(
    data_dir: &Path,
    json: bool,
    products: usize,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let dir = data_dir.join("bench-api");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context("clearing the previous bench's data")?;
    }
    let mut config = api::Config::new(&dir);
    config.background_workers = false;
    let app = api::App::start(config).await?;
    let per_shop = 500.min(products.max(1));
    let shops = products.div_ceil(per_shop);
    eprintln!("seeding {} products in {shops} shops…", shops * per_shop);
    seed(
        &app,
        &DemoOptions {
            shops,
            products_per_shop: per_shop,
            activity: 0,
            seed: 7,
            pictures: false,
            orders: 0,
        },
    )
    .await?;

    let site = serve(portals::site(app.clone())).await?;
    let trivial =
        serve(axum::Router::new().route("/", axum::routing::get(|| async { "ok" }))).await?;

    let state = app.state();
    let slugs: Vec<String> = state
        .products
        .values()
        .step_by((state.products.len() / 1000).max(1))
        .map(|p| format!("/api/products/{}", p.slug))
        .collect();
    // Real words of the demo catalog, some misspelt (the search tolerates typos), some two words.
    let searches: Vec<String> = [
        "mug",
        "vase",
        "linen",
        "ceramik",
        "blanket",
        "sage%20mug",
        "lamp",
        "ocean%20blue",
        "handmade",
        "candel",
        "nordic%20chair",
        "plum",
        "terracotta%20pot",
        "towel",
        "throw",
    ]
    .iter()
    .map(|q| format!("/api/products?q={q}"))
    .collect();
    let targets: [(&str, std::net::SocketAddr, Vec<String>); 4] = [
        ("trivial axum handler", trivial, vec!["/".to_string()]),
        ("GET /api/products?q=…", site, searches),
        ("GET /api/products/{slug}", site, slugs),
        ("shop home page /", site, vec!["/".to_string()]),
    ];
    let mut figures: Vec<Figure> = Vec::new();
    let mut ceiling = None;
    for (name, addr, paths) in targets {
        eprintln!("loading {name} with {connections} connections for {seconds} s…");
        let result = load_from_child(addr, &paths, connections, seconds).await?;
        if result.errors > 0 {
            anyhow::bail!(
                "{name}: {} of {} requests failed",
                result.errors,
                result.requests
            );
        }
        let rps = result.requests as f64 / result.seconds;
        let ceiling_rps = *ceiling.get_or_insert(rps);
        let judged = (name != "trivial axum handler").then_some(ceiling_rps);
        figures.push(figure(format!("{name} requests/s"), rps, "req/s", judged));
        figures.push(figure(format!("{name} p50"), result.p50_ms, "ms", None));
        figures.push(figure(format!("{name} p99"), result.p99_ms, "ms", None));
    }
    app.shutdown().await;
    print(&figures, "api", json);
    Ok(())
}

pub(super) async fn serve(router: axum::Router) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("the bench server stopped: {e}");
        }
    });
    Ok(addr)
}

/// What one load run measured.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LoadResult {
    requests: u64,
    errors: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `marketplace bench api-load` as a child process and reads its JSON answer.
async fn load_from_child(
    addr: std::net::SocketAddr,
    paths: &[String],
    connections: usize,
    seconds: f64,
) -> anyhow::Result<LoadResult> {
    let paths_file = tempfile::NamedTempFile::new()?;
    std::fs::write(paths_file.path(), paths.join("\n"))?;
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .args(["bench", "api-load", "--target", &addr.to_string()])
        .args(["--connections", &connections.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .arg("--paths")
        .arg(paths_file.path())
        .output()
        .await
        .context("starting the load generator")?;
    if !output.status.success() {
        anyhow::bail!(
            "the load generator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("reading the load generator's answer")
}

/// The load generator (the child process): `connections` keep-alive HTTP/1.1 connections, each
/// sending the next path as soon as the last answer is read, for `seconds` after a one-second
/// warm-up. Prints one [`LoadResult`] as JSON.
pub async fn load(
    addr: &str,
    paths: &Path,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let paths: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(paths)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    );
    let addr: std::net::SocketAddr = addr.parse()?;
    let warm_until = Instant::now() + Duration::from_secs(1);
    let deadline = warm_until + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|n| {
            let paths = paths.clone();
            tokio::spawn(async move { connection(addr, &paths, n, warm_until, deadline).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut measured, failed) = task.await??;
        latencies.append(&mut measured);
        errors += failed;
    }
    latencies.sort_by(f64::total_cmp);
    let result = LoadResult {
        requests: latencies.len() as u64,
        errors,
        seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    };
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

/// One keep-alive connection: latencies (ms) of the requests answered after the warm-up, and how
/// many of them were not 200.
async fn connection(
    addr: std::net::SocketAddr,
    paths: &[String],
    first: usize,
    warm_until: Instant,
    deadline: Instant,
) -> anyhow::Result<(Vec<f64>, u64)> {
    let mut connection = super::http::Connection::open(addr).await?;
    let mut latencies = Vec::new();
    let mut errors = 0;
    for n in first.. {
        let started = Instant::now();
        if started >= deadline {
            break;
        }
        let answer = connection
            .send("GET", &paths[n % paths.len()], &[], None)
            .await?;
        if started >= warm_until {
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            if answer.status != 200 {
                errors += 1;
            }
        }
    }
    Ok((latencies, errors))
}
