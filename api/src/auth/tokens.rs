//! Access tokens (JWT, HS256 only, 15 minutes) and rotating refresh tokens (opaque, 7 days,
//! stored hashed in the key-value store, grouped in families; reusing a rotated token revokes
//! its whole family).

use crate::error::ApiError;
use crate::kv::KeyValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::{AccountId, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const ISSUER: &str = "marketplace";

/// What an access token says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: uuid::Uuid,
    pub role: Role,
    /// The account's session epoch when issued; a password reset moves it on.
    pub ep: u32,
    /// The refresh-token family of this session, so signing out can end it.
    pub fam: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// The signing key. HS256 is the only algorithm accepted: a token naming another (or `none`)
/// is refused before its signature is looked at.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn access_token(
        &self,
        account: AccountId,
        role: Role,
        epoch: u32,
        family: &str,
    ) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: account.0,
            role,
            ep: epoch,
            fam: family.to_string(),
            iat: now,
            exp: now + ACCESS_TTL.as_secs() as i64,
            iss: ISSUER.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    /// The claims of a token signed with this key, expired or not: for signing out, which must
    /// work after the access token has lapsed.
    pub fn claims_even_if_expired(&self, token: &str) -> Option<Claims> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The claims of a valid, unexpired token signed with this key.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let message = match e.kind() {
                    ErrorKind::ExpiredSignature => "your session has expired; sign in again",
                    _ => "the access token is not valid; sign in again",
                };
                ApiError::Unauthorized {
                    code: "invalid_token",
                    message: message.into(),
                }
            })
    }
}

/// The SHA-256 of a bearer secret, in hex: what the store keeps instead of the secret.
pub(crate) fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random secret, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps for one live refresh token (under the hash of the token).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub account: AccountId,
    pub family: String,
    pub epoch: u32,
}

fn live_key(token: &str) -> String {
    format!("refresh:{}", digest(token))
}

fn used_key(token: &str) -> String {
    format!("refresh-used:{}", digest(token))
}

fn family_key(family: &str) -> String {
    format!("refresh-family:{family}")
}

/// Starts a new family (a sign-in); returns the family id and its first token.
pub async fn new_family(
    kv: &dyn KeyValue,
    account: AccountId,
    epoch: u32,
) -> Result<(String, String), ApiError> {
    let family = random_token();
    kv.set(&family_key(&family), &account.to_string(), REFRESH_TTL)
        .await?;
    let record = RefreshRecord {
        account,
        family: family.clone(),
        epoch,
    };
    let token = issue(kv, record).await?;
    Ok((family, token))
}

/// Ends a family: none of its refresh tokens works any more.
pub async fn revoke_family(kv: &dyn KeyValue, family: &str) -> Result<(), ApiError> {
    kv.delete(&family_key(family)).await?;
    Ok(())
}

async fn issue(kv: &dyn KeyValue, record: RefreshRecord) -> Result<String, ApiError> {
    let token = random_token();
    let value = serde_json::to_string(&record).map_err(|e| ApiError::Internal(e.to_string()))?;
    kv.set(&live_key(&token), &value, REFRESH_TTL).await?;
    Ok(token)
}

fn revoked(message: &str) -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_refresh_token",
        message: message.into(),
    }
}

/// Trades a refresh token for the next one of its family. The old token is taken in one atomic
/// step, so of two requests racing with it one wins; presenting it again afterwards is a reuse,
/// which revokes the family (whoever holds the newer token is signed out too).
pub async fn rotate(kv: &dyn KeyValue, token: &str) -> Result<(RefreshRecord, String), ApiError> {
    let Some(value) = kv.take(&live_key(token)).await? else {
        if let Some(family) = kv.get(&used_key(token)).await? {
            kv.delete(&family_key(&family)).await?;
            tracing::warn!("a rotated refresh token was used again; its family is revoked");
            return Err(revoked(
                "this session was ended because its refresh token was used twice; sign in again",
            ));
        }
        return Err(revoked(
            "the refresh token is unknown or expired; sign in again",
        ));
    };
    let record: RefreshRecord =
        serde_json::from_str(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
    kv.set(&used_key(token), &record.family, REFRESH_TTL)
        .await?;
    if kv.get(&family_key(&record.family)).await?.is_none() {
        return Err(revoked("this session was signed out; sign in again"));
    }
    kv.set(
        &family_key(&record.family),
        &record.account.to_string(),
        REFRESH_TTL,
    )
    .await?;
    let next = issue(kv, record.clone()).await?;
    Ok((record, next))
}

/// Ends the family of `token` (sign-out). Unknown tokens are ignored: signing out twice is fine.
pub async fn revoke(kv: &dyn KeyValue, token: &str) -> Result<(), ApiError> {
    if let Some(value) = kv.take(&live_key(token)).await?
        && let Ok(record) = serde_json::from_str::<RefreshRecord>(&value)
    {
        kv.delete(&family_key(&record.family)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn access_tokens_verify_and_forgeries_do_not() {
        let account = AccountId(uuid::Uuid::from_u128(7));
        let token = keys()
            .access_token(account, Role::Seller, 3, "fam")
            .unwrap();
        let claims = keys().verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.role, claims.ep),
            (account.0, Role::Seller, 3)
        );

        let other = TokenKeys::new(b"another secret, another marketplace");
        assert!(other.verify(&token).is_err(), "signed with another key");

        // Same claims, `alg: none`, no signature.
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            keys()
                .verify(&format!("{none_header}.{}.", parts[1]))
                .is_err(),
            "alg none"
        );
        // Same claims and key, another algorithm (HS512).
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(keys().verify(&hs512).is_err(), "algorithm switching");
        // A claim changed after signing (role escalation).
        let mut forged: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        forged["role"] = "admin".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(
            keys()
                .verify(&format!("{}.{forged}.{}", parts[0], parts[2]))
                .is_err()
        );
        // Expired.
        let expired = Claims {
            exp: Utc::now().timestamp() - 60,
            iat: Utc::now().timestamp() - 960,
            ..claims
        };
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &expired,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        let error = keys().verify(&expired).unwrap_err();
        assert!(error.to_string().contains("expired"), "{error}");
    }

    #[tokio::test]
    async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
        let kv = MemoryKv::new();
        let account = AccountId(uuid::Uuid::from_u128(7));
        let (_, first) = new_family(&kv, account, 0).await.unwrap();
        let (record, second) = rotate(&kv, &first).await.unwrap();
        assert_eq!(record.account, account);
        let (_, third) = rotate(&kv, &second).await.unwrap();
        // The stolen `first` is replayed: refused, and the family is gone for everyone.
        assert!(rotate(&kv, &first).await.is_err());
        let error = rotate(&kv, &third).await.unwrap_err();
        assert!(matches!(error, ApiError::Unauthorized { .. }), "{error:?}");
        assert!(rotate(&kv, "made-up").await.is_err());

        // Sign-out ends a family.
        let (family, token) = new_family(&kv, account, 0).await.unwrap();
        let (_, next) = rotate(&kv, &token).await.unwrap();
        revoke(&kv, &next).await.unwrap();
        assert!(rotate(&kv, &next).await.is_err());
        revoke(&kv, &next).await.unwrap();

        // So does revoking it by id (signing out with the access token's `fam`).
        let (family2, token) = new_family(&kv, account, 0).await.unwrap();
        assert_ne!(family, family2);
        revoke_family(&kv, &family2).await.unwrap();
        assert!(rotate(&kv, &token).await.is_err());
    }
}
