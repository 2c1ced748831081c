use super::MailError;
use askama::Template;

/// How long an OTP is valid, as the letters say it.
pub const OTP_MINUTES: u32 = 5;

/// Every letter the marketplace sends.
#[derive(Clone, Debug)]
pub enum Letter {
    /// The code that proves an e-mail address at sign-up.
    Activation { name: String, code: String },
    /// The code that starts a password reset.
    Reset { name: String, code: String },
    /// Sent after a password change or reset, so a person notices one they did not make.
    PasswordChanged { name: String },
    /// Sent once the account exists.
    Welcome { name: String, role: String },
    /// One order of a paid checkout, to its shopper.
    OrderConfirmation {
        name: String,
        number: String,
        shop: String,
        lines: Vec<LetterLine>,
        subtotal: String,
        discount: Option<String>,
        total: String,
        address: String,
    },
    /// A new order, to the shop's seller (when the shop's settings ask for it).
    NewOrder {
        shop: String,
        number: String,
        lines: Vec<LetterLine>,
        total: String,
        payout: String,
    },
    /// An order moved on its way, to its shopper.
    OrderStatus {
        name: String,
        number: String,
        shop: String,
        status: String,
    },
}

/// One line of an order in a letter.
#[derive(Clone, Debug)]
pub struct LetterLine {
    pub title: String,
    pub quantity: u32,
    pub total: String,
}

#[derive(Template)]
#[template(path = "mail/letter.html")]
struct Html<'a> {
    site: &'a str,
    letter: &'a Letter,
    minutes: u32,
}

#[derive(Template)]
#[template(path = "mail/letter.txt")]
struct Text<'a> {
    site: &'a str,
    letter: &'a Letter,
    minutes: u32,
}

impl Letter {
    pub fn name(&self) -> &'static str {
        match self {
            Letter::Activation { .. } => "activation",
            Letter::Reset { .. } => "reset",
            Letter::PasswordChanged { .. } => "password_changed",
            Letter::Welcome { .. } => "welcome",
            Letter::OrderConfirmation { .. } => "order_confirmation",
            Letter::NewOrder { .. } => "new_order",
            Letter::OrderStatus { .. } => "order_status",
        }
    }

    pub fn subject(&self, site: &str) -> String {
        match self {
            Letter::Activation { code, .. } => format!("{code} is your {site} activation code"),
            Letter::Reset { code, .. } => format!("{code} is your {site} password reset code"),
            Letter::PasswordChanged { .. } => format!("Your {site} password was changed"),
            Letter::Welcome { .. } => format!("Welcome to {site}"),
            Letter::OrderConfirmation { number, shop, .. } => {
                format!("Your order {number} from {shop} is confirmed")
            }
            Letter::NewOrder { number, .. } => format!("New order {number} on {site}"),
            Letter::OrderStatus { number, status, .. } => {
                format!("Your order {number}: {}", status.to_lowercase())
            }
        }
    }

    /// The HTML (escaped) and plain-text bodies.
    pub fn render(&self, site: &str) -> Result<(String, String), MailError> {
        let html = Html {
            site,
            letter: self,
            minutes: OTP_MINUTES,
        }
        .render()
        .map_err(|e| MailError::Build(e.to_string()))?;
        let text = Text {
            site,
            letter: self,
            minutes: OTP_MINUTES,
        }
        .render()
        .map_err(|e| MailError::Build(e.to_string()))?;
        Ok((html, text))
    }
}
