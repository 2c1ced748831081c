//! Log lines as events (DESIGN.md §4, the `logs` topic): a tracing layer copies every
//! component's lines ([`capture`]) into a bounded buffer that a shipper drains in batches into the
//! log and the live stream ([`shipper`]); browsers add theirs through `POST /api/logs`; admins
//! read them back from `bronze.logs` ([`query`]).
//!
//! Writing a line never waits: when the buffer is full (the log is slow or down) the line is
//! dropped and counted, and the count is reported as a line of its own once there is room.

pub mod capture;
pub mod query;
pub mod shipper;

pub use capture::{LogFeed, layer};

use domain::LogLine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The service's share of the captured lines, and what became of them.
pub struct LogStream {
    pub feed: Arc<LogFeed>,
    /// Taken by the shipper when the workers start.
    lines: Mutex<Option<mpsc::Receiver<LogLine>>>,
    /// Lines appended to the `logs` topic.
    pub shipped: AtomicU64,
    /// Lines lost because the log refused the append.
    pub failed: AtomicU64,
}

impl Default for LogStream {
    fn default() -> Self {
        let (feed, lines) = LogFeed::register(capture::BUFFER);
        LogStream {
            feed,
            lines: Mutex::new(Some(lines)),
            shipped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

impl LogStream {
    pub(crate) fn take_lines(&self) -> Option<mpsc::Receiver<LogLine>> {
        self.lines.lock().expect("log lines lock").take()
    }

    /// Lines dropped (buffer full) or lost (log refused them).
    pub fn lost(&self) -> u64 {
        self.feed.dropped() + self.failed.load(Ordering::Relaxed)
    }
}
