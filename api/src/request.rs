//! What a request tells about who is asking and from where.

use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use domain::{ClientContext, Device, SessionId};

/// The cookie that identifies an anonymous visitor's browser session.
pub const SESSION_COOKIE: &str = "sid";

/// An anonymous visitor, identified by the `sid` cookie (minted on first contact).
#[derive(Clone, Copy, Debug)]
pub struct Visitor {
    pub session: SessionId,
    pub is_new: bool,
}

impl Visitor {
    pub fn from_cookies(jar: &CookieJar) -> Visitor {
        let existing = jar
            .get(SESSION_COOKIE)
            .and_then(|c| c.value().parse::<SessionId>().ok());
        match existing {
            Some(session) => Visitor {
                session,
                is_new: false,
            },
            None => Visitor {
                session: SessionId(uuid::Uuid::new_v4()),
                is_new: true,
            },
        }
    }

    /// The jar with the session cookie added when it is new: HttpOnly, SameSite=Lax, one year.
    pub fn remember(&self, jar: CookieJar, secure: bool) -> CookieJar {
        if !self.is_new {
            return jar;
        }
        let cookie = Cookie::build((SESSION_COOKIE, self.session.to_string()))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::days(365))
            .build();
        jar.add(cookie)
    }
}

/// Device class from the user agent; country and city from the `x-geo-country` / `x-geo-city`
/// headers a fronting proxy or CDN sets. No IP address is kept.
pub fn client_context(headers: &HeaderMap) -> ClientContext {
    let agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let device = if agent.is_empty() {
        Device::Unknown
    } else if ["bot", "crawler", "spider", "curl", "wget"]
        .iter()
        .any(|b| agent.contains(b))
    {
        Device::Bot
    } else if agent.contains("ipad") || agent.contains("tablet") {
        Device::Tablet
    } else if agent.contains("mobi") || agent.contains("iphone") || agent.contains("android") {
        Device::Mobile
    } else {
        Device::Desktop
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 80)
            .map(str::to_string)
    };
    ClientContext {
        device,
        country: header("x-geo-country")
            .map(|c| c.to_ascii_uppercase())
            .filter(|c| c.len() == 2),
        city: header("x-geo-city"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn classifies_devices_and_reads_geo_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148"),
        );
        headers.insert("x-geo-country", HeaderValue::from_static("de"));
        headers.insert("x-geo-city", HeaderValue::from_static("Berlin"));
        let ctx = client_context(&headers);
        assert_eq!(ctx.device, Device::Mobile);
        assert_eq!(
            (ctx.country.as_deref(), ctx.city.as_deref()),
            (Some("DE"), Some("Berlin"))
        );
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) Chrome/120"),
        );
        headers.insert("x-geo-country", HeaderValue::from_static("Germany"));
        let ctx = client_context(&headers);
        assert_eq!((ctx.device, ctx.country), (Device::Desktop, None));
        assert_eq!(client_context(&HeaderMap::new()).device, Device::Unknown);
    }
}

/// The client's address, for rate limits: the peer of the TCP connection (`serve` records it).
/// Requests that arrive without one (tests through the router) share the bucket `local`.
/// A fronting proxy's `x-forwarded-for` is not trusted: anyone can set it.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string()),
        ))
    }
}
