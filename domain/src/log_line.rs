//! Log lines are events too: every component's and every browser's lines travel on the `logs`
//! topic, land in `bronze.logs` and stream live to the admins' log page. They are history, not
//! state: `State::apply` ignores them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest message kept, in bytes; longer ones are cut (and say so).
pub const MAX_LOG_MESSAGE: usize = 8 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The component: `api`, `pipelines`, `ingest`, `lakehouse`, `models`, `cli` or `browser`.
    pub source: String,
    /// The module that wrote it (`api::routes::orders`), or the page for browsers.
    pub target: String,
    pub message: String,
    /// The line's structured fields, as text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// The spans it was written in, outermost first (`request{method=GET uri=/api/products}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<String>,
}

/// The levels, most severe first.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// How severe a level is: 0 for `error` up to 4 for `trace` (unknown levels count as `info`).
pub fn severity_of(level: &str) -> usize {
    LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(2)
}

impl LogLine {
    /// How severe the line is: 0 for errors up to 4 for trace (unknown levels count as info).
    pub fn severity(&self) -> usize {
        severity_of(&self.level)
    }

    /// Cuts `message` to [`MAX_LOG_MESSAGE`] bytes on a character boundary.
    pub fn clip(message: &mut String) {
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("… (cut)");
        }
    }
}
