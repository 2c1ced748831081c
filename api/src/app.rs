use crate::command::{self, CommandPath, SharedState};
use crate::config::Config;
use crate::error::ApiError;
use crate::health::{Health, WorkerState};
use chrono::{DateTime, Utc};
use domain::{Actor, Command, Context, Event, State};
use ingest::{EmbeddedLog, EventLog, LakeSink};
use lakehouse::Lake;
use pipelines::Runner;
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the log could not be opened")]
    Log(#[from] ingest::Error),
    #[error("the lakehouse could not be opened")]
    Lake(#[from] lakehouse::Error),
    #[error("the log holds an event this build cannot read at {at} offset {offset}: {reason}")]
    Replay {
        at: String,
        offset: u64,
        reason: String,
    },
    #[error("the key-value store could not be reached")]
    KeyValue(#[from] crate::kv::KvError),
    #[error("mail is misconfigured")]
    Mail(#[from] crate::mail::MailError),
    #[error("the product search index could not be built")]
    Search(#[from] crate::search::SearchError),
    #[error("the media store could not be opened")]
    Media(#[from] crate::media::MediaStoreError),
    #[error("payments are misconfigured: {0}")]
    Payments(String),
    #[error("the token signing key could not be loaded or made")]
    SigningKey(#[source] std::io::Error),
    #[error(
        "the commerce topic has {0} partitions: one command writer needs exactly one (scaling the command path out by partition is not built yet)"
    )]
    CommercePartitions(u32),
}

/// Everything the service holds: configuration, the state, the command path, the log, the lake and
/// the background workers.
pub struct App {
    pub config: Config,
    state: SharedState,
    commands: CommandPath,
    pub log: Arc<dyn EventLog>,
    pub lake: Lake,
    pub sink: Arc<LakeSink>,
    pub pipelines: Arc<Runner>,
    pub upkeep: tokio::sync::watch::Sender<crate::upkeep::UpkeepStatus>,
    pub health: Health,
    /// OTPs, refresh tokens, rate limits: in process or Redis.
    pub kv: Arc<dyn crate::kv::KeyValue>,
    pub mailer: crate::mail::Mailer,
    /// The outbox, when mail goes to files rather than SMTP.
    pub outbox: Option<crate::mail::Outbox>,
    pub tokens: crate::auth::TokenKeys,
    /// Full-text product search, kept in step by the command path.
    pub search: Arc<crate::search::Search>,
    /// Uploaded images and their variants.
    pub media: crate::media::MediaStore,
    /// The payment provider: the sandbox, or Stripe.
    pub payments: Arc<dyn crate::payments::PaymentProvider>,
    /// The catalog summary of the last state it was asked for (see [`AppState::catalog`]).
    catalog: Mutex<Option<(Arc<State>, Arc<crate::views::CatalogSummary>)>>,
    /// Product listings answered for the current state (see [`AppState::listing_json`]).
    listings: Mutex<ListingCache>,
    /// The serving recommender model and trending products.
    pub recommender: crate::recommend::Recommender,
    /// Dashboard answers by the versions of the lake tables they read.
    pub(crate) gold_cache: crate::analytics::GoldCache,
    /// What sockets are told as it happens.
    pub live: Arc<crate::live::Live>,
    /// This service's log lines on their way to the `logs` topic.
    pub logs: crate::logs::LogStream,
    pub(crate) cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Listings kept per state: enough for the popular searches and every category page.
const LISTINGS_KEPT: usize = 1024;

#[derive(Default)]
struct ListingCache {
    /// The state the entries were answered from.
    state: Option<Arc<State>>,
    entries: std::collections::HashMap<crate::views::ProductFilter, bytes::Bytes>,
}

/// The cheap, cloneable handle handlers receive.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl App {
    /// Opens the log and the lake, replays the log into the state and starts the workers.
    pub async fn start(config: Config) -> Result<AppState, StartError> {
        let log = open_log(&config).await?;
        let kv: Arc<dyn crate::kv::KeyValue> = match &config.redis_url {
            Some(url) => Arc::new(crate::kv::RedisKv::connect(url, "marketplace:").await?),
            None => Arc::new(crate::kv::MemoryKv::new()),
        };
        let (transport, outbox): (Arc<dyn crate::mail::MailTransport>, _) = match &config.smtp_url {
            Some(url) => (Arc::new(crate::mail::Smtp::from_url(url)?), None),
            None => {
                let outbox = crate::mail::Outbox::new(config.outbox_dir());
                (Arc::new(outbox.clone()), Some(outbox))
            }
        };
        let tokens = crate::auth::TokenKeys::new(
            &crate::auth::signing_key(config.jwt_secret.as_deref(), &config.data_dir)
                .map_err(StartError::SigningKey)?,
        );
        let lake = Lake::open(&config.lake_location())?;
        let media = crate::media::MediaStore::open(&config.media_location())?;
        let payments = crate::payments::provider(&config).map_err(StartError::Payments)?;
        let started = std::time::Instant::now();
        let (state, replayed) = command::replay(log.as_ref()).await?;
        tracing::info!(
            events = replayed,
            shops = state.shops.len(),
            products = state.products.len(),
            duration_ms = started.elapsed().as_millis() as u64,
            "state rebuilt from the log"
        );
        let search = Arc::new(crate::search::Search::build(&state)?);
        let state: SharedState = Arc::new(RwLock::new(Arc::new(state)));
        let cancel = CancellationToken::new();
        let live = Arc::new(crate::live::Live::default());
        let (commands, writer) = CommandPath::spawn(
            state.clone(),
            log.clone(),
            search.clone(),
            live.clone(),
            cancel.clone(),
        );
        let sink = Arc::new(LakeSink::new(log.clone(), lake.clone()));
        let mailer = crate::mail::Mailer::new(
            transport,
            &config.mail_from,
            &state.read().expect("state lock").site.name,
        )?;
        let pipelines = Arc::new(
            Runner::new(lake.clone(), pipelines::builtin()).with_publisher(Arc::new(
                crate::notifications::Deliverer {
                    commands: commands.clone(),
                },
            )),
        );
        let app = AppState(Arc::new(App {
            config,
            state,
            commands,
            log,
            lake,
            sink,
            pipelines,
            upkeep: tokio::sync::watch::Sender::new(Default::default()),
            health: Health::default(),
            kv,
            mailer,
            outbox,
            tokens,
            search,
            media,
            payments,
            catalog: Mutex::new(None),
            listings: Mutex::new(ListingCache::default()),
            gold_cache: Default::default(),
            recommender: Default::default(),
            live,
            logs: Default::default(),
            cancel,
            tasks: Mutex::new(Vec::new()),
        }));
        app.health.set("command_path", WorkerState::Running);
        app.track(writer);
        if app.config.background_workers {
            app.start_workers();
        }
        Ok(app)
    }
}

/// The log the configuration names: the embedded log (default) or a Fluvio cluster.
async fn open_log(config: &Config) -> Result<Arc<dyn EventLog>, StartError> {
    match config.log.as_deref() {
        None => Ok(Arc::new(EmbeddedLog::open_with(
            config.log_dir(),
            &config.log_partitions,
        )?)),
        Some(url) if url.starts_with("fluvio://") => {
            #[cfg(feature = "fluvio")]
            {
                let endpoint = url.trim_start_matches("fluvio://").trim_end_matches('/');
                Ok(Arc::new(
                    ingest::FluvioLog::connect(endpoint, "marketplace-", &config.log_partitions)
                        .await?,
                ))
            }
            #[cfg(not(feature = "fluvio"))]
            Err(ingest::Error::UnsupportedLog(url.to_string()).into())
        }
        Some(url) if url.contains("://") => {
            Err(ingest::Error::UnsupportedLog(url.to_string()).into())
        }
        Some(dir) => Ok(Arc::new(EmbeddedLog::open_with(
            dir,
            &config.log_partitions,
        )?)),
    }
}

impl AppState {
    fn track(&self, task: JoinHandle<()>) {
        self.tasks.lock().expect("tasks lock").push(task);
    }

    fn start_workers(&self) {
        if let Some(lines) = self.logs.take_lines() {
            let app = self.clone();
            self.health.set("log_shipper", WorkerState::Running);
            self.track(tokio::spawn(async move {
                let feed = app.logs.feed.clone();
                crate::logs::shipper::run(app.clone(), feed, lines, app.cancel.clone()).await;
                app.health.set("log_shipper", WorkerState::Stopped);
            }));
        }
        let app = self.clone();
        self.health.set("lake_sink", WorkerState::Running);
        self.track(tokio::spawn(async move {
            let result = app.sink.clone().run(app.cancel.clone()).await;
            app.health.set(
                "lake_sink",
                match result {
                    Ok(()) => WorkerState::Stopped,
                    Err(e) => WorkerState::Failed {
                        error: e.to_string(),
                    },
                },
            );
        }));
        let app = self.clone();
        self.health.set("pipelines", WorkerState::Running);
        self.track(tokio::spawn(async move {
            app.pipelines.clone().run(app.cancel.clone()).await;
            app.health.set("pipelines", WorkerState::Stopped);
        }));
        let app = self.clone();
        self.health.set("catalog_purge", WorkerState::Running);
        self.track(tokio::spawn(async move {
            let cancel = app.cancel.clone();
            crate::purge::run(app.clone(), std::time::Duration::from_secs(60), cancel).await;
            app.health.set("catalog_purge", WorkerState::Stopped);
        }));
        let app = self.clone();
        self.health.set("recommender", WorkerState::Running);
        self.track(tokio::spawn(async move {
            crate::recommend::run(app.clone(), app.cancel.clone()).await;
            app.health.set("recommender", WorkerState::Stopped);
        }));
        let app = self.clone();
        self.health.set("lake_upkeep", WorkerState::Running);
        self.track(tokio::spawn(async move {
            crate::upkeep::run(
                app.lake.clone(),
                app.config.upkeep_every,
                app.upkeep.clone(),
                app.cancel.clone(),
            )
            .await;
            app.health.set("lake_upkeep", WorkerState::Stopped);
        }));
    }

    /// The current state, as of the last durable batch.
    pub fn state(&self) -> Arc<State> {
        self.state.read().expect("state lock").clone()
    }

    /// Counts and "newest" lists over the whole catalog, as of the current state: built on the
    /// first request after the state changes, then shared.
    pub fn catalog(&self) -> Arc<crate::views::CatalogSummary> {
        let state = self.state();
        if let Some((built_from, summary)) = self.catalog.lock().expect("catalog lock").as_ref()
            && Arc::ptr_eq(built_from, &state)
        {
            return summary.clone();
        }
        // Built outside the lock: requests for the cached summary never wait behind a build.
        let summary = Arc::new(crate::views::CatalogSummary::build(&state));
        *self.catalog.lock().expect("catalog lock") = Some((state, summary.clone()));
        summary
    }

    /// `GET /api/products` for `filter` as JSON. A listing depends only on the state and the
    /// filter, so answers are kept until the state changes (a catalog write; activity does not
    /// count): repeated searches and category pages cost a hash lookup. At most
    /// [`LISTINGS_KEPT`] filters are kept per state.
    pub fn listing_json(&self, filter: &crate::views::ProductFilter) -> bytes::Bytes {
        let state = self.state();
        {
            let mut cache = self.listings.lock().expect("listings lock");
            if !cache.state.as_ref().is_some_and(|s| Arc::ptr_eq(s, &state)) {
                cache.state = Some(state.clone());
                cache.entries.clear();
            }
            if let Some(json) = cache.entries.get(filter) {
                return json.clone();
            }
        }
        let listing = filter.listing(&state, &self.search);
        let json =
            bytes::Bytes::from(serde_json::to_vec(&listing).expect("a listing always serializes"));
        let mut cache = self.listings.lock().expect("listings lock");
        if cache.state.as_ref().is_some_and(|s| Arc::ptr_eq(s, &state)) {
            if cache.entries.len() >= LISTINGS_KEPT {
                cache.entries.clear();
            }
            cache.entries.insert(filter.clone(), json.clone());
        }
        json
    }

    /// Runs a command through the single writer; answers once its events are durable.
    pub async fn execute(&self, actor: Actor, command: Command) -> Result<Vec<Event>, ApiError> {
        self.execute_at(actor, command, Utc::now()).await
    }

    /// Like [`execute`](Self::execute) with an explicit time, for imports and demo history. Handlers
    /// serving live requests use `execute`.
    pub async fn execute_at(
        &self,
        actor: Actor,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<Event>, ApiError> {
        self.commands.execute(command, Context { actor, at }).await
    }

    /// Stops the workers and waits for them: the command path finishes its batch in hand, the sink
    /// its commit in flight.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let tasks: Vec<_> = self.tasks.lock().expect("tasks lock").drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
        self.health.set("command_path", WorkerState::Stopped);
    }
}
