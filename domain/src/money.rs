//! Money in integer minor units: never a float anywhere near a price.

use crate::DomainError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An ISO 4217 currency code such as `USD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses a three-letter upper-case code.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(DomainError::invalid(
                "currency",
                "must be a three-letter ISO 4217 code such as USD",
            ))
        }
    }

    pub fn code(&self) -> &str {
        // Only ever built from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// How many minor units make one major unit (100 cents in a dollar, 1 for yen).
    pub fn minor_digits(&self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"VND" | b"CLP" | b"ISK" => 0,
            b"BHD" | b"KWD" | b"OMR" | b"JOD" | b"TND" => 3,
            _ => 2,
        }
    }

    fn symbol(&self) -> Option<&'static str> {
        match &self.0 {
            b"USD" => Some("$"),
            b"EUR" => Some("€"),
            b"GBP" => Some("£"),
            b"JPY" => Some("¥"),
            _ => None,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// The largest price or fixed discount the marketplace takes, in minor units (a billion in a
/// two-decimal currency): a cart of 100 lines × 999 units at this price still adds up within
/// `i64`.
pub const MAX_AMOUNT: i64 = 100_000_000_000;

/// An amount of money: `amount` minor units of `currency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Parses an amount people type in major units (`24`, `24.5`, `24.50`) into minor units of
    /// `currency`; more decimals than the currency has are refused, not rounded.
    pub fn parse_major(
        text: &str,
        currency: Currency,
        field: &'static str,
    ) -> Result<Money, DomainError> {
        let text = text
            .trim()
            .trim_start_matches(['$', '€', '£'])
            .replace(',', "");
        let digits = currency.minor_digits() as usize;
        let bad = || {
            DomainError::invalid(
                field,
                format!("an amount such as 24.99 (at most {digits} decimals)"),
            )
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || fraction.len() > digits
        {
            return Err(bad());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let fraction: i64 = format!("{fraction:0<digits$}").parse().unwrap_or(0);
        whole
            .checked_mul(10_i64.pow(digits as u32))
            .and_then(|w| w.checked_add(fraction))
            .map(|amount| Money::new(amount, currency))
            .ok_or_else(bad)
    }

    /// The amount formatted for people: `$19.99`, `1,500 JPY`-style codes for currencies without a symbol.
    pub fn display(&self) -> String {
        let digits = self.currency.minor_digits();
        let scale = 10_i64.pow(digits);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        let major = group_thousands(abs / scale as u64);
        let number = if digits == 0 {
            major
        } else {
            format!(
                "{major}.{:0width$}",
                abs % scale as u64,
                width = digits as usize
            )
        };
        match self.currency.symbol() {
            Some(symbol) => format!("{sign}{symbol}{number}"),
            None => format!("{sign}{number} {}", self.currency),
        }
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn parses_what_people_type() {
        let usd = |t: &str| Money::parse_major(t, Currency::USD, "price").map(|m| m.amount);
        assert_eq!(usd("24"), Ok(2400));
        assert_eq!(usd("24.5"), Ok(2450));
        assert_eq!(usd(" $1,024.99 "), Ok(102_499));
        assert_eq!(usd(".99"), Ok(99));
        assert!(
            usd("24.999").is_err() && usd("abc").is_err() && usd("").is_err() && usd("-3").is_err()
        );
        let yen = Money::parse_major("500", Currency::parse("JPY").unwrap(), "price").unwrap();
        assert_eq!(yen.amount, 500);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_minor_units() {
        assert_eq!(Money::new(1999, Currency::USD).display(), "$19.99");
        assert_eq!(
            Money::new(123456789, Currency::EUR).display(),
            "€1,234,567.89"
        );
        assert_eq!(Money::new(-5, Currency::USD).display(), "-$0.05");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(1500, jpy).display(), "¥1,500");
        let chf = Currency::parse("CHF").unwrap();
        assert_eq!(Money::new(100, chf).display(), "1.00 CHF");
    }

    #[test]
    fn currency_codes_are_validated() {
        assert!(Currency::parse("usd").is_err());
        assert!(Currency::parse("US").is_err());
        let json = serde_json::to_string(&Money::new(5, Currency::USD)).unwrap();
        assert_eq!(json, r#"{"amount":5,"currency":"USD"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount":5,"currency":"dollars"}"#).is_err());
    }
}
