//! `marketplace`: the one binary. Parses arguments and wires the crates together; nothing else.

mod bench;
mod demo;
mod lake;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "marketplace",
    version,
    about = "A multi-vendor marketplace that runs as a dataflow"
)]
struct Cli {
    /// Where `serve` listens.
    #[arg(
        long,
        env = "MARKETPLACE_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    addr: SocketAddr,
    /// Where the log and the lakehouse live.
    #[arg(
        long,
        env = "MARKETPLACE_DATA_DIR",
        default_value = "data",
        global = true
    )]
    data_dir: PathBuf,
    /// The log: `fluvio://host:port` for a Fluvio cluster; the embedded log under the data dir
    /// when not given.
    #[arg(long, env = "MARKETPLACE_LOG", global = true)]
    log: Option<String>,
    /// The lakehouse: a directory, or `s3://bucket/path` (credentials and endpoint from the usual
    /// `AWS_*` variables); `lake/` under the data dir by default.
    #[arg(long, env = "MARKETPLACE_LAKE", global = true)]
    lake: Option<String>,
    /// Partitions of topics the log creates, e.g. `activity=4,logs=2` (default one each; a topic
    /// keeps the count it was created with, and `commerce` must have one).
    #[arg(
        long,
        env = "MARKETPLACE_LOG_PARTITIONS",
        global = true,
        default_value = ""
    )]
    log_partitions: ingest::Partitions,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run everything in one process: API, portals, lake sink and pipelines.
    Serve {
        /// Fill an empty marketplace with demo shops, products and visitors first.
        #[arg(long)]
        demo: bool,
    },
    /// Fill the marketplace with demo shops, products and visitors (idempotent), then bring the
    /// lakehouse up to date.
    Demo(demo::DemoOptions),
    /// Measure performance against the machine's own ceilings.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Run one read-only SQL query over the lakehouse (safe while `serve` runs).
    Sql {
        /// The query, e.g. "select count(*) from bronze.activity".
        query: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Read every table as it was at a version number or an RFC 3339 time
        /// (e.g. `2026-11-27T09:00:00Z`). Tables that did not exist then are left out.
        #[arg(long)]
        as_of: Option<lakehouse::AsOf>,
    },
    /// Look after the lakehouse's tables: history, optimize, vacuum, checkpoint, restore.
    #[command(subcommand)]
    Lake(lake::LakeCmd),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

/// Delta's kernel logs every snapshot and scan at info, and logs as errors what it also returns as
/// errors (which we report); its merge warns on every run about metrics it derives itself. None of
/// it is news to an operator.
const QUIET_LIBRARIES: &str =
    "buoyant_kernel=off,deltalake_core::operations::merge=error,datafusion=warn";

fn init_tracing(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("MARKETPLACE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of causes on one line, without a backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = api::Config::new(&cli.data_dir);
    config.addr = cli.addr;
    config.log = cli.log;
    config.lake = cli.lake;
    config.log_partitions = cli.log_partitions;
    match cli.command {
        Cmd::Serve { demo } => {
            init_tracing(&format!("info,{QUIET_LIBRARIES}"));
            serve(config, demo).await
        }
        Cmd::Demo(options) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            config.background_workers = false;
            let app = api::App::start(config)
                .await
                .context("starting the marketplace")?;
            demo::seed(&app, &options).await?;
            demo::bring_lake_up_to_date(&app).await?;
            app.shutdown().await;
            Ok(())
        }
        Cmd::Lake(command) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            let lake = lakehouse::Lake::open(&config.lake_location())?;
            lake::run(command, &lake).await
        }
        Cmd::Bench(bench) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            bench::run(bench, &cli.data_dir).await
        }
        Cmd::Sql {
            query,
            format,
            as_of,
        } => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            let lake = lakehouse::Lake::open(&config.lake_location())?;
            let ctx = match as_of {
                None => lake.session().await?,
                Some(as_of) => {
                    let (ctx, tables) = lake.session_as_of(as_of).await?;
                    let listed: Vec<String> =
                        tables.iter().map(|(t, v)| format!("{t}@{v}")).collect();
                    eprintln!("as of {as_of}: {}", listed.join(", "));
                    ctx
                }
            };
            let batches = lakehouse::query(&ctx, &query).await?;
            let format = match format {
                Format::Table => lakehouse::OutputFormat::Table,
                Format::Csv => lakehouse::OutputFormat::Csv,
                Format::Json => lakehouse::OutputFormat::Json,
            };
            println!(
                "{}",
                lakehouse::format_batches(&batches, format)?.trim_end()
            );
            Ok(())
        }
    }
}

async fn serve(config: api::Config, demo: bool) -> anyhow::Result<()> {
    let addr = config.addr;
    let data_dir = config.data_dir.clone();
    let app = api::App::start(config)
        .await
        .context("starting the marketplace")?;
    if demo {
        demo::seed(&app, &demo::DemoOptions::default()).await?;
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let router = portals::site(app.clone());
    println!(
        "Marketplace running at http://{addr}/  (seller: /seller, admin: /admin, API docs: /api/docs)"
    );
    println!("Data in {}; press Ctrl-C to stop.", data_dir.display());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shutting down: finishing the batch in hand and the lake commit in flight");
    app.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
