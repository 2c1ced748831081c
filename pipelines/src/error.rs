use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("pipeline {pipeline}: header line {line}: {reason}")]
    Header {
        pipeline: String,
        line: usize,
        reason: String,
    },
    #[error(
        "pipeline {pipeline}: source {source_table} needs `partition` and `offset` columns to track progress by"
    )]
    NoOffset {
        pipeline: String,
        source_table: String,
    },
    #[error(
        "pipeline {pipeline}: another runner committed it meanwhile; this run's rows are dropped (run one runner per lake)"
    )]
    Moved { pipeline: String },
    #[error("pipeline {pipeline}: its rows could not be published: {reason}")]
    Publish { pipeline: String, reason: String },
    #[error("pipeline {pipeline}: {source}")]
    Lake {
        pipeline: String,
        #[source]
        source: lakehouse::Error,
    },
}

impl Error {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Lake { source, .. } if source.is_retryable())
    }
}
