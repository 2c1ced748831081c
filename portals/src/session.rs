//! Who is looking at a page, and the CSRF check of the portals' forms.
//!
//! Pages read the same session cookies as the API ([`api::auth::authenticate`]). Forms are
//! protected by the double-submit rule: every form carries a hidden `csrf_token` field that must
//! equal the `csrf_token` cookie; [`CsrfForm`] refuses a post where they differ, so a handler
//! cannot forget the check.

use api::auth::{CSRF_COOKIE, CsrfPolicy, Principal, authenticate, csrf_matches};
use api::{ApiError, AppState};
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use domain::Role;
use serde::de::DeserializeOwned;

/// The three portals, each with its own sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Portal {
    Shop,
    Seller,
    Admin,
}

impl Portal {
    /// The path every page of the portal starts with (`""` for the shop).
    pub fn prefix(self) -> &'static str {
        match self {
            Portal::Shop => "",
            Portal::Seller => "/seller",
            Portal::Admin => "/admin",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Portal::Shop => "shop",
            Portal::Seller => "seller",
            Portal::Admin => "admin",
        }
    }

    pub fn home(self) -> &'static str {
        match self {
            Portal::Shop => "/",
            Portal::Seller => "/seller",
            Portal::Admin => "/admin",
        }
    }

    /// The roles this portal signs in.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Portal::Shop => &[Role::Shopper],
            Portal::Seller => &[Role::Seller],
            Portal::Admin => &[Role::Admin, Role::Analyst],
        }
    }

    pub fn login_path(self) -> String {
        format!("{}/login", self.prefix())
    }
}

/// The portal a request is for, from its path.
impl<S: Send + Sync> FromRequestParts<S> for Portal {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path();
        Ok(if path == "/seller" || path.starts_with("/seller/") {
            Portal::Seller
        } else if path == "/admin" || path.starts_with("/admin/") {
            Portal::Admin
        } else {
            Portal::Shop
        })
    }
}

/// The person looking at a page: signed in or not, and the CSRF token their forms carry.
#[derive(Debug)]
pub struct Viewer {
    pub auth: Result<Principal, ApiError>,
    pub csrf: String,
    /// The CSRF cookie is new: the page must set it ([`Viewer::keep_csrf`]).
    new_csrf: bool,
    /// The access token is missing or expired but a session cookie suggests a refresh could
    /// sign the browser back in (the page's script tries once).
    pub stale: bool,
    /// The browser session (the `sid` cookie; new when the request had none).
    pub visitor: api::Visitor,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let auth = authenticate(app, parts, CsrfPolicy::CheckedByCaller);
        let existing = jar
            .get(CSRF_COOKIE)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty());
        let stale = matches!(auth, Err(ApiError::Unauthorized { .. })) && existing.is_some();
        Ok(Viewer {
            auth,
            new_csrf: existing.is_none(),
            csrf: existing.unwrap_or_else(api::auth::tokens::random_token),
            stale,
            visitor: api::Visitor::from_cookies(&jar),
        })
    }
}

impl Viewer {
    pub fn principal(&self) -> Option<&Principal> {
        self.auth.as_ref().ok()
    }

    /// Who shops on this page and whose cart it is: a signed-in shopper, or the browser session
    /// of anyone not signed in. A signed-in seller, admin or analyst, or a banned account, gets
    /// the sentence saying why not.
    pub fn buyer(&self) -> Result<(domain::Actor, domain::CartOwner), String> {
        let actor = match &self.auth {
            Ok(principal) if principal.account.role == Role::Shopper => principal.actor(),
            Ok(principal) => {
                return Err(format!(
                    "You are signed in as {} ({}): sellers, admins and analysts buy nothing with their working accounts. Sign out and shop as a shopper.",
                    principal.account.email,
                    api::role_name(principal.account.role)
                ));
            }
            Err(ApiError::Banned(reason)) => {
                return Err(format!("This account is banned: {reason}"));
            }
            Err(_) => domain::Actor::Anonymous {
                session: self.visitor.session,
            },
        };
        let owner = domain::CartOwner::of(&actor).map_err(|e| e.to_string())?;
        Ok((actor, owner))
    }

    /// Adds the CSRF cookie when this page minted it (so its forms can be posted).
    pub fn keep_csrf(&self, jar: CookieJar, secure: bool) -> CookieJar {
        if !self.new_csrf {
            return jar;
        }
        jar.add(
            Cookie::build((CSRF_COOKIE, self.csrf.clone()))
                .path("/")
                .secure(secure)
                .same_site(SameSite::Lax)
                .build(),
        )
    }

    /// The signed-in account if it may use `portal`; otherwise the response to send instead:
    /// a redirect to the portal's sign-in, or a page saying why not (banned, another role).
    pub fn require(
        &self,
        app: &AppState,
        portal: Portal,
        here: &str,
    ) -> Result<&Principal, Response> {
        match &self.auth {
            Ok(principal) if portal.roles().contains(&principal.account.role) => Ok(principal),
            Ok(principal) => Err(crate::pages::refused_page(
                app,
                self,
                portal,
                &format!(
                    "You are signed in as {} ({}), which cannot use the {} portal. Sign out to switch accounts.",
                    principal.account.email,
                    api::role_name(principal.account.role),
                    portal.name()
                ),
            )),
            Err(ApiError::Banned(reason)) => Err(crate::pages::refused_page(
                app,
                self,
                portal,
                &format!("This account is banned: {reason}"),
            )),
            Err(_) => Err(
                Redirect::to(&format!("{}?next={}", portal.login_path(), encode(here)))
                    .into_response(),
            ),
        }
    }
}

impl Viewer {
    /// The signed-in admin; analysts may open the admin portal's dashboard but manage nothing,
    /// so they (and everyone else) get what [`Viewer::require`] or a 403 page gives them.
    pub fn require_admin(&self, app: &AppState, here: &str) -> Result<&Principal, Response> {
        let principal = self.require(app, Portal::Admin, here)?;
        if principal.account.role != Role::Admin {
            return Err(crate::pages::refused_page(
                app,
                self,
                Portal::Admin,
                "Only admins manage accounts and the catalog.",
            ));
        }
        Ok(principal)
    }
}

/// Percent-encodes a value (a path, a search) for a query parameter; `/` is kept readable.
pub fn encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a local path only (never another site).
pub fn safe_next(next: &str, portal: Portal) -> String {
    // Browsers drop tabs and newlines from URLs ("/\t/evil" becomes "//evil"), so no control
    // character or space passes either.
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        next.to_string()
    } else {
        portal.home().to_string()
    }
}

/// A form with no fields but its CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct Empty {}

/// The answer to a form whose CSRF token is missing or wrong.
fn csrf_refused() -> Response {
    (
        axum::http::StatusCode::FORBIDDEN,
        "This form expired or came from another site. Go back, reload the page and send it again.",
    )
        .into_response()
}

/// A form post whose hidden `csrf_token` field matches the CSRF cookie. Any other post is
/// answered 403 before the handler runs.
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct WithToken<T> {
    #[serde(default)]
    csrf_token: String,
    #[serde(flatten)]
    form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;
    async fn from_request(request: Request, app: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(request.headers());
        let Form(posted) = Form::<WithToken<T>>::from_request(request, app)
            .await
            .map_err(|e| (axum::http::StatusCode::BAD_REQUEST, e.body_text()).into_response())?;
        if !csrf_matches(&jar, Some(&posted.csrf_token)) {
            return Err(csrf_refused());
        }
        Ok(CsrfForm(posted.form))
    }
}

/// A form post that may carry files (`enctype="multipart/form-data"`), checked like [`CsrfForm`].
/// Text fields fill `form`; repeated fields (checkbox lists) are in `lists`; each non-empty file is
/// in `files` with its field name. A plain url-encoded post is accepted too (no files).
pub struct CsrfMultipart<T> {
    pub form: T,
    pub lists: Vec<(String, String)>,
    pub files: Vec<(String, bytes::Bytes)>,
}

impl<T> CsrfMultipart<T> {
    /// Every value posted under `name`, in form order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.lists
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The files posted under `name`, in form order.
    pub fn files(&self, name: &str) -> Vec<bytes::Bytes> {
        self.files
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

impl<T> CsrfMultipart<T> {
    /// An image field of a form: a new file in `file_field` replaces the image (uploaded for
    /// `owner`), `remove == "on"` (a checkbox) removes it, otherwise `current` stays.
    pub async fn replaced_image(
        &self,
        app: &AppState,
        owner: api::media::UploadOwner,
        file_field: &str,
        remove: &str,
        current: Option<domain::MediaId>,
    ) -> Result<Option<domain::MediaId>, ApiError> {
        match self.files(file_field).into_iter().next() {
            Some(file) => Ok(Some(api::media::upload(app, owner, file).await?.id)),
            None if remove == "on" => Ok(None),
            None => Ok(current),
        }
    }
}

/// The most a form with files may send: a few images at the upload limit.
pub const MAX_FORM_BYTES: usize = 3 * api::media::MAX_UPLOAD_BYTES + 1024 * 1024;

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfMultipart<T> {
    type Rejection = Response;
    async fn from_request(request: Request, app: &AppState) -> Result<Self, Response> {
        use axum::extract::Multipart;
        use axum::http::StatusCode;
        let jar = CookieJar::from_headers(request.headers());
        let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
        let is_multipart = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let mut lists = Vec::new();
        let mut files = Vec::new();
        if is_multipart {
            let mut multipart = Multipart::from_request(request, app)
                .await
                .map_err(|e| bad(e.body_text()))?;
            while let Some(field) = multipart.next_field().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "Too much at once: send at most {} MB of images per save.",
                            MAX_FORM_BYTES / (1024 * 1024)
                        ),
                    )
                        .into_response()
                } else {
                    bad(e.body_text())
                }
            })? {
                let name = field.name().unwrap_or_default().to_string();
                if field.file_name().is_some() {
                    let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                    if !bytes.is_empty() {
                        files.push((name, bytes));
                    }
                } else {
                    let text = field.text().await.map_err(|e| bad(e.body_text()))?;
                    lists.push((name, text));
                }
            }
        } else {
            let bytes = bytes::Bytes::from_request(request, app)
                .await
                .map_err(|e| bad(e.body_text()))?;
            lists = serde_urlencoded::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
        }
        // The form itself takes each field's last value.
        let encoded = serde_urlencoded::to_string(&lists).map_err(|e| bad(e.to_string()))?;
        let posted: WithToken<T> =
            serde_urlencoded::from_str(&encoded).map_err(|e| bad(e.to_string()))?;
        if !csrf_matches(&jar, Some(&posted.csrf_token)) {
            return Err(csrf_refused());
        }
        Ok(CsrfMultipart {
            form: posted.form,
            lists,
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/account", Portal::Shop), "/account");
        assert_eq!(safe_next("//evil.example", Portal::Shop), "/");
        assert_eq!(safe_next("https://evil.example", Portal::Seller), "/seller");
        assert_eq!(safe_next("/\\evil.example", Portal::Admin), "/admin");
        assert_eq!(safe_next("/\t/evil.example", Portal::Shop), "/");
        assert_eq!(safe_next("/\n/evil.example", Portal::Shop), "/");
        assert_eq!(encode("/products/a b?x=1"), "/products/a%20b%3Fx%3D1");
    }
}
