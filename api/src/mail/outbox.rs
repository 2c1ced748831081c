use super::{MailError, MailTransport};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::Message;
use std::path::{Path, PathBuf};

/// Mail in embedded mode: each message is an `.eml` file in a directory (`data/outbox`), named by
/// the time it was sent so a listing is in order. Files are written whole (temp file, then
/// rename), so a reader never sees half a message.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
}

/// One message in the outbox, as the admin page shows it.
#[derive(Clone, Debug)]
pub struct OutboxEntry {
    pub file: String,
    pub at: DateTime<Utc>,
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl Outbox {
    pub fn new(dir: impl AsRef<Path>) -> Outbox {
        Outbox {
            dir: dir.as_ref().to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest `limit` messages, newest first (optionally only those to `to`).
    pub fn list(&self, to: Option<&str>, limit: usize) -> std::io::Result<Vec<OutboxEntry>> {
        let mut names: Vec<String> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".eml"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        names.sort_unstable_by(|a, b| b.cmp(a));
        let parser = mail_parser::MessageParser::default();
        let mut entries = Vec::new();
        for name in names {
            if entries.len() >= limit {
                break;
            }
            let raw = std::fs::read(self.dir.join(&name))?;
            let Some(message) = parser.parse(&raw) else {
                continue;
            };
            let recipient = message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string();
            if to.is_some_and(|to| !recipient.eq_ignore_ascii_case(to)) {
                continue;
            }
            let at = message
                .date()
                .and_then(|d| DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
                .map_or_else(Utc::now, |d| d.to_utc());
            entries.push(OutboxEntry {
                file: name,
                at,
                to: recipient,
                subject: message.subject().unwrap_or_default().to_string(),
                text: message.body_text(0).unwrap_or_default().to_string(),
            });
        }
        Ok(entries)
    }
}

#[async_trait]
impl MailTransport for Outbox {
    fn name(&self) -> &'static str {
        "outbox"
    }

    async fn deliver(&self, message: Message) -> Result<(), MailError> {
        let dir = self.dir.clone();
        let name = format!(
            "{}-{}.eml",
            Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            uuid::Uuid::new_v4().simple()
        );
        let bytes = message.formatted();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, dir.join(&name))
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Letter, Mailer};
    use std::sync::Arc;

    #[tokio::test]
    async fn writes_whole_messages_and_lists_them_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        assert!(
            outbox.list(None, 10).unwrap().is_empty(),
            "a missing outbox is empty"
        );
        let mailer = Mailer::new(
            Arc::new(outbox.clone()),
            "Shop <no-reply@shop.test>",
            "Shop",
        )
        .unwrap();
        mailer
            .send(
                "ada@example.com",
                &Letter::Activation {
                    name: "Ada".into(),
                    code: "123456".into(),
                },
            )
            .await
            .unwrap();
        mailer
            .send(
                "bob@example.com",
                &Letter::Reset {
                    name: "Bob".into(),
                    code: "654321".into(),
                },
            )
            .await
            .unwrap();
        let all = outbox.list(None, 10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].to, "bob@example.com", "newest first");
        assert!(all[0].subject.contains("654321") && all[0].text.contains("654321"));
        let ada = outbox.list(Some("ADA@example.com"), 10).unwrap();
        assert_eq!(ada.len(), 1);
        assert!(ada[0].text.contains("123456"));
        assert_eq!(outbox.list(None, 1).unwrap().len(), 1);
    }
}
