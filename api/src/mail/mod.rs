//! Mail (DESIGN.md §5): the letters the marketplace sends and how they leave.
//!
//! - [`Letter`] is what is said: activation and reset codes, a password-changed notice, a welcome.
//!   Each renders an HTML and a plain-text body from the templates in `api/templates/mail/`.
//! - [`Mailer`] sends it: over SMTP when `SMTP_URL` is set ([`lettre`]'s async SMTP transport),
//!   otherwise into `data/outbox` as `.eml` files ([`Outbox`]), which the admin portal lists.
//!
//! A letter's codes are secrets: they are never logged (the log line says who and which letter).

mod letters;
mod outbox;

pub use letters::{Letter, LetterLine};
pub use outbox::{Outbox, OutboxEntry};

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;

/// Why a letter could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address '{0}' cannot receive mail")]
    Address(String),
    #[error("the letter could not be built: {0}")]
    Build(String),
    #[error("the mail server refused or could not be reached: {0}")]
    Transport(String),
    #[error("the outbox could not be written: {0}")]
    Outbox(#[from] std::io::Error),
}

/// Where messages go once built.
#[async_trait]
pub trait MailTransport: Send + Sync {
    fn name(&self) -> &'static str;
    async fn deliver(&self, message: Message) -> Result<(), MailError>;
}

/// SMTP via lettre: `smtp://host:port` (plain, or `?tls=required` for STARTTLS), `smtps://…`, with
/// `user:password@` when the server wants it.
pub struct Smtp(AsyncSmtpTransport<Tokio1Executor>);

impl Smtp {
    pub fn from_url(url: &str) -> Result<Smtp, MailError> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(|builder| Smtp(builder.build()))
            .map_err(|e| MailError::Transport(format!("SMTP_URL: {e}")))
    }
}

#[async_trait]
impl MailTransport for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn deliver(&self, message: Message) -> Result<(), MailError> {
        self.0
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Transport(e.to_string()))
    }
}

/// Builds letters and hands them to the transport.
#[derive(Clone)]
pub struct Mailer {
    transport: Arc<dyn MailTransport>,
    from: Mailbox,
    site_name: String,
}

impl Mailer {
    pub fn new(
        transport: Arc<dyn MailTransport>,
        from: &str,
        site_name: &str,
    ) -> Result<Mailer, MailError> {
        let from = from
            .parse()
            .map_err(|_| MailError::Address(from.to_string()))?;
        Ok(Mailer {
            transport,
            from,
            site_name: site_name.to_string(),
        })
    }

    pub fn transport_name(&self) -> &'static str {
        self.transport.name()
    }

    /// Renders and sends one letter to `to`.
    pub async fn send(&self, to: &str, letter: &Letter) -> Result<(), MailError> {
        let recipient: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        let (html, text) = letter.render(&self.site_name)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(letter.subject(&self.site_name))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.transport.deliver(message).await?;
        tracing::info!(
            letter = letter.name(),
            transport = self.transport.name(),
            "mail sent"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_servers::SmtpServer;

    fn code_in(raw: &[u8]) -> (String, String, String) {
        let parsed = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("a mail");
        let subject = parsed.subject().unwrap_or_default().to_string();
        let text = parsed.body_text(0).unwrap_or_default().to_string();
        let html = parsed.body_html(0).unwrap_or_default().to_string();
        (subject, text, html)
    }

    #[tokio::test]
    async fn sends_an_activation_code_through_a_real_smtp_server() {
        let Some(server) = SmtpServer::start() else {
            return;
        };
        let mailer = Mailer::new(
            Arc::new(Smtp::from_url(&server.url()).unwrap()),
            "Marketplace <no-reply@marketplace.test>",
            "Marketplace",
        )
        .unwrap();
        mailer
            .send(
                "ada@example.com",
                &Letter::Activation {
                    name: "Ada <script>".into(),
                    code: "042917".into(),
                },
            )
            .await
            .unwrap();
        let received = server.await_messages(1).await;
        assert_eq!(received.len(), 1, "the server got the letter");
        let (subject, text, html) = code_in(&received[0]);
        assert!(
            subject.contains("042917"),
            "the code is in the subject: {subject}"
        );
        assert!(
            text.contains("042917") && text.contains("5 minutes"),
            "{text}"
        );
        assert!(html.contains("042917"));
        assert!(
            html.contains("Ada &lt;script&gt;") || html.contains("Ada &#60;script&#62;"),
            "names are escaped in HTML: {html}"
        );
        drop(server);
    }

    #[tokio::test]
    async fn an_smtp_server_that_is_not_there_is_a_transport_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mailer = Mailer::new(
            Arc::new(Smtp::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap()),
            "no-reply@marketplace.test",
            "M",
        )
        .unwrap();
        let error = mailer
            .send(
                "a@example.com",
                &Letter::PasswordChanged { name: "A".into() },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::Transport(_)), "{error}");
    }
}
