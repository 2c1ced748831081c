use crate::ids::{AccountId, SessionId};
use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Shopper,
    Seller,
    Admin,
    Analyst,
}

/// Who caused an event: a signed-in account, an anonymous browser session, or the system itself
/// (seeding, scheduled jobs, pipelines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    Anonymous { session: SessionId },
    Account { role: Role, id: AccountId },
    System,
}

impl Actor {
    /// The role name as it appears in the event envelope and the lakehouse.
    pub fn role_name(&self) -> &'static str {
        match self {
            Actor::Anonymous { .. } => "anonymous",
            Actor::System => "system",
            Actor::Account { role, .. } => match role {
                Role::Shopper => "shopper",
                Role::Seller => "seller",
                Role::Admin => "admin",
                Role::Analyst => "analyst",
            },
        }
    }

    /// The account or session id, if any.
    pub fn subject_id(&self) -> Option<uuid::Uuid> {
        match self {
            Actor::Anonymous { session } => Some(session.0),
            Actor::Account { id, .. } => Some(id.0),
            Actor::System => None,
        }
    }

    pub fn is_system_or_admin(&self) -> bool {
        matches!(
            self,
            Actor::System
                | Actor::Account {
                    role: Role::Admin,
                    ..
                }
        )
    }
}
