//! Extractors that state who may call a handler. A handler takes the one that names its
//! audience — [`CurrentUser`], [`Shopper`], [`CurrentSeller`], [`Admin`], [`Analyst`] — and cannot
//! run for anyone else: the request is answered 401 (not signed in, expired, revoked), 403
//! (banned, wrong role, failed CSRF check) before the handler starts.

use super::cookies::{ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER};
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use domain::{Account, Actor, Role, Shop};
use subtle::ConstantTimeEq;

/// The signed-in account behind a request, as the state has it now.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account: Account,
    /// Whether the credentials came in cookies (a browser) rather than a bearer header.
    pub via_cookie: bool,
}

impl Principal {
    /// The actor commands run as: the account with its current role.
    pub fn actor(&self) -> Actor {
        Actor::Account {
            role: self.account.role,
            id: self.account.id,
        }
    }
}

/// Whether [`authenticate`] checks the CSRF header on unsafe cookie-authenticated requests. The
/// API always does; portal form posts carry the token in a form field, checked by the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrfPolicy {
    Header,
    CheckedByCaller,
}

/// Whether `presented` equals the CSRF cookie (constant time).
pub fn csrf_matches(jar: &CookieJar, presented: Option<&str>) -> bool {
    match (jar.get(CSRF_COOKIE), presented) {
        (Some(cookie), Some(presented)) if !cookie.value().is_empty() => {
            bool::from(cookie.value().as_bytes().ct_eq(presented.as_bytes()))
        }
        _ => false,
    }
}

/// Who is asking: a bearer token, else the access cookie; checked against the state.
pub fn authenticate(
    app: &AppState,
    parts: &Parts,
    csrf: CsrfPolicy,
) -> Result<Principal, ApiError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let (token, via_cookie) = match bearer {
        Some(token) => (token.to_string(), false),
        None => match jar.get(ACCESS_COOKIE) {
            Some(cookie) => (cookie.value().to_string(), true),
            None => return Err(ApiError::unauthorized("sign in first")),
        },
    };
    let principal = principal_for_token(app, &token, via_cookie)?;
    if via_cookie && csrf == CsrfPolicy::Header && !parts.method.is_safe() {
        let header = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !csrf_matches(&jar, header) {
            return Err(ApiError::Csrf);
        }
    }
    Ok(principal)
}

/// The account an access token speaks for, checked against the state now: it still exists, its
/// sessions were not revoked since, and it is not banned. Also used by the Flight SQL endpoint.
pub fn principal_for_token(
    app: &AppState,
    token: &str,
    via_cookie: bool,
) -> Result<Principal, ApiError> {
    let claims = app.tokens.verify(token)?;
    let state = app.state();
    let account = state
        .accounts
        .get(&domain::AccountId(claims.sub))
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let epoch = state.credentials.get(&account.id).map_or(0, |c| c.epoch);
    if claims.ep != epoch {
        return Err(ApiError::Unauthorized {
            code: "session_revoked",
            message: "you were signed out everywhere (the password changed); sign in again".into(),
        });
    }
    if let Some(ban) = &account.banned {
        return Err(ApiError::Banned(ban.reason.clone()));
    }
    Ok(Principal {
        account: account.clone(),
        via_cookie,
    })
}

/// `principal` if their role is one of `allowed`; 403 "only {who} may do this" otherwise.
pub fn require(principal: Principal, allowed: &[Role], who: &str) -> Result<Principal, ApiError> {
    if allowed.contains(&principal.account.role) {
        Ok(principal)
    } else {
        Err(ApiError::Forbidden(format!("only {who} may do this")))
    }
}

/// Any signed-in account that is not banned.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Principal);

/// A signed-in shopper.
#[derive(Clone, Debug)]
pub struct Shopper(pub Principal);

/// A signed-in seller, with their shop once they have opened one.
#[derive(Clone, Debug)]
pub struct CurrentSeller {
    pub principal: Principal,
    pub shop: Option<Shop>,
}

/// A signed-in admin.
#[derive(Clone, Debug)]
pub struct Admin(pub Principal);

/// Someone who may upload images: a seller (for their shop, once opened) or an admin (for the site).
#[derive(Clone, Debug)]
pub struct Uploader {
    pub principal: Principal,
    /// The seller's shop; `None` for an admin (and a seller without a shop, who is refused later).
    pub shop: Option<domain::ShopId>,
}

/// Someone who may read the lakehouse with SQL: an analyst or an admin.
#[derive(Clone, Debug)]
pub struct Analyst(pub Principal);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        authenticate(app, parts, CsrfPolicy::Header).map(CurrentUser)
    }
}

impl FromRequestParts<AppState> for Shopper {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(app, parts, CsrfPolicy::Header)?;
        require(principal, &[Role::Shopper], "shoppers").map(Shopper)
    }
}

impl FromRequestParts<AppState> for CurrentSeller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let principal = require(
            authenticate(app, parts, CsrfPolicy::Header)?,
            &[Role::Seller],
            "sellers",
        )?;
        let shop = app.state().shop_of(principal.account.id).cloned();
        Ok(CurrentSeller { principal, shop })
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(app, parts, CsrfPolicy::Header)?;
        require(principal, &[Role::Admin], "admins").map(Admin)
    }
}

impl FromRequestParts<AppState> for Uploader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let principal = require(
            authenticate(app, parts, CsrfPolicy::Header)?,
            &[Role::Seller, Role::Admin],
            "sellers and admins",
        )?;
        let shop = app.state().shop_of(principal.account.id).map(|s| s.id);
        Ok(Uploader { principal, shop })
    }
}

impl FromRequestParts<AppState> for Analyst {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(app, parts, CsrfPolicy::Header)?;
        require(
            principal,
            &[Role::Analyst, Role::Admin],
            "analysts and admins",
        )
        .map(Analyst)
    }
}

/// The signed-in account if there is one (and it is allowed: not banned, CSRF header present on a
/// cookie session's unsafe request); `None` for everyone else. For routes anyone may call that
/// record who called them.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(authenticate(app, parts, CsrfPolicy::Header).ok()))
    }
}

/// Whoever owns a cart: a signed-in shopper, or else an anonymous visitor (the `sid` cookie,
/// minted on first contact). Credentials that are present but fail (expired, revoked, banned, no
/// CSRF header) are refused, never quietly treated as a visitor; sellers, admins and analysts are
/// refused (403): they buy nothing with their working accounts.
#[derive(Clone, Debug)]
pub struct Buyer {
    pub owner: domain::CartOwner,
    pub actor: Actor,
    /// The visitor's session (new when the request had none: remember it in the response).
    pub visitor: crate::request::Visitor,
}

impl FromRequestParts<AppState> for Buyer {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let visitor = crate::request::Visitor::from_cookies(&jar);
        let has_credentials =
            parts.headers.contains_key(AUTHORIZATION) || jar.get(ACCESS_COOKIE).is_some();
        let actor = if has_credentials {
            let principal = authenticate(app, parts, CsrfPolicy::Header)?;
            require(principal, &[Role::Shopper], "shoppers and visitors")?.actor()
        } else {
            Actor::Anonymous {
                session: visitor.session,
            }
        };
        let owner = domain::CartOwner::of(&actor).map_err(ApiError::from)?;
        Ok(Buyer {
            owner,
            actor,
            visitor,
        })
    }
}
