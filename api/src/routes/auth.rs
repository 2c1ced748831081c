//! `/api/auth/*`: sign-up with an e-mailed code, sign-in, refresh, sign-out and passwords.

use crate::app::AppState;
use crate::auth::{
    self, CSRF_HEADER, CurrentUser, REFRESH_COOKIE, Registration, SignedIn, csrf_matches, flows,
};
use crate::error::{ApiError, ErrorBody};
use crate::request::{ClientAddr, Visitor};
use crate::views::AccountView;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::cookie::CookieJar;
use domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new session. Browsers also get it as cookies (`access_token`, `refresh_token`,
/// `csrf_token`); API clients use the tokens from the body.
#[derive(Serialize, ToSchema)]
pub(super) struct SessionBody {
    account: AccountView,
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

fn signed_in(app: &AppState, jar: CookieJar, session: SignedIn) -> (CookieJar, Json<SessionBody>) {
    let jar = auth::set_session(jar, &session, app.config.secure_cookies);
    let body = SessionBody {
        account: AccountView::build(&app.state(), &session.account),
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        token_type: "Bearer",
        expires_in: auth::tokens::ACCESS_TTL.as_secs(),
    };
    (jar, Json(body))
}

#[derive(Serialize, ToSchema)]
pub(super) struct Accepted {
    message: String,
}

fn accepted(message: &str) -> (StatusCode, Json<Accepted>) {
    (
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: message.into(),
        }),
    )
}

/// Starts a sign-up: checks the form and mails a 6-digit code to the address.
#[utoipa::path(post, path = "/api/auth/register", tag = "accounts", request_body = Registration,
    responses((status = 202, body = Accepted), (status = 409, body = ErrorBody, description = "E-mail taken"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn register(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Json<Registration>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Json(form) = body?;
    flows::start_sign_up(&app, form, &client).await?;
    Ok(accepted(
        "a 6-digit code is on its way to your e-mail; it is valid for 5 minutes",
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailRequest {
    email: String,
}

/// Mails a new code for a sign-up that is waiting (once a minute, three times an hour).
#[utoipa::path(post, path = "/api/auth/register/resend", tag = "accounts", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn resend(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Json<EmailRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Json(request) = body?;
    flows::resend_sign_up_code(&app, &request.email, &client).await?;
    Ok(accepted("a new code is on its way"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OtpRequest {
    email: String,
    otp: String,
}

/// Finishes a sign-up with the code: the account is created and signed in.
#[utoipa::path(post, path = "/api/auth/register/verify", tag = "accounts", request_body = OtpRequest,
    responses((status = 201, body = SessionBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "Wrong or expired code"),
              (status = 429, body = ErrorBody, description = "Locked after 3 wrong codes")))]
pub(super) async fn verify(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    body: Result<Json<OtpRequest>, JsonRejection>,
) -> Result<(StatusCode, CookieJar, Json<SessionBody>), ApiError> {
    let Json(request) = body?;
    let visitor = Visitor::from_cookies(&jar);
    let session =
        flows::finish_sign_up(&app, &request.email, &request.otp, &client, visitor.session).await?;
    crate::orders::adopt_visitor_cart(&app, &session.account, &jar).await;
    let (jar, body) = signed_in(&app, jar, session);
    Ok((StatusCode::CREATED, jar, body))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginRequest {
    email: String,
    password: String,
    /// The role the client expects (the seller portal passes `seller`); another role is refused.
    #[schema(value_type = Option<String>)]
    role: Option<Role>,
}

/// Signs in with e-mail and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = SessionBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Banned, or another role"),
              (status = 429, body = ErrorBody)))]
pub(super) async fn login(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<(CookieJar, Json<SessionBody>), ApiError> {
    let Json(request) = body?;
    let session = flows::sign_in(
        &app,
        &request.email,
        &request.password,
        request.role.as_slice(),
        &client,
    )
    .await?;
    crate::orders::adopt_visitor_cart(&app, &session.account, &jar).await;
    Ok(signed_in(&app, jar, session))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshRequest {
    /// For API clients; browsers send the `refresh_token` cookie (with the CSRF header).
    refresh_token: Option<String>,
}

/// The refresh token from the body, else from the cookie (which needs the CSRF header).
fn refresh_token(
    jar: &CookieJar,
    headers: &HeaderMap,
    body: Option<RefreshRequest>,
) -> Result<Option<String>, ApiError> {
    if let Some(token) = body.and_then(|b| b.refresh_token) {
        return Ok(Some(token));
    }
    let Some(cookie) = jar.get(REFRESH_COOKIE) else {
        return Ok(None);
    };
    let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if !csrf_matches(jar, header) {
        return Err(ApiError::Csrf);
    }
    Ok(Some(cookie.value().to_string()))
}

/// Trades the refresh token for new tokens. Presenting an already-rotated token ends the whole
/// session family.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "accounts", request_body(content = RefreshRequest, description = "Optional: browsers use the cookie"),
    responses((status = 200, body = SessionBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn refresh(
    State(app): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Option<Json<RefreshRequest>>,
) -> Result<(CookieJar, Json<SessionBody>), ApiError> {
    let token = refresh_token(&jar, &headers, body.map(|Json(b)| b))?
        .ok_or_else(|| ApiError::unauthorized("no refresh token: sign in"))?;
    match flows::refresh(&app, &token).await {
        Ok(session) => {
            // A shopper whose access token had expired kept shopping in the session's cart.
            crate::orders::adopt_visitor_cart(&app, &session.account, &jar).await;
            Ok(signed_in(&app, jar, session))
        }
        Err(e) => Err(e),
    }
}

/// Signs out: the refresh token's family ends and the cookies are cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts",
    responses((status = 204, description = "Signed out"), (status = 403, body = ErrorBody)))]
pub(super) async fn logout(
    State(app): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Option<Json<RefreshRequest>>,
) -> Result<(StatusCode, CookieJar), ApiError> {
    let token = refresh_token(&jar, &headers, body.map(|Json(b)| b))?;
    let access = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
        .or_else(|| jar.get(auth::ACCESS_COOKIE).map(|c| c.value().to_string()));
    flows::sign_out(&app, token.as_deref(), access.as_deref()).await?;
    Ok((StatusCode::NO_CONTENT, auth::clear_session(jar)))
}

/// Mails a reset code. Answers 202 whether or not the e-mail has an account.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "accounts", request_body = EmailRequest,
    responses((status = 202, body = Accepted), (status = 429, body = ErrorBody)))]
pub(super) async fn forgot(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Json<EmailRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let Json(request) = body?;
    flows::forgot_password(&app, &request.email, &client).await?;
    Ok(accepted(
        "if an account has this e-mail, a code is on its way",
    ))
}

#[derive(Serialize, ToSchema)]
pub(super) struct ResetToken {
    /// Single use, valid 15 minutes.
    reset_token: String,
}

/// Trades a reset code for a reset token.
#[utoipa::path(post, path = "/api/auth/password/verify", tag = "accounts", request_body = OtpRequest,
    responses((status = 200, body = ResetToken), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(super) async fn verify_reset(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    body: Result<Json<OtpRequest>, JsonRejection>,
) -> Result<Json<ResetToken>, ApiError> {
    let Json(request) = body?;
    let reset_token = flows::verify_reset(&app, &request.email, &request.otp, &client).await?;
    Ok(Json(ResetToken { reset_token }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetRequest {
    reset_token: String,
    new_password: String,
}

/// Sets a new password with a reset token; every session of the account ends.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "accounts", request_body = ResetRequest,
    responses((status = 204, description = "Password set; signed out everywhere"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn reset(
    State(app): State<AppState>,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(request) = body?;
    flows::reset_password(&app, &request.reset_token, &request.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// Changes the password: other sessions end, this one gets new tokens.
#[utoipa::path(post, path = "/api/auth/password/change", tag = "accounts", request_body = ChangePassword,
    responses((status = 200, body = SessionBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn change_password(
    State(app): State<AppState>,
    CurrentUser(user): CurrentUser,
    jar: CookieJar,
    body: Result<Json<ChangePassword>, JsonRejection>,
) -> Result<(CookieJar, Json<SessionBody>), ApiError> {
    let Json(request) = body?;
    let session = flows::change_password(
        &app,
        &user.account,
        &request.current_password,
        &request.new_password,
    )
    .await?;
    Ok(signed_in(&app, jar, session))
}
