use crate::topic::Topic;
use chrono::{DateTime, Utc};
use domain::{Actor, Event, EventId};
use serde::{Deserialize, Serialize};

/// The schema version this build writes, and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One event on the wire. The payload stays raw JSON so a reader can keep going (and dead-letter
/// the record) when it meets a kind or version it does not understand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: EventId,
    pub topic: String,
    pub key: String,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub v: u32,
    pub payload: serde_json::Value,
}

/// The actor as two flat columns, the way the lakehouse stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorColumns {
    pub role: &'static str,
    pub id: Option<String>,
}

impl Envelope {
    /// Wraps a domain event. `key` defaults to the event's aggregate, else the actor.
    pub fn wrap(id: EventId, event: &Event, actor: Actor, at: DateTime<Utc>) -> Envelope {
        let (kind, payload) = event.to_parts();
        let key = event
            .aggregate_key()
            .or_else(|| actor.subject_id().map(|id| id.to_string()))
            .unwrap_or_else(|| "system".into());
        Envelope {
            id,
            topic: Topic::of(event).as_str().to_string(),
            key,
            kind: kind.to_string(),
            at,
            actor,
            v: SCHEMA_VERSION,
            payload,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> serde_json::Result<Envelope> {
        serde_json::from_slice(bytes)
    }

    /// The domain event inside, if this build understands its kind and version.
    pub fn event(&self) -> Result<Event, String> {
        if self.v > SCHEMA_VERSION {
            return Err(format!(
                "schema version {} is newer than {SCHEMA_VERSION}",
                self.v
            ));
        }
        if !Event::KINDS.contains(&self.kind.as_str()) {
            return Err(format!("unknown kind '{}'", self.kind));
        }
        Event::from_parts_ref(&self.kind, &self.payload)
            .map_err(|e| format!("payload does not match kind '{}': {e}", self.kind))
    }

    pub fn actor_columns(&self) -> ActorColumns {
        ActorColumns {
            role: self.actor.role_name(),
            id: self.actor.subject_id().map(|id| id.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{ActivityDetails, SessionId};

    #[test]
    fn wraps_and_unwraps_events() {
        let session = SessionId(uuid::Uuid::from_u128(9));
        let event = Event::Search(ActivityDetails {
            query: Some("mug".into()),
            ..Default::default()
        });
        let at = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .to_utc();
        let envelope = Envelope::wrap(
            EventId(uuid::Uuid::now_v7()),
            &event,
            Actor::Anonymous { session },
            at,
        );
        assert_eq!(
            (envelope.topic.as_str(), envelope.kind.as_str()),
            ("activity", "search")
        );
        assert_eq!(envelope.key, session.to_string());
        let back = Envelope::from_bytes(&envelope.to_bytes()).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.event().unwrap(), event);
        assert_eq!(
            back.actor_columns(),
            ActorColumns {
                role: "anonymous",
                id: Some(session.to_string())
            }
        );

        let mut newer = back.clone();
        newer.v = SCHEMA_VERSION + 1;
        assert!(newer.event().unwrap_err().contains("newer"));
        let mut unknown = back;
        unknown.kind = "teleport".into();
        assert!(unknown.event().unwrap_err().contains("unknown kind"));
    }
}
