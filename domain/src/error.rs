use thiserror::Error;

/// Why a command was refused. Every variant is the caller's to fix; none is worth retrying as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field is missing or out of range.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The thing the command refers to does not exist (or is not visible to the actor).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The command clashes with the current state (a duplicate, or a stale change).
    #[error("{0}")]
    Conflict(String),
    /// The actor may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        DomainError::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}
