//! The tracing layer that turns each event into a [`LogLine`] and offers it to every registered
//! [`LogFeed`] without blocking.

use chrono::Utc;
use domain::LogLine;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Lines buffered between the tracing layer and the shipper.
pub const BUFFER: usize = 16_384;

/// What the stream carries unless `MARKETPLACE_LOG_STREAM` says otherwise (EnvFilter syntax):
/// our crates at info, libraries at warn, and the libraries that report as errors what they also
/// return as errors kept quiet.
const DEFAULT_FILTER: &str = "warn,api=info,portals=info,pipelines=info,ingest=info,lakehouse=info,models=info,marketplace=info,tower_http=info,buoyant_kernel=off,deltalake_core=warn,deltalake_core::operations::merge=error,datafusion=warn";

/// One consumer of captured lines: a bounded buffer and what it had to drop.
pub struct LogFeed {
    tx: mpsc::Sender<LogLine>,
    dropped: AtomicU64,
}

static FEEDS: RwLock<Vec<Weak<LogFeed>>> = RwLock::new(Vec::new());

impl LogFeed {
    /// A feed of every line the process writes from now on, with its receiving end.
    pub fn register(capacity: usize) -> (Arc<LogFeed>, mpsc::Receiver<LogLine>) {
        let (tx, rx) = mpsc::channel(capacity);
        let feed = Arc::new(LogFeed {
            tx,
            dropped: AtomicU64::new(0),
        });
        let mut feeds = FEEDS.write().expect("log feeds lock");
        feeds.retain(|f| f.upgrade().is_some_and(|f| !f.tx.is_closed()));
        feeds.push(Arc::downgrade(&feed));
        (feed, rx)
    }

    /// Queues a line, or counts it dropped when the buffer is full. Never waits.
    pub fn offer(&self, line: LogLine) {
        match self.tx.try_send(line) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped because the buffer was full, since the feed was registered.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The capture layer with its filter (see [`DEFAULT_FILTER`]).
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = std::env::var("MARKETPLACE_LOG_STREAM")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    Capture.with_filter(filter)
}

struct Capture;

/// A span's fields, formatted once when it opens.
struct SpanFields(String);

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.inline()));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(span) = ctx.span(id)
            && let Some(existing) = span.extensions_mut().get_mut::<SpanFields>()
        {
            let more = fields.inline();
            if !more.is_empty() {
                if !existing.0.is_empty() {
                    existing.0.push(' ');
                }
                existing.0.push_str(&more);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let feeds = FEEDS.read().expect("log feeds lock");
        if feeds.is_empty() {
            return;
        }
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        let ext = span.extensions();
                        match ext.get::<SpanFields>() {
                            Some(f) if !f.0.is_empty() => format!("{}{{{}}}", span.name(), f.0),
                            _ => span.name().to_string(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let target = meta.target();
        let mut message = fields.message;
        LogLine::clip(&mut message);
        let line = LogLine {
            at: Utc::now(),
            level: meta.level().as_str().to_ascii_lowercase(),
            source: source_of(target).to_string(),
            target: target.to_string(),
            message,
            fields: fields.rest,
            spans,
        };
        // Offering never waits, so it is done under the (read) lock.
        for feed in feeds.iter().filter_map(Weak::upgrade) {
            feed.offer(line.clone());
        }
    }
}

/// The component a target belongs to: its crate (`marketplace` is the command line).
fn source_of(target: &str) -> &str {
    match target.split("::").next().unwrap_or(target) {
        "marketplace" => "cli",
        other => other,
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: BTreeMap<String, String>,
}

impl Fields {
    fn inline(self) -> String {
        let mut out = String::new();
        for (k, v) in self.rest {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{k}={v}");
        }
        out
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest
                .insert(field.name().to_string(), value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.rest.insert(field.name().to_string(), text);
        }
    }
}
