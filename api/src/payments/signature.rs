//! Webhook signatures exactly as Stripe makes them: the header
//! `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, checked on
//! the raw body with a timestamp tolerance. The sandbox signs its webhooks with [`sign`]; every
//! webhook, the sandbox's and Stripe's, is checked by [`verify`].

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header the signature travels in.
pub const HEADER: &str = "stripe-signature";
/// How old (or how far in the future) a signed timestamp may be: Stripe's default, 5 minutes.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("no v1 signature matches the body")]
    Mismatch,
    #[error("the signature's timestamp is outside the {TOLERANCE_SECONDS}-second tolerance")]
    Stale,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Stripe-Signature` header value for `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let signature = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

/// Checks a `Stripe-Signature` header against the raw body at `now` (unix seconds). Any of several
/// `v1` signatures may match (Stripe sends two while a secret is being rolled).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex)) => {
                signatures.push(hex::decode(hex).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = mac(secret, timestamp, body).finalize().into_bytes();
    if !signatures
        .iter()
        .any(|s| bool::from(s.as_slice().ct_eq(expected.as_slice())))
    {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    #[test]
    fn signatures_match_an_independent_implementation() {
        // Computed with Python's standard library, not with this code:
        // hmac.new(b"whsec_test_secret", b'1700000000.{"id":"evt_1","type":"payment_intent.succeeded"}',
        //          hashlib.sha256).hexdigest()
        let python = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";
        assert_eq!(
            sign(SECRET, 1_700_000_000, BODY),
            format!("t=1700000000,v1={python}")
        );
        let header = format!("t=1700000000,v1={python}");
        assert_eq!(verify(SECRET, &header, BODY, 1_700_000_100), Ok(()));
    }

    #[test]
    fn forged_stale_and_malformed_signatures_are_refused() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        let now = 1_700_000_000;
        assert_eq!(
            verify("whsec_other", &header, BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, b"{}", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, BODY, now + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, BODY, now - TOLERANCE_SECONDS - 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, "v1=abc", BODY, now),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, "t=1700000000", BODY, now),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, "t=1700000000,v1=zz", BODY, now),
            Err(SignatureError::Malformed)
        );
        // While a secret rolls, either of two signatures may match.
        let rolled = format!(
            "t=1700000000,v1={},{}",
            "00".repeat(32),
            header.replace("t=1700000000,", "")
        );
        assert_eq!(verify(SECRET, &rolled, BODY, now), Ok(()));
    }
}
