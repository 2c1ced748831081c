//! Sign-up (with the e-mailed code), sign-in, sign-out and password reset pages. Each form posts
//! to the portal, which runs the same flows as the JSON API (`api::auth::flows`) and answers with
//! a redirect, or the form again with what was typed and the errors next to their fields.

use crate::chrome::Chrome;
use crate::session::{CsrfForm, Portal, Viewer, safe_next};
use api::auth::{self, flows};
use api::{ApiError, AppState, ClientAddr, Visitor};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use std::collections::BTreeMap;

pub enum Step {
    SignUp,
    Verify,
    Login,
    Forgot,
    Reset,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth.html")]
pub struct AuthPage {
    chrome: Chrome,
    portal: &'static str,
    prefix: &'static str,
    heading: String,
    step: Step,
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    message: Option<String>,
    notice: Option<String>,
    next: String,
}

impl AuthPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn error(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }
}

/// Renders a form page; `error` puts a failed attempt's message and field errors on it.
fn page(
    app: &AppState,
    viewer: &Viewer,
    portal: Portal,
    step: Step,
    values: BTreeMap<String, String>,
    error: Option<&ApiError>,
    notice: Option<String>,
) -> Response {
    let heading = match (&step, portal) {
        (Step::SignUp, Portal::Seller) => "Start selling",
        (Step::SignUp, _) => "Create your account",
        (Step::Verify, _) => "Check your e-mail",
        (Step::Login, Portal::Seller) => "Seller sign-in",
        (Step::Login, Portal::Admin) => "Admin sign-in",
        (Step::Login, _) => "Sign in",
        (Step::Forgot, _) => "Forgot your password?",
        (Step::Reset, _) => "Choose a new password",
    };
    let mut errors = error.map(ApiError::field_errors).unwrap_or_default();
    let message = error.map(|e| {
        if errors.is_empty() {
            capitalize(&e.public_message())
        } else {
            "Please correct the fields marked below.".to_string()
        }
    });
    // An e-mail that is taken belongs next to the e-mail field.
    if let Some(ApiError::Conflict(m)) = error {
        errors.insert("email".into(), m.clone());
    }
    let status = error.map_or(StatusCode::OK, |e| e.status());
    let next = values.get("next").cloned().unwrap_or_default();
    let page = AuthPage {
        chrome: Chrome::with(&app.state(), portal.name(), viewer),
        portal: portal.name(),
        prefix: portal.prefix(),
        heading: heading.to_string(),
        step,
        values,
        errors,
        message,
        notice,
        next,
    };
    let jar = viewer.keep_csrf(CookieJar::new(), app.config.secure_cookies);
    let mut response = (status, jar, page).into_response();
    if let Some(ApiError::TooManyRequests {
        retry_after_secs, ..
    }) = error
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
    }
    response
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            first.to_uppercase().chain(chars).collect::<String>()
                + if text.ends_with('.') { "" } else { "." }
        }
        None => String::new(),
    }
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[derive(Deserialize, Default)]
pub struct EmailQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    notice: String,
}

fn notice_text(code: &str) -> Option<String> {
    match code {
        "reset" => Some(
            "Your password is changed and every device was signed out. Sign in with the new one."
                .into(),
        ),
        "resent" => Some("A new code is on its way.".into()),
        "signed-out" => Some("You are signed out.".into()),
        _ => None,
    }
}

pub async fn signup_form(State(app): State<AppState>, viewer: Viewer, portal: Portal) -> Response {
    page(
        &app,
        &viewer,
        portal,
        Step::SignUp,
        BTreeMap::new(),
        None,
        None,
    )
}

#[derive(Deserialize)]
pub struct SignUpForm {
    name: String,
    email: String,
    password: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    country: String,
}

pub async fn signup(
    State(app): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    portal: Portal,
    CsrfForm(form): CsrfForm<SignUpForm>,
) -> Response {
    let role = match portal {
        Portal::Seller => domain::Role::Seller,
        _ => domain::Role::Shopper,
    };
    let kept = values(&[
        ("name", &form.name),
        ("email", &form.email),
        ("phone", &form.phone),
        ("country", &form.country),
    ]);
    let registration = flows::Registration {
        name: form.name,
        email: form.email.clone(),
        password: form.password,
        role,
        phone: Some(form.phone).filter(|p| !p.trim().is_empty()),
        country: Some(form.country).filter(|c| !c.trim().is_empty()),
    };
    match flows::start_sign_up(&app, registration, &client).await {
        Ok(()) => Redirect::to(&format!(
            "{}/signup/verify?email={}",
            portal.prefix(),
            crate::session::encode(form.email.trim())
        ))
        .into_response(),
        Err(e) => page(&app, &viewer, portal, Step::SignUp, kept, Some(&e), None),
    }
}

pub async fn verify_form(
    State(app): State<AppState>,
    viewer: Viewer,
    portal: Portal,
    Query(q): Query<EmailQuery>,
) -> Response {
    page(
        &app,
        &viewer,
        portal,
        Step::Verify,
        values(&[("email", q.email.trim())]),
        None,
        notice_text(&q.notice),
    )
}

#[derive(Deserialize)]
pub struct VerifyForm {
    email: String,
    otp: String,
}

pub async fn verify(
    State(app): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    portal: Portal,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Response {
    let visitor = Visitor::from_cookies(&jar);
    match flows::finish_sign_up(&app, &form.email, &form.otp, &client, visitor.session).await {
        Ok(session) => {
            api::orders::adopt_visitor_cart(&app, &session.account, &jar).await;
            let jar = auth::set_session(jar, &session, app.config.secure_cookies);
            let to = match portal {
                Portal::Seller => "/seller/onboarding",
                _ => "/account?welcome=1",
            };
            (jar, Redirect::to(to)).into_response()
        }
        Err(e) => page(
            &app,
            &viewer,
            portal,
            Step::Verify,
            values(&[("email", &form.email)]),
            Some(&e),
            None,
        ),
    }
}

#[derive(Deserialize)]
pub struct ResendForm {
    email: String,
}

pub async fn resend(
    State(app): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    portal: Portal,
    CsrfForm(form): CsrfForm<ResendForm>,
) -> Response {
    match flows::resend_sign_up_code(&app, &form.email, &client).await {
        Ok(()) => Redirect::to(&format!(
            "{}/signup/verify?email={}&notice=resent",
            portal.prefix(),
            crate::session::encode(form.email.trim())
        ))
        .into_response(),
        Err(e) => page(
            &app,
            &viewer,
            portal,
            Step::Verify,
            values(&[("email", &form.email)]),
            Some(&e),
            None,
        ),
    }
}

pub async fn login_form(
    State(app): State<AppState>,
    viewer: Viewer,
    portal: Portal,
    Query(q): Query<EmailQuery>,
) -> Response {
    let values = values(&[("email", &q.email), ("next", &q.next)]);
    page(
        &app,
        &viewer,
        portal,
        Step::Login,
        values,
        None,
        notice_text(&q.notice),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(app): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    portal: Portal,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    match flows::sign_in(&app, &form.email, &form.password, portal.roles(), &client).await {
        Ok(session) => {
            api::orders::adopt_visitor_cart(&app, &session.account, &jar).await;
            let jar = auth::set_session(jar, &session, app.config.secure_cookies);
            (jar, Redirect::to(&safe_next(&form.next, portal))).into_response()
        }
        Err(e) => page(
            &app,
            &viewer,
            portal,
            Step::Login,
            values(&[("email", &form.email), ("next", &form.next)]),
            Some(&e),
            None,
        ),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    portal: String,
}

/// Signs out: the session's refresh family ends (found through the access token, which names
/// it even after it has expired) and the cookies are cleared.
pub async fn logout(
    State(app): State<AppState>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<LogoutForm>,
) -> Response {
    let access = jar.get(auth::ACCESS_COOKIE).map(|c| c.value().to_string());
    if let Err(e) = flows::sign_out(&app, None, access.as_deref()).await {
        tracing::warn!(error = %e, "the session could not be ended in the key-value store; cookies cleared anyway");
    }
    let home = match form.portal.as_str() {
        "seller" => "/seller/login?notice=signed-out",
        "admin" => "/admin/login?notice=signed-out",
        _ => "/login?notice=signed-out",
    };
    (auth::clear_session(jar), Redirect::to(home)).into_response()
}

pub async fn forgot_form(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<EmailQuery>,
) -> Response {
    page(
        &app,
        &viewer,
        Portal::Shop,
        Step::Forgot,
        values(&[("email", &q.email)]),
        None,
        None,
    )
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(app): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Response {
    match flows::forgot_password(&app, &form.email, &client).await {
        Ok(()) => Redirect::to(&format!(
            "/reset?email={}",
            crate::session::encode(form.email.trim())
        ))
        .into_response(),
        Err(e) => page(
            &app,
            &viewer,
            Portal::Shop,
            Step::Forgot,
            values(&[("email", &form.email)]),
            Some(&e),
            None,
        ),
    }
}

pub async fn reset_form(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(q): Query<EmailQuery>,
) -> Response {
    page(
        &app,
        &viewer,
        Portal::Shop,
        Step::Reset,
        values(&[("email", q.email.trim())]),
        None,
        None,
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    email: String,
    otp: String,
    new_password: String,
}

pub async fn reset(
    State(app): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Response {
    let kept = values(&[("email", &form.email)]);
    // Check the password rules before the code is spent on a password that would be refused.
    let email = form.email.trim().to_lowercase();
    if let Err(e) = auth::password::check_rules("new_password", &form.new_password, Some(&email)) {
        return page(
            &app,
            &viewer,
            Portal::Shop,
            Step::Reset,
            kept,
            Some(&e),
            None,
        );
    }
    let result = async {
        let token = flows::verify_reset(&app, &form.email, &form.otp, &client).await?;
        flows::reset_password(&app, &token, &form.new_password).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!(
            "/login?notice=reset&email={}",
            crate::session::encode(&email)
        ))
        .into_response(),
        Err(e) => page(
            &app,
            &viewer,
            Portal::Shop,
            Step::Reset,
            kept,
            Some(&e),
            None,
        ),
    }
}
