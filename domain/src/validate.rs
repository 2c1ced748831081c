//! Field checks shared by every decision.

use crate::Result;
use crate::error::DomainError;
use crate::slug::slugify;

/// Free text (a bio, a description) is at most this many bytes.
pub(crate) const MAX_TEXT: usize = 20_000;

pub(crate) fn non_empty(field: &'static str, value: &str, max: usize) -> Result<()> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

/// Free text (a bio, a description) of at most `MAX_TEXT` bytes.
pub(crate) fn long_text(field: &'static str, text: &str) -> Result<()> {
    if text.len() > MAX_TEXT {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn non_empty_slug(field: &'static str, text: &str) -> Result<String> {
    let slug = slugify(text);
    if slug.is_empty() {
        return Err(DomainError::invalid(
            field,
            "needs at least one letter or digit",
        ));
    }
    Ok(slug)
}

pub(crate) fn country(field: &'static str, code: &str) -> Result<()> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            "must be a two-letter ISO 3166 country code such as DE",
        ))
    }
}
