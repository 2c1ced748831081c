//! Password hashing (argon2id, the crate's OWASP-recommended defaults) and the password rules.

use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use domain::PasswordHash;
use std::collections::BTreeMap;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 128;

/// Checks a new password against the rules; the error names the field.
pub fn check_rules(field: &str, password: &str, email: Option<&str>) -> Result<(), ApiError> {
    let length = password.chars().count();
    let problem = if length < MIN_LENGTH {
        Some(format!("at least {MIN_LENGTH} characters"))
    } else if length > MAX_LENGTH {
        Some(format!("at most {MAX_LENGTH} characters"))
    } else if password.trim().is_empty() {
        Some("must not be only spaces".to_string())
    } else if email.is_some_and(|e| password.eq_ignore_ascii_case(e.trim())) {
        Some("must not be your e-mail address".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(reason) => Err(ApiError::Invalid {
            message: format!("{field}: {reason}"),
            fields: BTreeMap::from([(field.to_string(), reason)]),
        }),
    }
}

/// Hashes on a blocking thread: argon2id takes tens of milliseconds of CPU by design.
pub async fn hash(password: &str) -> Result<PasswordHash, ApiError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Verifies on a blocking thread. With no stored hash (no such account), a dummy hash is checked
/// anyway so the answer takes as long either way and does not tell which e-mails exist.
pub async fn verify(password: &str, stored: Option<&PasswordHash>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let known = stored.is_some();
    let stored = match stored {
        Some(hash) => hash.0.clone(),
        None => DUMMY
            .get_or_init(|| {
                Argon2::default()
                    .hash_password(b"not a password anyone has")
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            })
            .clone(),
    };
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), stored.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false);
    known && matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let hash = hash("correct horse battery").await.unwrap();
        assert!(hash.0.starts_with("$argon2id$"), "{}", hash.0);
        assert!(verify("correct horse battery", Some(&hash)).await);
        assert!(!verify("correct horse batterY", Some(&hash)).await);
        assert!(!verify("correct horse battery", None).await);
        let again = super::hash("correct horse battery").await.unwrap();
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[test]
    fn rules_name_the_field() {
        assert!(check_rules("password", "short", None).is_err());
        assert!(check_rules("password", "ada@example.com", Some("ADA@example.com")).is_err());
        assert!(check_rules("password", &"x".repeat(129), None).is_err());
        assert!(check_rules("password", "          ", None).is_err());
        assert!(check_rules("password", "a long enough one", None).is_ok());
    }
}
