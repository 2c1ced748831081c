use super::flows::SignedIn;
use super::tokens::{ACCESS_TTL, REFRESH_TTL};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

pub const ACCESS_COOKIE: &str = "access_token";
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Readable by the page's script (not HttpOnly): its value goes back in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The refresh cookie is only ever sent to the auth routes.
const REFRESH_PATH: &str = "/api/auth";

fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age: std::time::Duration,
    http_only: bool,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(http_only)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age.as_secs() as i64))
        .build()
}

/// Adds the session cookies: access (HttpOnly, 15 min), refresh (HttpOnly, 7 days, auth routes
/// only) and the CSRF token (readable, 7 days).
pub fn set_session(jar: CookieJar, session: &SignedIn, secure: bool) -> CookieJar {
    jar.add(cookie(
        ACCESS_COOKIE,
        session.access_token.clone(),
        "/",
        ACCESS_TTL,
        true,
        secure,
    ))
    .add(cookie(
        REFRESH_COOKIE,
        session.refresh_token.clone(),
        REFRESH_PATH,
        REFRESH_TTL,
        true,
        secure,
    ))
    .add(cookie(
        CSRF_COOKIE,
        session.csrf_token.clone(),
        "/",
        REFRESH_TTL,
        false,
        secure,
    ))
}

/// Removes the session cookies.
pub fn clear_session(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(ACCESS_COOKIE).path("/"))
        .remove(Cookie::build(REFRESH_COOKIE).path(REFRESH_PATH))
        .remove(Cookie::build(CSRF_COOKIE).path("/"))
}
