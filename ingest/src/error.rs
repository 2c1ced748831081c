use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("log i/o at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A record in the middle of a log file fails its checksum: the file was damaged after it was
    /// written. The log refuses to guess; an operator must restore the file.
    #[error("log file {path} is corrupt at byte {position}: {reason}")]
    Corrupt {
        path: String,
        position: u64,
        reason: String,
    },
    #[error("the log at {0} is in use by another process")]
    Locked(String),
    #[error("offset {offset} is beyond the end of partition {partition} ({end})")]
    OffsetOutOfRange {
        partition: String,
        offset: u64,
        end: u64,
    },
    #[error("record of {0} bytes is larger than the log accepts")]
    RecordTooLarge(usize),
    #[error("consumer group name '{0}' must be letters, digits, '-' and '_'")]
    BadGroup(String),
    #[error(transparent)]
    Lake(#[from] lakehouse::Error),
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// A log was opened asking for a partition count other than the one a topic was created with.
    #[error(
        "topic {topic} has {existing} partition(s) in this log, not {requested}: partition counts are fixed when a topic is created, because they decide which partition each key goes to"
    )]
    PartitionCount {
        topic: String,
        existing: u32,
        requested: u32,
    },
    #[error("there is no partition {0} in this log")]
    NoSuchPartition(String),
    #[error("topic '{0}' holds credentials and is never copied to the lake")]
    PrivateTopic(crate::Topic),
    #[error("the log has shut down")]
    Closed,
    /// A remote log engine (Fluvio) failed or could not be reached.
    #[error("log engine: {0}")]
    Remote(String),
    #[error(
        "the log '{0}' is not available in this build or not understood: use a directory, or fluvio://host:port in a build with the `fluvio` feature"
    )]
    UnsupportedLog(String),
}

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// Whether retrying might help (storage hiccups), as opposed to bad input or a damaged log.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Io { .. } | Error::Remote(_) => true,
            Error::Lake(e) => e.is_retryable(),
            _ => false,
        }
    }
}
