//! Accounts and auth (DESIGN.md §9): passwords, one-time codes, tokens, cookies, rate limits and
//! the extractors that make every handler state who may call it.
//!
//! Where credentials live:
//! - password hashes (argon2id): durably, in the log's `credentials` topic (`password.set`
//!   events), folded into `State::credentials` on start. That topic is never copied to the lake,
//!   so no hash reaches a table, the SQL explorer or an analyst;
//! - one-time codes, pending sign-ups, reset tokens, refresh-token families and rate-limit
//!   windows: the key-value store ([`crate::kv`]), hashed where they are bearer secrets (refresh
//!   and reset tokens are stored under their SHA-256), all with a time to live;
//! - access tokens: nowhere. They are HS256 JWTs signed with the key in
//!   `MARKETPLACE_JWT_SECRET` or, by default, `data/secrets/jwt.key` (made on first start, mode 0600).
//!
//! Every request re-reads the account from the in-memory state, so a ban or a password reset
//! (which moves the account's session epoch on) takes effect on the very next request.

mod cookies;
mod extract;
pub mod flows;
pub mod limits;
pub mod otp;
pub mod password;
pub mod tokens;

pub use cookies::{
    ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE, clear_session, set_session,
};
pub use extract::{
    Admin, Analyst, Buyer, CsrfPolicy, CurrentSeller, CurrentUser, MaybeUser, Principal, Shopper,
    Uploader, authenticate, csrf_matches, principal_for_token, require,
};
pub use flows::{Registration, SignedIn};
pub use limits::{AuthLimits, Limit};
pub use tokens::TokenKeys;

use std::path::Path;

/// The signing key: `MARKETPLACE_JWT_SECRET` when given (at least 32 bytes), else the key file
/// under the data dir, made with 32 random bytes on first start.
pub fn signing_key(secret: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = secret {
        if secret.len() < 32 {
            return Err(std::io::Error::other(
                "MARKETPLACE_JWT_SECRET must be at least 32 characters",
            ));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("secrets").join("jwt.key");
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= 32 => {
            return Ok(existing.trim().as_bytes().to_vec());
        }
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is too short",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = path.parent().expect("a parent");
    std::fs::create_dir_all(dir)?;
    let key = tokens::random_token();
    let tmp = dir.join(".jwt.key.tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(key.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(key.into_bytes())
}
