//! One-time codes sent by e-mail (sign-up and password reset), with the rules of the issue:
//! 6 digits from a CSPRNG, valid 5 minutes, one send per 60 s, at most 3 sends per hour (the
//! fourth locks the e-mail for an hour), 3 wrong codes lock the e-mail for 30 minutes, and a
//! constant-time comparison. Everything lives in the key-value store under the e-mail.

use crate::error::ApiError;
use crate::kv::KeyValue;
use rand::Rng;
use std::time::Duration;
use subtle::ConstantTimeEq;

pub const VALID_FOR: Duration = Duration::from_secs(5 * 60);
pub const COOLDOWN: Duration = Duration::from_secs(60);
pub const SENDS_PER_HOUR: u64 = 3;
pub const SEND_LOCK: Duration = Duration::from_secs(3600);
pub const WRONG_CODES: u64 = 3;
pub const WRONG_CODE_LOCK: Duration = Duration::from_secs(30 * 60);

/// What a code is for; each purpose has its own code, the locks are per e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignUp,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignUp => "signup",
            Purpose::Reset => "reset",
        }
    }
}

fn lock_key(email: &str) -> String {
    format!("otp-lock:{email}")
}

async fn refuse_if_locked(kv: &dyn KeyValue, email: &str) -> Result<(), ApiError> {
    if let Some(left) = kv.time_to_live(&lock_key(email)).await? {
        return Err(ApiError::too_many(
            format!(
                "codes for this e-mail are locked for {} more minutes",
                left.as_secs().div_ceil(60).max(1)
            ),
            left,
        ));
    }
    Ok(())
}

/// Makes a new code for `email`, if the send rules allow one now. The caller mails it.
pub async fn issue(kv: &dyn KeyValue, purpose: Purpose, email: &str) -> Result<String, ApiError> {
    refuse_if_locked(kv, email).await?;
    let cooldown = format!("otp-cooldown:{}:{email}", purpose.as_str());
    if !kv.set_if_absent(&cooldown, "1", COOLDOWN).await? {
        let left = kv.time_to_live(&cooldown).await?.unwrap_or(COOLDOWN);
        return Err(ApiError::too_many(
            format!(
                "a code was sent moments ago; ask again in {} s",
                left.as_secs().max(1)
            ),
            left,
        ));
    }
    let sends = kv
        .increment(&format!("otp-sends:{email}"), Duration::from_secs(3600))
        .await?;
    if sends > SENDS_PER_HOUR {
        kv.set(&lock_key(email), "sends", SEND_LOCK).await?;
        return Err(ApiError::too_many(
            "too many codes were sent to this e-mail; it is locked for an hour",
            SEND_LOCK,
        ));
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    kv.set(
        &format!("otp:{}:{email}", purpose.as_str()),
        &code,
        VALID_FOR,
    )
    .await?;
    Ok(code)
}

/// Checks a code; a right code is used up, a wrong one counts towards the lock.
pub async fn verify(
    kv: &dyn KeyValue,
    purpose: Purpose,
    email: &str,
    code: &str,
) -> Result<(), ApiError> {
    refuse_if_locked(kv, email).await?;
    let key = format!("otp:{}:{email}", purpose.as_str());
    let stored = kv.get(&key).await?;
    let matches = stored
        .as_deref()
        .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(code.trim().as_bytes())));
    // A right code is taken in one step: of two requests racing with it, one wins.
    if matches && kv.take(&key).await?.is_some() {
        kv.delete(&format!("otp-fails:{email}")).await?;
        return Ok(());
    }
    let fails = kv
        .increment(&format!("otp-fails:{email}"), WRONG_CODE_LOCK)
        .await?;
    if fails >= WRONG_CODES {
        kv.set(&lock_key(email), "wrong-codes", WRONG_CODE_LOCK)
            .await?;
        kv.delete(&key).await?;
        kv.delete(&format!("otp-fails:{email}")).await?;
        return Err(ApiError::too_many(
            "too many wrong codes; codes for this e-mail are locked for 30 minutes",
            WRONG_CODE_LOCK,
        ));
    }
    let message = if stored.is_none() {
        "this code has expired or was never sent; ask for a new one".to_string()
    } else {
        format!("wrong code; {} attempt(s) left", WRONG_CODES - fails)
    };
    Err(ApiError::Invalid {
        message: format!("otp: {message}"),
        fields: std::collections::BTreeMap::from([("otp".to_string(), message)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn retry_after(e: ApiError) -> u64 {
        match e {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => retry_after_secs,
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn codes_are_six_digits_single_use_and_per_purpose() {
        let kv = MemoryKv::new();
        let code = issue(&kv, Purpose::SignUp, "a@x.com").await.unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            verify(&kv, Purpose::Reset, "a@x.com", &code).await.is_err(),
            "a sign-up code does not reset"
        );
        verify(&kv, Purpose::SignUp, "a@x.com", &code)
            .await
            .unwrap();
        assert!(
            verify(&kv, Purpose::SignUp, "a@x.com", &code)
                .await
                .is_err(),
            "used up"
        );
    }

    #[tokio::test]
    async fn a_resend_waits_for_the_cooldown_and_the_fourth_send_locks_for_an_hour() {
        let kv = MemoryKv::new();
        issue(&kv, Purpose::SignUp, "a@x.com").await.unwrap();
        let wait = retry_after(issue(&kv, Purpose::SignUp, "a@x.com").await.unwrap_err());
        assert!((59..=60).contains(&wait), "{wait}");
        for _ in 0..2 {
            kv.delete("otp-cooldown:signup:a@x.com").await.unwrap(); // as if 60 s had passed
            issue(&kv, Purpose::SignUp, "a@x.com").await.unwrap();
        }
        kv.delete("otp-cooldown:signup:a@x.com").await.unwrap();
        let locked = retry_after(issue(&kv, Purpose::SignUp, "a@x.com").await.unwrap_err());
        assert!(locked > 3500, "{locked}");
        kv.delete("otp-cooldown:reset:a@x.com").await.unwrap();
        assert!(
            issue(&kv, Purpose::Reset, "a@x.com").await.is_err(),
            "the lock is per e-mail"
        );
        assert!(
            issue(&kv, Purpose::SignUp, "b@x.com").await.is_ok(),
            "and only that e-mail"
        );
    }

    #[tokio::test]
    async fn three_wrong_codes_lock_the_email_for_thirty_minutes() {
        let kv = MemoryKv::new();
        let code = issue(&kv, Purpose::SignUp, "a@x.com").await.unwrap();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..2 {
            assert!(matches!(
                verify(&kv, Purpose::SignUp, "a@x.com", wrong).await,
                Err(ApiError::Invalid { .. })
            ));
        }
        let locked = retry_after(
            verify(&kv, Purpose::SignUp, "a@x.com", wrong)
                .await
                .unwrap_err(),
        );
        assert!((1790..=1800).contains(&locked), "{locked}");
        let still = verify(&kv, Purpose::SignUp, "a@x.com", &code)
            .await
            .unwrap_err();
        assert!(
            matches!(still, ApiError::TooManyRequests { .. }),
            "even the right code waits out the lock"
        );
    }
}
