//! `marketplace`: the one binary. Parses arguments and wires the crates together; nothing else.

mod admin;
mod bench;
mod demo;
mod lake;
mod recommender;
mod sql;

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
    /// Redis for OTPs, sessions and rate limits (e.g. `redis://127.0.0.1:6379/0`); in-process
    /// (sessions end when the process stops) when not given.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    redis_url: Option<String>,
    /// Where uploaded images are stored: a directory or object-store URL (e.g. `s3://bucket/media`,
    /// credentials from the environment like the lake's). Defaults to `<data>/media`.
    #[arg(long, env = "MARKETPLACE_MEDIA", global = true)]
    media: Option<String>,
    /// An SMTP server for mail (e.g. `smtp://user:pass@mail.example.com:587?tls=required`);
    /// `.eml` files in `<data dir>/outbox` when not given.
    #[arg(long, env = "SMTP_URL", global = true, hide_env_values = true)]
    smtp_url: Option<String>,
    /// A Stripe secret key: payments go through Stripe with Connect (needs STRIPE_WEBHOOK_SECRET);
    /// the embedded sandbox provider when not given.
    #[arg(long, env = "STRIPE_SECRET_KEY", global = true, hide_env_values = true)]
    stripe_secret_key: Option<String>,
    /// The signing secret of the Stripe webhook endpoint (`whsec_…`).
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    stripe_webhook_secret: Option<String>,
    /// The publishable key (`pk_…`) Stripe's payment form needs in the browser.
    #[arg(long, env = "STRIPE_PUBLISHABLE_KEY", global = true)]
    stripe_publishable_key: Option<String>,
    /// The sender of the marketplace's mail.
    #[arg(long, env = "MARKETPLACE_MAIL_FROM", global = true)]
    mail_from: Option<String>,
    /// The key access tokens are signed with (at least 32 characters); a key file under the data
    /// dir, made on first start, when not given.
    #[arg(
        long,
        env = "MARKETPLACE_JWT_SECRET",
        global = true,
        hide_env_values = true
    )]
    jwt_secret: Option<String>,
    /// Mark cookies `Secure` (default: on unless listening on a loopback address).
    #[arg(long, env = "MARKETPLACE_SECURE_COOKIES", global = true)]
    secure_cookies: Option<bool>,
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
        /// Also serve Arrow Flight SQL for admins' and analysts' own tools on this address
        /// (e.g. `127.0.0.1:50051`): read-only, like the SQL explorer; off when not given.
        #[arg(long, env = "MARKETPLACE_FLIGHT_SQL")]
        flight_sql: Option<SocketAddr>,
    },
    /// Fill the marketplace with demo shops, products and visitors (idempotent), then bring the
    /// lakehouse up to date.
    Demo(demo::DemoOptions),
    /// Measure performance against the machine's own ceilings.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Read-only SQL over the lakehouse (safe while `serve` runs): one query, a script on
    /// standard input, or — with neither, at a terminal — an interactive session with history,
    /// multi-line statements ended by `;`, timings and `\` commands (`\help`).
    Sql {
        /// The query, e.g. "select count(*) from bronze.activity"; `-` reads statements from
        /// standard input.
        query: Option<String>,
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
    /// The recommender: snapshots, training, evaluation, the registry, recommendations.
    #[command(subcommand)]
    Models(recommender::ModelsCmd),
    /// Manage accounts from the command line (create the first admin).
    #[command(subcommand)]
    Admin(admin::AdminCmd),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

/// Delta's kernel logs every snapshot and scan at info, and logs as errors what it also returns as
/// errors (which we report); delta-rs logs every commit at info, and its merge warns on every run
/// about metrics it derives itself. None of it is news to an operator.
const QUIET_LIBRARIES: &str = "buoyant_kernel=off,deltalake_core=warn,deltalake_core::operations::merge=error,datafusion=warn";

fn init_tracing(default: &str) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let console = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let console = if std::env::var("MARKETPLACE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        console.json().with_filter(filter).boxed()
    } else {
        console.with_filter(filter).boxed()
    };
    // The console shows what `RUST_LOG` asks for; the `logs` topic (and the admins' live page)
    // gets what `MARKETPLACE_LOG_STREAM` asks for, our crates at info by default.
    tracing_subscriber::registry()
        .with(console)
        .with(api::logs::layer())
        .init();
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
    config.redis_url = cli.redis_url;
    config.media = cli.media;
    config.smtp_url = cli.smtp_url;
    config.jwt_secret = cli.jwt_secret;
    config.stripe = cli
        .stripe_secret_key
        .map(|secret_key| api::payments::StripeConfig {
            secret_key,
            webhook_secret: cli.stripe_webhook_secret.unwrap_or_default(),
            publishable_key: cli.stripe_publishable_key,
        });
    if let Some(from) = cli.mail_from {
        config.mail_from = from;
    }
    config.secure_cookies = cli.secure_cookies.unwrap_or(!cli.addr.ip().is_loopback());
    match cli.command {
        Cmd::Serve { demo, flight_sql } => {
            init_tracing(&format!("info,{QUIET_LIBRARIES}"));
            serve(config, demo, flight_sql).await
        }
        Cmd::Demo(options) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            config.background_workers = false;
            let app = api::App::start(config)
                .await
                .context("starting the marketplace")?;
            demo::seed(&app, &options).await?;
            let accounts = demo::seed_accounts(&app).await?;
            eprintln!(
                "Demo accounts: {} (password `{}`).",
                accounts.len(),
                demo::DEMO_PASSWORD
            );
            demo::bring_lake_up_to_date(&app).await?;
            app.shutdown().await;
            Ok(())
        }
        Cmd::Admin(command) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            config.background_workers = false;
            let app = api::App::start(config)
                .await
                .context("opening the marketplace")?;
            let result = admin::run(command, &app).await;
            app.shutdown().await;
            result
        }
        Cmd::Lake(command) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            let lake = lakehouse::Lake::open(&config.lake_location())?;
            lake::run(command, &lake).await
        }
        Cmd::Models(recommender::ModelsCmd::Recommend { user, limit }) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            config.background_workers = false;
            let app = api::App::start(config)
                .await
                .context("opening the marketplace")?;
            let result = recommender::recommend(&app, &user, limit).await;
            app.shutdown().await;
            result
        }
        Cmd::Models(command) => {
            init_tracing(&format!("warn,{QUIET_LIBRARIES}"));
            let lake = lakehouse::Lake::open(&config.lake_location())?;
            recommender::run(command, &lake).await
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
            if let Some(as_of) = as_of {
                let (_, tables) = lake.session_as_of(as_of).await?;
                let listed: Vec<String> = tables.iter().map(|(t, v)| format!("{t}@{v}")).collect();
                eprintln!("as of {as_of}: {}", listed.join(", "));
            }
            let format = match format {
                Format::Table => lakehouse::OutputFormat::Table,
                Format::Csv => lakehouse::OutputFormat::Csv,
                Format::Json => lakehouse::OutputFormat::Json,
            };
            let session = sql::Session {
                lake,
                format,
                as_of,
                timing: false,
            };
            session
                .run(query, cli.data_dir.join(".sql_history"))
                .await?;
            Ok(())
        }
    }
}

async fn serve(
    config: api::Config,
    demo: bool,
    flight_sql: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let addr = config.addr;
    let data_dir = config.data_dir.clone();
    let app = api::App::start(config)
        .await
        .context("starting the marketplace")?;
    if demo {
        demo::seed(&app, &demo::DemoOptions::default()).await?;
    }
    let demo_accounts = if demo {
        demo::seed_accounts(&app).await?
    } else {
        Vec::new()
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let router = portals::site(app.clone());
    println!(
        "Marketplace running at http://{addr}/  (seller: /seller, admin: /admin, API docs: /api/docs)"
    );
    if !demo_accounts.is_empty() {
        println!("Demo accounts (password `{}`):", demo::DEMO_PASSWORD);
        for (role, email) in &demo_accounts {
            println!("  {role:<8} {email}");
        }
    }
    if app.outbox.is_some() {
        println!(
            "Mail goes to {} (listed at /admin/outbox); set SMTP_URL to send it.",
            app.config.outbox_dir().display()
        );
    }
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let flight = match flight_sql {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening for Flight SQL on {addr}"))?;
            println!(
                "Arrow Flight SQL at grpc://{addr} (admins and analysts; sign in with e-mail and password)"
            );
            let mut stop = stop;
            let app = app.clone();
            Some(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                };
                api::flight_sql::serve(app, listener, stopped).await
            }))
        }
        None => None,
    };
    println!("Data in {}; press Ctrl-C to stop.", data_dir.display());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stopping.send(true);
    })
    .await?;
    if let Some(flight) = flight {
        flight.await?.context("serving Flight SQL")?;
    }
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
