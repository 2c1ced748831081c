//! What every page's frame shows: the site name, which portal this is, and who is signed in.

use crate::session::Viewer;
use domain::State;

/// The signed-in person, as the header shows them.
pub struct UserChip {
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub initials: String,
}

pub struct Chrome {
    pub site_name: String,
    pub site_initial: String,
    /// `shop`, `seller` or `admin`: picks the accent colour and the active nav link.
    pub portal: &'static str,
    pub user: Option<UserChip>,
    /// The token the page's forms post back (the sign-out form included).
    pub csrf: String,
    /// The session looks expired: the page's script tries one refresh.
    pub stale: bool,
    /// The admin section this page belongs to (`dashboard`, `users`, …), for the sub-navigation.
    pub section: &'static str,
    /// How many items the shopper's (or visitor's) cart holds, for the shop portal's header.
    pub cart_items: u32,
    /// Whether the header offers the shopper's own links (orders, wishlist).
    pub shopper: bool,
    /// The signed-in person's unread notifications (the bell's badge).
    pub unread: usize,
    /// Unread chat messages (the inbox's badge), and where the inbox is (shoppers and sellers).
    pub unread_chat: usize,
    pub inbox_href: Option<&'static str>,
}

impl Chrome {
    /// The frame for someone not known to be signed in (error pages of the API's fallback).
    pub fn new(state: &State, portal: &'static str) -> Chrome {
        let site_name = state.site.name.clone();
        Chrome {
            site_initial: initials(&site_name, 1),
            site_name,
            portal,
            user: None,
            csrf: String::new(),
            stale: false,
            section: "",
            cart_items: 0,
            shopper: false,
            unread: 0,
            unread_chat: 0,
            inbox_href: None,
        }
    }

    /// The frame for `viewer`.
    pub fn with(state: &State, portal: &'static str, viewer: &Viewer) -> Chrome {
        let mut chrome = Chrome::new(state, portal);
        chrome.user = viewer.principal().map(|p| UserChip {
            initials: initials(&p.account.name, 2),
            name: p.account.name.clone(),
            email: p.account.email.clone(),
            role: api::role_name(p.account.role),
        });
        chrome.unread = viewer
            .principal()
            .map_or(0, |p| state.unread_notifications(p.account.id));
        if let Some(p) = viewer.principal() {
            chrome.inbox_href = match p.account.role {
                domain::Role::Shopper => Some("/inbox"),
                domain::Role::Seller => Some("/seller/inbox"),
                _ => None,
            };
            if chrome.inbox_href.is_some() {
                chrome.unread_chat = state.unread_chat(p.account.id);
            }
        }
        chrome.csrf = viewer.csrf.clone();
        chrome.stale = viewer.stale;
        if portal == "shop"
            && let Ok((_, owner)) = viewer.buyer()
        {
            chrome.shopper = owner.account().is_some();
            chrome.cart_items = state
                .carts
                .get(&owner)
                .map_or(0, |c| c.lines.iter().map(|l| l.quantity).sum());
        }
        chrome
    }

    /// The same frame, marked as belonging to an admin section.
    pub fn in_section(mut self, section: &'static str) -> Chrome {
        self.section = section;
        self
    }

    /// Where this portal's sign-in lives.
    pub fn login_href(&self) -> String {
        match self.portal {
            "shop" => "/login".into(),
            other => format!("/{other}/login"),
        }
    }

    pub fn signup_href(&self) -> Option<String> {
        match self.portal {
            "shop" => Some("/signup".into()),
            "seller" => Some("/seller/signup".into()),
            _ => None,
        }
    }
}

/// Up to `n` upper-case initials of the first words of `text`.
pub fn initials(text: &str, n: usize) -> String {
    text.split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(n)
        .flat_map(char::to_uppercase)
        .collect()
}

/// A stable hue (0–359) for a placeholder picture, derived from an id.
pub fn hue(id: &uuid::Uuid) -> u16 {
    (id.as_u128() % 360) as u16
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_skip_punctuation() {
        assert_eq!(initials("blue ceramic mug", 2), "BC");
        assert_eq!(initials("— oak & co", 2), "OC");
        assert_eq!(initials("", 2), "");
    }
}
