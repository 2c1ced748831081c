//! What every page's frame shows: the site name and which portal this is.

use domain::State;

pub struct Chrome {
    pub site_name: String,
    pub site_initial: String,
    /// `shop`, `seller` or `admin`: picks the accent colour and the active nav link.
    pub portal: &'static str,
}

impl Chrome {
    pub fn new(state: &State, portal: &'static str) -> Chrome {
        let site_name = state.site.name.clone();
        Chrome {
            site_initial: initials(&site_name, 1),
            site_name,
            portal,
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
