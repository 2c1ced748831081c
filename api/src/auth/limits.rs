//! Rate limits on the auth routes, counted in the key-value store per client address and per
//! e-mail (fixed windows), answering 429 with `retry-after`.

use crate::error::ApiError;
use crate::kv::KeyValue;
use std::time::Duration;

/// One limit: at most `max` requests per `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

impl Limit {
    pub const fn new(max: u64, window_secs: u64) -> Limit {
        Limit {
            max,
            window: Duration::from_secs(window_secs),
        }
    }
}

/// The limits of each auth action, per client address and per e-mail.
#[derive(Clone, Copy, Debug)]
pub struct AuthLimits {
    pub sign_up_per_ip: Limit,
    pub sign_in_per_ip: Limit,
    pub sign_in_per_email: Limit,
    pub otp_per_ip: Limit,
    pub reset_per_ip: Limit,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            sign_up_per_ip: Limit::new(20, 3600),
            sign_in_per_ip: Limit::new(60, 300),
            sign_in_per_email: Limit::new(10, 900),
            otp_per_ip: Limit::new(30, 900),
            reset_per_ip: Limit::new(20, 3600),
        }
    }
}

/// Counts one request against `limit` for `who` in the bucket `action`; 429 once over it.
pub async fn check(
    kv: &dyn KeyValue,
    action: &str,
    who: &str,
    limit: Limit,
) -> Result<(), ApiError> {
    let key = format!("rate:{action}:{who}");
    let count = kv.increment(&key, limit.window).await?;
    if count <= limit.max {
        return Ok(());
    }
    let retry_after = kv.time_to_live(&key).await?.unwrap_or(limit.window);
    Err(ApiError::too_many(
        format!(
            "too many attempts; try again in {} s",
            retry_after.as_secs().max(1)
        ),
        retry_after,
    ))
}
