use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Lakehouse failures. [`Error::is_retryable`] tells a writer whether trying again can help.
#[derive(Debug, Error)]
pub enum Error {
    #[error("delta table {table}: {source}")]
    Delta {
        table: String,
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
    #[error("query failed: {0}")]
    Query(Box<deltalake::datafusion::error::DataFusionError>),
    #[error("arrow: {0}")]
    Arrow(#[from] deltalake::arrow::error::ArrowError),
    #[error("lake location '{location}' is not usable: {reason}")]
    Location { location: String, reason: String },
    #[error(
        "'{0}' is not a table name: write <layer>.<name> with layer bronze, silver or gold and a lower-case name"
    )]
    TableName(String),
    #[error("table {0} does not exist yet")]
    NoSuchTable(String),
    #[error("lake i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A Delta failure on `table`.
    pub fn delta(table: impl ToString, source: deltalake::DeltaTableError) -> Self {
        Error::Delta {
            table: table.to_string(),
            source: Box::new(source),
        }
    }

    /// Storage hiccups (object store, I/O, a lost commit race) may pass; bad names, bad SQL and
    /// schema mismatches will not.
    pub fn is_retryable(&self) -> bool {
        use deltalake::DeltaTableError as D;
        match self {
            Error::Io(_) => true,
            Error::Delta { source, .. } => matches!(
                **source,
                D::ObjectStore { .. }
                    | D::Io { .. }
                    | D::VersionAlreadyExists(_)
                    | D::Transaction { .. }
            ),
            _ => false,
        }
    }
}

impl From<deltalake::datafusion::error::DataFusionError> for Error {
    fn from(e: deltalake::datafusion::error::DataFusionError) -> Self {
        Error::Query(Box::new(e))
    }
}
