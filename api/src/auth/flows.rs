//! The auth flows, shared by the JSON routes and the portals' forms: sign-up with an e-mailed
//! code, sign-in, refresh, sign-out, forgotten and changed passwords.

use super::otp::{self, Purpose};
use super::{limits, password, tokens};
use crate::app::AppState;
use crate::error::ApiError;
use crate::mail::Letter;
use domain::{
    Account, AccountCommand, AccountId, Actor, Command, Context, NewAccount, PasswordHash, Role,
    SessionId,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a sign-up waits for its code to be entered (codes themselves last 5 minutes; a
/// resend keeps the same pending sign-up).
const PENDING_SIGN_UP: Duration = Duration::from_secs(30 * 60);
const RESET_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// What a person fills in to sign up.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub name: String,
    pub email: String,
    pub password: String,
    /// `shopper` or `seller`.
    #[schema(value_type = String, example = "shopper")]
    pub role: Role,
    pub phone: Option<String>,
    pub country: Option<String>,
}

/// A sign-up waiting for its code, kept in the key-value store (with the password already hashed).
#[derive(Serialize, Deserialize)]
struct Pending {
    account: NewAccount,
    password_hash: PasswordHash,
}

/// A fresh session: the account and its tokens.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub account: Account,
    pub access_token: String,
    pub refresh_token: String,
    pub csrf_token: String,
}

fn pending_key(email: &str) -> String {
    format!("sign-up:{email}")
}

fn no_pending_sign_up() -> ApiError {
    ApiError::NotFound(
        "no sign-up is waiting for this e-mail (it expires after 30 minutes); sign up again".into(),
    )
}

fn parse_pending(value: &str) -> Result<Pending, ApiError> {
    serde_json::from_str(value).map_err(|e| ApiError::Internal(e.to_string()))
}

fn normalized(email: &str) -> Result<String, ApiError> {
    Ok(domain::normalize_email(email)?)
}

async fn session(
    app: &AppState,
    account: Account,
    refresh: Option<(String, String)>,
) -> Result<SignedIn, ApiError> {
    let epoch = app
        .state()
        .credentials
        .get(&account.id)
        .map_or(0, |c| c.epoch);
    let (family, refresh_token) = match refresh {
        Some(existing) => existing,
        None => tokens::new_family(app.kv.as_ref(), account.id, epoch).await?,
    };
    let access_token = app
        .tokens
        .access_token(account.id, account.role, epoch, &family)?;
    Ok(SignedIn {
        account,
        access_token,
        refresh_token,
        csrf_token: tokens::random_token(),
    })
}

/// Step one of sign-up: checks the form against the state (a taken e-mail is said now, not
/// after the code), keeps it pending and mails a code.
pub async fn start_sign_up(
    app: &AppState,
    form: Registration,
    client: &str,
) -> Result<(), ApiError> {
    limits::check(
        app.kv.as_ref(),
        "sign-up",
        client,
        app.config.auth_limits.sign_up_per_ip,
    )
    .await?;
    if !matches!(form.role, Role::Shopper | Role::Seller) {
        return Err(ApiError::Forbidden(
            "sign-up opens shopper and seller accounts; admins and analysts are created by admins"
                .into(),
        ));
    }
    let email = normalized(&form.email)?;
    password::check_rules("password", &form.password, Some(&email))?;
    let account = NewAccount {
        id: AccountId(uuid::Uuid::now_v7()),
        email: email.clone(),
        name: form.name.trim().to_string(),
        role: form.role,
        phone: form.phone.filter(|p| !p.trim().is_empty()),
        country: form
            .country
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty()),
    };
    let ctx = Context {
        actor: Actor::Anonymous {
            session: SessionId(uuid::Uuid::nil()),
        },
        at: chrono::Utc::now(),
    };
    domain::check_registration(&app.state(), &account, &ctx)?;
    let pending = Pending {
        password_hash: password::hash(&form.password).await?,
        account: account.clone(),
    };
    let value = serde_json::to_string(&pending).map_err(|e| ApiError::Internal(e.to_string()))?;
    // A sign-up waiting for its code is never replaced: otherwise anyone could re-register a
    // stranger's e-mail with their own password and have the stranger confirm it with the code.
    if !app
        .kv
        .set_if_absent(&pending_key(&email), &value, PENDING_SIGN_UP)
        .await?
    {
        return Err(ApiError::Conflict(
            "a sign-up for this e-mail is waiting for its code: enter the code we sent, or ask for a new one"
                .into(),
        ));
    }
    let code = otp::issue(app.kv.as_ref(), Purpose::SignUp, &email).await?;
    app.mailer
        .send(
            &email,
            &Letter::Activation {
                name: account.name,
                code,
            },
        )
        .await?;
    Ok(())
}

/// Step two: the code opens the account and signs it in.
pub async fn finish_sign_up(
    app: &AppState,
    email: &str,
    code: &str,
    client: &str,
    visitor: SessionId,
) -> Result<SignedIn, ApiError> {
    limits::check(
        app.kv.as_ref(),
        "otp",
        client,
        app.config.auth_limits.otp_per_ip,
    )
    .await?;
    let email = normalized(email)?;
    let key = pending_key(&email);
    if app.kv.get(&key).await?.is_none() {
        return Err(no_pending_sign_up());
    }
    otp::verify(app.kv.as_ref(), Purpose::SignUp, &email, code).await?;
    let pending = match app.kv.take(&key).await? {
        Some(value) => parse_pending(&value)?,
        None => return Err(ApiError::Conflict("this sign-up was just completed".into())),
    };
    let Pending {
        account,
        password_hash,
    } = pending;
    let id = account.id;
    app.execute(
        Actor::Anonymous { session: visitor },
        Command::Account(AccountCommand::Register {
            account,
            password_hash,
        }),
    )
    .await?;
    let account = app.state().accounts.get(&id).cloned().ok_or_else(|| {
        ApiError::Internal("a registered account is missing from the state".into())
    })?;
    let role = match account.role {
        Role::Seller => "seller",
        _ => "shopper",
    };
    if let Err(e) = app
        .mailer
        .send(
            &account.email,
            &Letter::Welcome {
                name: account.name.clone(),
                role: role.into(),
            },
        )
        .await
    {
        tracing::warn!(error = %e, "the welcome letter could not be sent; the account is open anyway");
    }
    session(app, account, None).await
}

/// Signs in with e-mail and password. `allowed` are the roles the portal signs in (seller and shopper
/// sign-ins are separate flows); empty allows every role.
pub async fn sign_in(
    app: &AppState,
    email: &str,
    password: &str,
    allowed: &[Role],
    client: &str,
) -> Result<SignedIn, ApiError> {
    let limits = app.config.auth_limits;
    limits::check(app.kv.as_ref(), "sign-in", client, limits.sign_in_per_ip).await?;
    let email = normalized(email).map_err(|_| wrong_credentials())?;
    limits::check(
        app.kv.as_ref(),
        "sign-in-email",
        &email,
        limits.sign_in_per_email,
    )
    .await?;
    let state = app.state();
    let account = state.account_by_email(&email).cloned();
    let stored = account
        .as_ref()
        .and_then(|a| state.credentials.get(&a.id))
        .map(|c| &c.password_hash);
    if !password::verify(password, stored).await {
        return Err(wrong_credentials());
    }
    let account = account.ok_or_else(wrong_credentials)?;
    if let Some(ban) = &account.banned {
        return Err(ApiError::Banned(ban.reason.clone()));
    }
    if !allowed.is_empty() && !allowed.contains(&account.role) {
        return Err(ApiError::Forbidden(format!(
            "this is {} account; use the {} sign-in",
            article(account.role),
            portal_of(account.role)
        )));
    }
    session(app, account, None).await
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Shopper => "a shopper",
        Role::Seller => "a seller",
        Role::Admin => "an admin",
        Role::Analyst => "an analyst",
    }
}

fn portal_of(role: Role) -> &'static str {
    match role {
        Role::Shopper => "shop's",
        Role::Seller => "seller portal's",
        Role::Admin | Role::Analyst => "admin portal's",
    }
}

fn wrong_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "wrong_credentials",
        message: "the e-mail or the password is wrong".into(),
    }
}

/// Trades a refresh token for a new session (the account is checked again: banned or revoked
/// sessions end here).
pub async fn refresh(app: &AppState, refresh_token: &str) -> Result<SignedIn, ApiError> {
    let (record, next) = tokens::rotate(app.kv.as_ref(), refresh_token).await?;
    let state = app.state();
    let account = state
        .accounts
        .get(&record.account)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let epoch = state.credentials.get(&account.id).map_or(0, |c| c.epoch);
    if record.epoch != epoch {
        tokens::revoke(app.kv.as_ref(), &next).await?;
        return Err(ApiError::Unauthorized {
            code: "session_revoked",
            message: "you were signed out everywhere (the password changed); sign in again".into(),
        });
    }
    if let Some(ban) = &account.banned {
        tokens::revoke(app.kv.as_ref(), &next).await?;
        return Err(ApiError::Banned(ban.reason.clone()));
    }
    session(app, account, Some((record.family, next))).await
}

/// Ends a session: the family of `refresh_token`, or of the access token's `fam` claim (which
/// still works after the access token has expired).
pub async fn sign_out(
    app: &AppState,
    refresh_token: Option<&str>,
    access_token: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(token) = refresh_token {
        tokens::revoke(app.kv.as_ref(), token).await?;
    }
    if let Some(claims) = access_token.and_then(|t| app.tokens.claims_even_if_expired(t)) {
        tokens::revoke_family(app.kv.as_ref(), &claims.fam).await?;
    }
    Ok(())
}

/// Mails a reset code if the account exists; answers the same either way. The code limits count
/// against the e-mail whether or not it has an account, so they tell nothing either.
pub async fn forgot_password(app: &AppState, email: &str, client: &str) -> Result<(), ApiError> {
    limits::check(
        app.kv.as_ref(),
        "reset",
        client,
        app.config.auth_limits.reset_per_ip,
    )
    .await?;
    let email = normalized(email)?;
    let code = otp::issue(app.kv.as_ref(), Purpose::Reset, &email).await?;
    let account = app.state().account_by_email(&email).cloned();
    if let Some(account) = account {
        app.mailer
            .send(
                &account.email,
                &Letter::Reset {
                    name: account.name,
                    code,
                },
            )
            .await?;
    }
    Ok(())
}

/// Trades a reset code for a single-use reset token (15 minutes).
pub async fn verify_reset(
    app: &AppState,
    email: &str,
    code: &str,
    client: &str,
) -> Result<String, ApiError> {
    limits::check(
        app.kv.as_ref(),
        "otp",
        client,
        app.config.auth_limits.otp_per_ip,
    )
    .await?;
    let email = normalized(email)?;
    otp::verify(app.kv.as_ref(), Purpose::Reset, &email, code).await?;
    let account = app
        .state()
        .account_by_email(&email)
        .map(|a| a.id)
        .ok_or_else(|| ApiError::NotFound("no account has this e-mail".into()))?;
    let token = tokens::random_token();
    app.kv
        .set(&reset_key(&token), &account.to_string(), RESET_TOKEN_TTL)
        .await?;
    Ok(token)
}

fn reset_key(token: &str) -> String {
    format!("reset:{}", tokens::digest(token))
}

/// Sets a new password with a reset token (used up here) and signs the account out everywhere.
pub async fn reset_password(
    app: &AppState,
    reset_token: &str,
    new_password: &str,
) -> Result<(), ApiError> {
    let account = app
        .kv
        .take(&reset_key(reset_token))
        .await?
        .and_then(|id| id.parse::<AccountId>().ok())
        .ok_or_else(|| ApiError::Unauthorized {
            code: "invalid_reset_token",
            message: "the reset token is unknown, used or expired; ask for a new code".into(),
        })?;
    let account = app
        .state()
        .accounts
        .get(&account)
        .cloned()
        .ok_or_else(|| ApiError::NotFound("the account no longer exists".into()))?;
    password::check_rules("new_password", new_password, Some(&account.email))?;
    set_password(app, &account, new_password).await
}

async fn set_password(
    app: &AppState,
    account: &Account,
    new_password: &str,
) -> Result<(), ApiError> {
    let password_hash = password::hash(new_password).await?;
    app.execute(
        Actor::Account {
            role: account.role,
            id: account.id,
        },
        Command::Account(AccountCommand::SetPassword {
            account: account.id,
            password_hash,
            revoke_sessions: true,
        }),
    )
    .await?;
    if let Err(e) = app
        .mailer
        .send(
            &account.email,
            &Letter::PasswordChanged {
                name: account.name.clone(),
            },
        )
        .await
    {
        tracing::warn!(error = %e, "the password-changed notice could not be sent");
    }
    Ok(())
}

/// Changes the password of a signed-in account: every other session ends, this one gets new
/// tokens.
pub async fn change_password(
    app: &AppState,
    account: &Account,
    current: &str,
    new_password: &str,
) -> Result<SignedIn, ApiError> {
    let stored = app
        .state()
        .credentials
        .get(&account.id)
        .map(|c| c.password_hash.clone());
    if !password::verify(current, stored.as_ref()).await {
        return Err(ApiError::Invalid {
            message: "current_password: is not your current password".into(),
            fields: std::collections::BTreeMap::from([(
                "current_password".into(),
                "is not your current password".into(),
            )]),
        });
    }
    password::check_rules("new_password", new_password, Some(&account.email))?;
    set_password(app, account, new_password).await?;
    session(app, account.clone(), None).await
}

/// Mails a new code for a sign-up that is still waiting (the send rules apply).
pub async fn resend_sign_up_code(
    app: &AppState,
    email: &str,
    client: &str,
) -> Result<(), ApiError> {
    limits::check(
        app.kv.as_ref(),
        "otp",
        client,
        app.config.auth_limits.otp_per_ip,
    )
    .await?;
    let email = normalized(email)?;
    let pending = match app.kv.get(&pending_key(&email)).await? {
        Some(value) => parse_pending(&value)?,
        None => return Err(no_pending_sign_up()),
    };
    let code = otp::issue(app.kv.as_ref(), Purpose::SignUp, &email).await?;
    app.mailer
        .send(
            &email,
            &Letter::Activation {
                name: pending.account.name,
                code,
            },
        )
        .await?;
    Ok(())
}

/// Opens an account directly, without an e-mailed code: for `marketplace admin create` (actor
/// `System`), analysts created by an admin, and the demo. The domain decides who may open which
/// role.
pub async fn create_account(
    app: &AppState,
    actor: Actor,
    name: &str,
    email: &str,
    role: Role,
    password: &str,
) -> Result<Account, ApiError> {
    create_account_at(app, actor, name, email, role, password, chrono::Utc::now()).await
}

/// Like [`create_account`], as of `at` (demo history and imports).
pub async fn create_account_at(
    app: &AppState,
    actor: Actor,
    name: &str,
    email: &str,
    role: Role,
    password: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Account, ApiError> {
    let email = normalized(email)?;
    password::check_rules("password", password, Some(&email))?;
    let id = AccountId(uuid::Uuid::now_v7());
    let password_hash = password::hash(password).await?;
    let account = NewAccount {
        id,
        email,
        name: name.to_string(),
        role,
        phone: None,
        country: None,
    };
    app.execute_at(
        actor,
        Command::Account(AccountCommand::Register {
            account,
            password_hash,
        }),
        at,
    )
    .await?;
    app.state()
        .accounts
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::Internal("a new account is missing from the state".into()))
}
