use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything the service needs to know to start. Built once in `main` from flags and
/// `MARKETPLACE_*` variables, then passed down.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where `serve` listens.
    pub addr: SocketAddr,
    /// The root of everything kept on disk: `log/`, `lake/`.
    pub data_dir: PathBuf,
    /// Where the lakehouse lives: a directory or URL. Defaults to `<data_dir>/lake`.
    pub lake: Option<String>,
    /// The log: `fluvio://host:port` for a Fluvio cluster, or a directory for the embedded log.
    /// Defaults to the embedded log in `<data_dir>/log`.
    pub log: Option<String>,
    /// Partitions of the topics the log creates (e.g. `activity=4`); `commerce` must keep one.
    pub log_partitions: ingest::Partitions,
    /// Start the lake sink and the pipeline runner (off in tools that only write to the log).
    pub background_workers: bool,
    /// How often `serve` compacts and vacuums the lake's tables.
    pub upkeep_every: std::time::Duration,
    /// Mark cookies `Secure`: on unless serving plain localhost.
    pub secure_cookies: bool,
    /// Redis for the key-value store (`REDIS_URL`); in-process when not given.
    pub redis_url: Option<String>,
    /// An SMTP server for mail (`SMTP_URL`, e.g. `smtp://127.0.0.1:2525`); `.eml` files in
    /// `<data_dir>/outbox` when not given.
    pub smtp_url: Option<String>,
    /// The sender of the marketplace's mail.
    pub mail_from: String,
    /// The key access tokens are signed with (`MARKETPLACE_JWT_SECRET`, at least 32 characters);
    /// `<data_dir>/secrets/jwt.key` (made on first start) when not given.
    pub jwt_secret: Option<String>,
    /// Rate limits of the auth routes.
    pub auth_limits: crate::auth::AuthLimits,
    /// Where uploaded images live: a directory or object-store URL (`MARKETPLACE_MEDIA`).
    /// Defaults to `<data_dir>/media`.
    pub media: Option<String>,
    /// Stripe, when `STRIPE_SECRET_KEY` is set; the embedded sandbox provider otherwise.
    pub stripe: Option<crate::payments::StripeConfig>,
    /// How far one question to the SQL explorer may go (time, memory, rows).
    pub sql_limits: lakehouse::Limits,
    /// When `serve` retrains the recommender by itself.
    pub retraining: crate::recommend::RetrainPolicy,
    /// Chat messages one account may send per window.
    pub chat_limit: crate::auth::limits::Limit,
}

impl Config {
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        Config {
            addr: ([127, 0, 0, 1], 8080).into(),
            data_dir: data_dir.as_ref().to_path_buf(),
            lake: None,
            log: None,
            log_partitions: ingest::Partitions::default(),
            background_workers: true,
            upkeep_every: std::time::Duration::from_secs(600),
            secure_cookies: false,
            redis_url: None,
            smtp_url: None,
            mail_from: "Marketplace <no-reply@marketplace.localhost>".into(),
            jwt_secret: None,
            auth_limits: Default::default(),
            media: None,
            stripe: None,
            sql_limits: lakehouse::Limits::default(),
            retraining: Default::default(),
            chat_limit: crate::chat::DEFAULT_LIMIT,
        }
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    pub fn media_location(&self) -> String {
        self.media
            .clone()
            .unwrap_or_else(|| self.data_dir.join("media").to_string_lossy().into_owned())
    }

    pub fn lake_location(&self) -> String {
        self.lake
            .clone()
            .unwrap_or_else(|| self.data_dir.join("lake").display().to_string())
    }
}
