//! Notifications: the notification pipeline publishes its rows here, and they go through the
//! command path like every other write (durable on the `notifications` topic, then in the state,
//! then pushed to whoever is watching).

use crate::command::CommandPath;
use chrono::Utc;
use domain::{Actor, Command, Context, Notification, NotificationCommand};
use serde::Deserialize;

/// Delivers the notification pipeline's rows. Rows already delivered (a run repeated after a
/// crash) are dropped by `decide`, by id.
pub(crate) struct Deliverer {
    pub(crate) commands: CommandPath,
}

#[async_trait::async_trait]
impl pipelines::Publisher for Deliverer {
    async fn publish(&self, topic: &str, rows: Vec<serde_json::Value>) -> Result<(), String> {
        if topic != ingest::Topic::Notifications.as_str() {
            return Err(format!(
                "only the notifications topic takes published rows, not '{topic}'"
            ));
        }
        let mut notifications = Vec::with_capacity(rows.len());
        for row in rows {
            let notification = Notification::deserialize(&row)
                .map_err(|e| format!("a row is not a notification ({e}): {row}"))?;
            notifications.push(notification);
        }
        // One command per few hundred, so a large backlog does not make one huge batch.
        for chunk in notifications.chunks(256) {
            self.commands
                .execute(
                    Command::Notification(NotificationCommand::Deliver(chunk.to_vec())),
                    Context {
                        actor: Actor::System,
                        at: Utc::now(),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
