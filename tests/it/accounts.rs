//! Accounts and auth end to end: sign-up with the code from the outbox, sign-in, bans, refresh
//! rotation, resets, CSRF, rate limits, the route × role matrix, and no secret in the lake or
//! the log.

use crate::support::{PASSWORD, TestApp, User};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use domain::Role;
use ingest::Topic;
use serde_json::json;

/// The cookies a response sets, as `name=value` pairs for a `cookie` header.
fn cookies(response: &crate::support::Response) -> Vec<(String, String)> {
    response
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cookie<'a>(cookies: &'a [(String, String)], name: &str) -> &'a str {
    cookies
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn a_shopper_and_a_seller_sign_up_with_the_mailed_code_and_an_admin_bans_one() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;

    let form = json!({"name": "Ada", "email": " Ada@Example.com ", "password": PASSWORD, "role": "shopper", "country": "de"});
    let started = t.post_json("/api/auth/register", form.clone()).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert!(
        t.app.state().account_by_email("ada@example.com").is_none(),
        "no account before the code"
    );
    let code = t.mailed_code("ada@example.com");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = t
        .post_json(
            "/api/auth/register/verify",
            json!({"email": "ada@example.com", "otp": wrong}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.json()["error"]["fields"]["otp"]
            .as_str()
            .unwrap()
            .contains("2 attempt")
    );

    let verified = t
        .post_json(
            "/api/auth/register/verify",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(verified.status, StatusCode::CREATED, "{}", verified.body);
    let session = verified.json();
    assert_eq!(session["account"]["email"], "ada@example.com");
    assert_eq!(session["account"]["role"], "shopper");
    let set = cookies(&verified);
    let raw_cookies: Vec<&str> = verified
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(raw_cookies.iter().any(|c| c.starts_with("access_token=")
        && c.contains("HttpOnly")
        && c.contains("SameSite=Lax")));
    assert!(
        raw_cookies
            .iter()
            .any(|c| c.starts_with("refresh_token=") && c.contains("Path=/api/auth"))
    );
    let me = t
        .request(
            Request::get("/api/me")
                .header(
                    header::COOKIE,
                    format!("access_token={}", cookie(&set, "access_token")),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "cookies sign the browser in");
    assert!(
        !me.body.contains("argon2"),
        "no credential in the account view"
    );

    let again = t.post_json("/api/auth/register", form).await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "the e-mail is taken, case and spaces aside"
    );

    // A seller signs up and opens a shop.
    let seller_form =
        json!({"name": "Sam", "email": "sam@example.com", "password": PASSWORD, "role": "seller"});
    assert_eq!(
        t.post_json("/api/auth/register", seller_form).await.status,
        StatusCode::ACCEPTED
    );
    let code = t.mailed_code("sam@example.com");
    let seller = t
        .post_json(
            "/api/auth/register/verify",
            json!({"email": "sam@example.com", "otp": code}),
        )
        .await
        .json();
    let seller_token = seller["access_token"].as_str().unwrap().to_string();
    let shop = t
        .call(
            Method::POST,
            "/api/seller/shop",
            Some(&seller_token),
            Some(json!({"name": "Sam's Mugs", "category": "kitchen", "country": "de"})),
        )
        .await;
    assert_eq!(shop.status, StatusCode::CREATED, "{}", shop.body);
    let second = t
        .call(
            Method::POST,
            "/api/seller/shop",
            Some(&seller_token),
            Some(json!({"name": "More", "category": "kitchen", "country": "DE"})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    let as_shopper = t
        .call(
            Method::POST,
            "/api/seller/shop",
            Some(session["access_token"].as_str().unwrap()),
            Some(json!({"name": "X", "category": "kitchen", "country": "DE"})),
        )
        .await;
    assert_eq!(
        as_shopper.status,
        StatusCode::FORBIDDEN,
        "a shopper cannot open a shop"
    );
    // The seller portal's sign-in refuses a shopper account, and the other way round.
    let wrong_portal = t
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD, "role": "seller"}),
        )
        .await;
    assert_eq!(wrong_portal.status, StatusCode::FORBIDDEN);

    // An admin bans the shopper: refused at once, everywhere, and at sign-in.
    let admin = t.user("root@example.com", Role::Admin).await;
    let shopper_id = session["account"]["id"].as_str().unwrap();
    let listed = t
        .call(
            Method::GET,
            "/api/admin/users?q=ADA",
            Some(&admin.token),
            None,
        )
        .await
        .json();
    assert_eq!(listed["total"], 1);
    let ban = t
        .call(
            Method::POST,
            &format!("/api/admin/users/{shopper_id}/ban"),
            Some(&admin.token),
            Some(json!({"reason": "chargebacks"})),
        )
        .await;
    assert_eq!(ban.status, StatusCode::OK, "{}", ban.body);
    let refused = t
        .call(
            Method::GET,
            "/api/me",
            Some(session["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"]["code"], "banned");
    let login = t
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    let refresh = t
        .post_json(
            "/api/auth/refresh",
            json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(
        refresh.status,
        StatusCode::FORBIDDEN,
        "a banned account cannot refresh either"
    );
    let lifted = t
        .call(
            Method::DELETE,
            &format!("/api/admin/users/{shopper_id}/ban"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(lifted.status, StatusCode::OK);
    let login = t
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    t.app.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_family() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.user("ada@example.com", Role::Shopper).await;
    let login = t
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await
        .json();
    let first = login["refresh_token"].as_str().unwrap();
    let rotated = t
        .post_json("/api/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let second = rotated.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    let access = rotated.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        t.call(Method::GET, "/api/me", Some(&access), None)
            .await
            .status,
        StatusCode::OK
    );

    let replayed = t
        .post_json("/api/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    let after = t
        .post_json("/api/auth/refresh", json!({"refresh_token": second}))
        .await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "the whole family is revoked"
    );

    // Forged and expired access tokens are refused.
    let mut forged = access.clone();
    forged.pop();
    forged.push(if access.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        t.call(Method::GET, "/api/me", Some(&forged), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let other_key = api::auth::TokenKeys::new(b"some other marketplace's signing key!!");
    let foreign = other_key
        .access_token(
            t.app
                .state()
                .account_by_email("ada@example.com")
                .unwrap()
                .id,
            Role::Admin,
            0,
            "family",
        )
        .unwrap();
    let refused = t.call(Method::GET, "/api/me", Some(&foreign), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"]["code"], "invalid_token");
    // A token signed with this marketplace's own key, but expired a minute ago.
    let key = std::fs::read(dir.path().join("secrets/jwt.key")).unwrap();
    let now = chrono::Utc::now().timestamp();
    let ada = t
        .app
        .state()
        .account_by_email("ada@example.com")
        .unwrap()
        .id;
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": ada.0, "role": "shopper", "ep": 0, "fam": "f", "iat": now - 960, "exp": now - 60, "iss": "marketplace"}),
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap();
    let refused = t.call(Method::GET, "/api/me", Some(&expired), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let fresh = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": ada.0, "role": "shopper", "ep": 0, "fam": "f", "iat": now, "exp": now + 60, "iss": "marketplace"}),
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap();
    assert_eq!(
        t.call(Method::GET, "/api/me", Some(&fresh), None)
            .await
            .status,
        StatusCode::OK,
        "the same token unexpired is fine: the key is right"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_reset_needs_the_mailed_code_and_signs_out_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let ada = t.user("ada@example.com", Role::Shopper).await;
    let login = t
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await
        .json();

    // Unknown e-mails get the same answer and no mail.
    let unknown = t
        .post_json(
            "/api/auth/password/forgot",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    assert!(
        t.app
            .outbox
            .as_ref()
            .unwrap()
            .list(Some("nobody@example.com"), 1)
            .unwrap()
            .is_empty()
    );

    // No reset without a verified code.
    let guessed = t
        .post_json(
            "/api/auth/password/reset",
            json!({"reset_token": "guess", "new_password": "another long password"}),
        )
        .await;
    assert_eq!(guessed.status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        t.post_json(
            "/api/auth/password/forgot",
            json!({"email": "ADA@example.com"})
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    let code = t.mailed_code("ada@example.com");
    let token = t
        .post_json(
            "/api/auth/password/verify",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    let reset_token = token.json()["reset_token"].as_str().unwrap().to_string();
    let short = t
        .post_json(
            "/api/auth/password/reset",
            json!({"reset_token": reset_token, "new_password": "short"}),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let short = t
        .post_json(
            "/api/auth/password/verify",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_ne!(short.status, StatusCode::OK, "a code is used once");
    // The too-short attempt used the token up: ask again, after the cooldown.
    t.app
        .kv
        .delete("otp-cooldown:reset:ada@example.com")
        .await
        .unwrap();
    t.post_json(
        "/api/auth/password/forgot",
        json!({"email": "ada@example.com"}),
    )
    .await;
    let code = t.mailed_code("ada@example.com");
    let reset_token = t
        .post_json(
            "/api/auth/password/verify",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await
        .json()["reset_token"]
        .as_str()
        .unwrap()
        .to_string();
    let done = t
        .post_json(
            "/api/auth/password/reset",
            json!({"reset_token": reset_token, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let twice = t
        .post_json(
            "/api/auth/password/reset",
            json!({"reset_token": reset_token, "new_password": "yet another password"}),
        )
        .await;
    assert_eq!(
        twice.status,
        StatusCode::UNAUTHORIZED,
        "a reset token is single use"
    );

    let old_access = t.call(Method::GET, "/api/me", Some(&ada.token), None).await;
    assert_eq!(old_access.status, StatusCode::UNAUTHORIZED);
    assert_eq!(old_access.json()["error"]["code"], "session_revoked");
    let old_refresh = t
        .post_json(
            "/api/auth/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(old_refresh.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD})
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": "a brand new password"})
        )
        .await
        .status,
        StatusCode::OK
    );
    let notices = t
        .app
        .outbox
        .as_ref()
        .unwrap()
        .list(Some("ada@example.com"), 1)
        .unwrap();
    assert!(notices[0].subject.contains("password was changed"));
    t.app.shutdown().await;
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header_on_unsafe_requests() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.user("ada@example.com", Role::Shopper).await;
    let login = t
        .post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    let set = cookies(&login);
    let jar = format!(
        "access_token={}; csrf_token={}; refresh_token={}",
        cookie(&set, "access_token"),
        cookie(&set, "csrf_token"),
        cookie(&set, "refresh_token")
    );
    let address = json!({"label": "Home", "name": "Ada", "street": "1 Main St", "city": "Berlin", "zip": "10115", "country": "DE"});
    let post = |csrf: Option<&str>| {
        let mut request = Request::post("/api/me/addresses")
            .header(header::COOKIE, &jar)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.body(Body::from(address.to_string())).unwrap()
    };
    let without = t.request(post(None)).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert_eq!(without.json()["error"]["code"], "csrf_failed");
    assert_eq!(
        t.request(post(Some("forged"))).await.status,
        StatusCode::FORBIDDEN
    );
    let with = t.request(post(Some(cookie(&set, "csrf_token")))).await;
    assert_eq!(with.status, StatusCode::CREATED, "{}", with.body);
    // Reads need no header.
    let list = t
        .request(
            Request::get("/api/me/addresses")
                .header(header::COOKIE, &jar)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(list.json()[0]["is_default"], true);
    // Refreshing with the cookie needs the header too.
    let refresh = t
        .request(
            Request::post("/api/auth/refresh")
                .header(header::COOKIE, &jar)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::FORBIDDEN);
    let refresh = t
        .request(
            Request::post("/api/auth/refresh")
                .header(header::COOKIE, &jar)
                .header("x-csrf-token", cookie(&set, "csrf_token"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::OK, "{}", refresh.body);
    t.app.shutdown().await;
}

#[tokio::test]
async fn guessing_passwords_and_codes_runs_into_429s() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.user("ada@example.com", Role::Shopper).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = t
            .post_json(
                "/api/auth/login",
                json!({"email": "ada@example.com", "password": "not the password"}),
            )
            .await;
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = r.headers[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry > 0 && retry <= 900, "{retry}");
            break;
        }
    }
    // One successful sign-in in `user()`, then 9 wrong ones, then the limit (10 per 15 min).
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));

    // Codes: one a minute.
    let form =
        json!({"name": "Bo", "email": "bo@example.com", "password": PASSWORD, "role": "shopper"});
    assert_eq!(
        t.post_json("/api/auth/register", form).await.status,
        StatusCode::ACCEPTED
    );
    let resend = t
        .post_json(
            "/api/auth/register/resend",
            json!({"email": "bo@example.com"}),
        )
        .await;
    assert_eq!(resend.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(resend.headers.contains_key(header::RETRY_AFTER));
    t.app.shutdown().await;
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    Anyone,
    SignedIn,
    Shopper,
    Seller,
    Admin,
    /// Image uploads: sellers for their shop, admins for the site.
    SellerOrAdmin,
    /// Authenticated by a credential of its own (refresh or reset token, a webhook signature),
    /// never by an access token.
    OwnCredential,
    /// Carts: shoppers and anonymous visitors.
    Buyer,
    /// Conversations: shoppers and sellers.
    Chatter,
}

/// The access of every route. A route missing here fails the test: a new route states its audience.
fn access(method: &str, path: &str) -> Option<Access> {
    use Access::*;
    Some(match (method, path) {
        (
            _,
            "/api/site"
            | "/api/products"
            | "/api/products/{slug}"
            | "/api/activity"
            | "/api/recommendations"
            | "/api/logs"
            | "/health"
            | "/metrics",
        ) => Anyone,
        (
            _,
            "/api/auth/register"
            | "/api/auth/register/resend"
            | "/api/auth/register/verify"
            | "/api/auth/login",
        ) => Anyone,
        (_, "/api/auth/logout" | "/api/auth/password/forgot" | "/api/auth/password/verify") => {
            Anyone
        }
        ("get", "/api/shops" | "/api/shops/{id}" | "/api/shops/{id}/products" | "/api/offers") => {
            Anyone
        }
        ("get", "/api/products/{slug}/reviews" | "/api/products/suggest") => Anyone,
        ("post", "/api/products/{slug}/reviews") => Shopper,
        (_, "/api/shops/{id}/follow") => Shopper,
        (_, "/api/cart" | "/api/cart/items/{product_id}" | "/api/cart/coupon") => Buyer,
        (
            _,
            "/api/wishlist"
            | "/api/wishlist/{product_id}"
            | "/api/checkout"
            | "/api/orders"
            | "/api/orders/{id}"
            | "/api/payments/sandbox/{checkout_id}",
        ) => Shopper,
        (_, "/api/payments/webhook") => OwnCredential,
        (_, "/api/auth/refresh" | "/api/auth/password/reset") => OwnCredential,
        (
            _,
            "/api/auth/password/change"
            | "/api/me"
            | "/api/notifications"
            | "/api/notifications/read-all"
            | "/api/notifications/{id}/read",
        ) => SignedIn,
        (_, "/api/me/addresses" | "/api/me/addresses/{id}") => Shopper,
        ("post", "/api/conversations") => Shopper,
        ("get", "/api/conversations") => Chatter,
        // Everyone signed in gets through; only participants find the conversation (404 else).
        (_, p) if p.starts_with("/api/conversations/{id}") => SignedIn,
        (_, "/ws") => SignedIn,
        (_, "/api/seller/shop") => Seller,
        (_, "/api/seller/media" | "/api/seller/media/{id}") => SellerOrAdmin,
        (_, p) if p.starts_with("/api/seller/") => Seller,
        (_, p) if p.starts_with("/api/admin/") => Admin,
        // And analysts (tests/it/analytics.rs): the matrix has no analyst.
        (_, "/api/sql" | "/api/sql/tables") => Admin,
        _ => return None,
    })
}

#[tokio::test]
async fn every_route_answers_each_role_as_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;
    let shopper = t.user("shopper@example.com", Role::Shopper).await;
    let seller = t.user("seller@example.com", Role::Seller).await;
    let other_seller = t.user("other@example.com", Role::Seller).await;
    let admin = t.user("admin@example.com", Role::Admin).await;
    let banned = t.user("banned@example.com", Role::Shopper).await;
    t.call(
        Method::POST,
        &format!("/api/admin/users/{}/ban", banned.id),
        Some(&admin.token),
        Some(json!({"reason": "spam"})),
    )
    .await;
    // The seller owns a shop and an address belongs to the shopper, so "owner" routes have something to guard.
    let opened = t
        .call(
            Method::POST,
            "/api/seller/shop",
            Some(&seller.token),
            Some(json!({"name": "Mine", "category": "kitchen", "country": "DE"})),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED);
    let address = t
        .call(
            Method::POST,
            "/api/me/addresses",
            Some(&shopper.token),
            Some(json!({"label": "Home", "name": "S", "street": "1 Main St", "city": "Berlin", "zip": "10115", "country": "DE"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let roles: [(&str, Option<&User>); 6] = [
        ("anonymous", None),
        ("shopper", Some(&shopper)),
        ("seller", Some(&seller)),
        ("other seller", Some(&other_seller)),
        ("admin", Some(&admin)),
        ("banned", Some(&banned)),
    ];
    let allowed = |access: Access, role: &str| match access {
        Access::Anyone => true,
        Access::OwnCredential => false,
        Access::SignedIn => !matches!(role, "anonymous" | "banned"),
        Access::Shopper => role == "shopper",
        Access::Seller => matches!(role, "seller" | "other seller"),
        Access::Admin => role == "admin",
        Access::SellerOrAdmin => matches!(role, "seller" | "other seller" | "admin"),
        Access::Buyer => matches!(role, "anonymous" | "shopper"),
        Access::Chatter => matches!(role, "shopper" | "seller" | "other seller"),
    };

    let doc = api::openapi();
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        let item = serde_json::to_value(item).unwrap();
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
        {
            let rule = access(method, path)
                .unwrap_or_else(|| panic!("{method} {path} has no entry in the access table"));
            let uri = path
                .replace("{slug}", "blue-b-mug-b")
                .replace("{product_id}", &catalog.mug.to_string())
                .replace("{checkout_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{id}", &address);
            let uri = if path.starts_with("/api/admin/users/") {
                uri.replace(&address, &shopper.id.to_string())
            } else {
                uri
            };
            for (role, user) in &roles {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
                let response = t
                    .call(method.clone(), &uri, user.map(|u| u.token.as_str()), body)
                    .await;
                let status = response.status;
                if allowed(rule, role) {
                    assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{method} {uri} as {role} ({rule:?}) must be let through, got {status}: {}",
                        response.body
                    );
                } else {
                    let expected = match (rule, *role) {
                        (Access::OwnCredential, _) => [
                            StatusCode::UNAUTHORIZED,
                            StatusCode::UNPROCESSABLE_ENTITY,
                            StatusCode::BAD_REQUEST,
                        ],
                        (_, "anonymous") => [StatusCode::UNAUTHORIZED; 3],
                        _ => [StatusCode::FORBIDDEN; 3],
                    };
                    assert!(
                        expected.contains(&status),
                        "{method} {uri} as {role} ({rule:?}) must be refused with {:?}, got {status}: {}",
                        expected[0],
                        response.body
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 6 * 25, "only {checked} route × role checks ran");
    // Only the owner could remove the address (the shopper's own DELETE did), and the banned
    // account stayed banned through it all.
    assert!(t.app.state().accounts[&shopper.id].addresses.is_empty());
    assert!(t.app.state().accounts[&banned.id].banned.is_some());
    let _ = other_seller;
    t.app.shutdown().await;
}

#[tokio::test]
async fn no_password_hash_code_or_token_reaches_the_lake_or_a_log_line() {
    crate::support::console().record();
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let form =
        json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD, "role": "shopper"});
    t.post_json("/api/auth/register", form).await;
    let code = t.mailed_code("ada@example.com");
    let session = t
        .post_json(
            "/api/auth/register/verify",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await
        .json();
    let access = session["access_token"].as_str().unwrap().to_string();
    let refresh = session["refresh_token"].as_str().unwrap().to_string();
    t.call(Method::GET, "/api/me", Some(&access), None).await;
    t.post_json(
        "/api/auth/password/forgot",
        json!({"email": "ada@example.com"}),
    )
    .await;
    let reset_code = t.mailed_code("ada@example.com");
    let reset = t
        .post_json(
            "/api/auth/password/verify",
            json!({"email": "ada@example.com", "otp": reset_code}),
        )
        .await
        .json();
    let reset_token = reset["reset_token"].as_str().unwrap().to_string();
    t.post_json(
        "/api/auth/password/reset",
        json!({"reset_token": reset_token, "new_password": "the second password"}),
    )
    .await;

    let hash = t
        .app
        .state()
        .credentials
        .values()
        .next()
        .unwrap()
        .password_hash
        .0
        .clone();
    assert!(hash.starts_with("$argon2id$"));
    t.lake_reaches(Topic::Commerce, t.app.log.records_in(Topic::Commerce))
        .await;
    assert!(
        t.app.log.records_in(Topic::Credentials) >= 2,
        "the hashes are in the log's credentials topic"
    );

    let secrets = [
        ("password", PASSWORD.to_string()),
        ("new password", "the second password".to_string()),
        ("hash", hash.clone()),
        ("argon2 prefix", "$argon2id$".to_string()),
        ("sign-up code", code.clone()),
        ("reset code", reset_code.clone()),
        ("access token", access.clone()),
        ("refresh token", refresh.clone()),
        ("reset token", reset_token.clone()),
    ];
    // The log stream too: every line the service wrote, in bronze.logs.
    t.lake_reaches(Topic::Logs, t.app.log.records_in(Topic::Logs))
        .await;
    let ctx = t.app.lake.session().await.unwrap();
    let tables = t.app.lake.tables().await.unwrap();
    assert!(tables.iter().any(|t| t.to_string() == "bronze.commerce"));
    assert!(tables.iter().any(|t| t.to_string() == "bronze.logs"));
    assert!(
        !tables.iter().any(|t| t.to_string().contains("credentials")),
        "no table for the credentials topic"
    );
    for table in tables {
        let batches = lakehouse::query(&ctx, &format!("select * from {table}"))
            .await
            .unwrap();
        let text = lakehouse::format_batches(&batches, lakehouse::OutputFormat::Json).unwrap();
        for (what, secret) in &secrets {
            assert!(!leaks(&text, secret), "the {what} is in {table}");
        }
        if table.to_string() == "bronze.commerce" {
            assert!(
                text.contains("account.registered"),
                "the account itself is in the lake"
            );
        }
    }
    t.app.shutdown().await;
    let logs = crate::support::console().text();
    assert!(
        logs.contains("mail sent"),
        "the capture works: {} bytes",
        logs.len()
    );
    for (what, secret) in &secrets {
        assert!(!leaks(&logs, secret), "the {what} is in a log line");
    }
}

/// Whether `secret` appears in `text`. A 6-digit code is looked for as a value (quoted, after `=`
/// or between spaces), since any six digits can occur inside an id or a timestamp.
fn leaks(text: &str, secret: &str) -> bool {
    if secret.len() == 6 && secret.bytes().all(|b| b.is_ascii_digit()) {
        [
            format!("\"{secret}\""),
            format!("={secret}"),
            format!(" {secret} "),
            format!(" {secret}\n"),
        ]
        .iter()
        .any(|pattern| text.contains(pattern.as_str()))
    } else {
        text.contains(secret)
    }
}

/// Form fields that parse for each portal post (values that change nothing important).
fn form_for(path: &str) -> &'static str {
    match path {
        "/signup" | "/seller/signup" => "name=N&email=matrix%40example.com&password=x",
        "/signup/verify" | "/seller/signup/verify" => "email=matrix%40example.com&otp=000000",
        "/signup/resend" | "/seller/signup/resend" | "/forgot" => "email=matrix%40example.com",
        "/login" | "/seller/login" | "/admin/login" => "email=matrix%40example.com&password=wrong",
        "/reset" => "email=matrix%40example.com&otp=000000&new_password=another+long+one",
        "/account/password" => "current_password=wrong&new_password=x",
        "/account/addresses" => "label=L&name=N&street=S&city=C&zip=Z&country=Germany",
        "/seller/onboarding" => "name=N&category=nowhere&country=DE",
        "/seller/products/new" | "/seller/products/{id}/edit" => {
            "title=T&category=nowhere&price=1.00"
        }
        "/admin/users/{id}/ban" | "/admin/products/{id}/hide" => "reason=matrix",
        "/admin/site" => "name=&categories=",
        "/seller/shop" => "name=N&category=nowhere&country=DE",
        "/shops/{slug}/follow" => "follow=1",
        "/admin/admins" => "email=nobody%40example.com",
        "/admin/analysts" => "name=N&email=bad&password=x",
        "/admin/sql" | "/admin/sql/download" => "sql=SELECT+1&format=csv",
        _ => "",
    }
}

#[tokio::test]
async fn every_portal_page_answers_each_role_as_allowed() {
    use portals::Audience;
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let seller = t.sign_in(crate::support::CATALOG_SELLER).await;
    let roles = [
        (
            "shopper",
            Some(t.user("shopper@example.com", Role::Shopper).await.token),
        ),
        ("seller", Some(seller)),
        (
            "other seller",
            Some(t.user("other@example.com", Role::Seller).await.token),
        ),
        (
            "analyst",
            Some(t.user("analyst@example.com", Role::Analyst).await.token),
        ),
        (
            "admin",
            Some(t.user("admin@example.com", Role::Admin).await.token),
        ),
        (
            "banned",
            Some(t.user("banned@example.com", Role::Shopper).await.token),
        ),
        ("anonymous", None),
    ];
    let target = t.user("target@example.com", Role::Shopper).await.id;
    let banned = t
        .app
        .state()
        .account_by_email("banned@example.com")
        .unwrap()
        .id;
    t.app
        .execute(
            domain::Actor::System,
            domain::Command::Account(domain::AccountCommand::Ban {
                account: banned,
                reason: "spam".into(),
            }),
        )
        .await
        .unwrap();
    let allowed = |audience: Audience, role: &str| match audience {
        Audience::Anyone => true,
        Audience::Buyer => matches!(role, "shopper" | "anonymous"),
        Audience::SignedIn => !matches!(role, "anonymous" | "banned"),
        Audience::Shopper => role == "shopper",
        Audience::Seller => matches!(role, "seller" | "other seller"),
        Audience::AdminOrAnalyst => matches!(role, "admin" | "analyst"),
        Audience::Admin => role == "admin",
    };
    let mut checked = 0;
    for page in portals::pages() {
        let uri = page
            .path
            .replace("/shops/{slug}", "/shops/clay-co")
            .replace("{slug}", "blue-b-mug-b")
            .replace("{id}", &target.to_string());
        for (role, token) in &roles {
            for (method, with_csrf) in [
                (Method::GET, true),
                (Method::POST, true),
                (Method::POST, false),
            ] {
                let mut cookie = String::from("csrf_token=matrix");
                if let Some(token) = token {
                    cookie.push_str(&format!("; access_token={token}"));
                }
                let mut request = Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .header(header::COOKIE, cookie);
                let body = if method == Method::POST {
                    request =
                        request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                    let token = if with_csrf { "matrix" } else { "" };
                    Body::from(format!("csrf_token={token}&{}", form_for(page.path)))
                } else {
                    Body::empty()
                };
                let response = t.request(request.body(body).unwrap()).await;
                let status = response.status;
                if status == StatusCode::METHOD_NOT_ALLOWED {
                    continue;
                }
                let what = format!(
                    "{method} {uri} as {role} ({:?}{})",
                    page.audience,
                    if with_csrf { "" } else { ", no CSRF token" }
                );
                let location = response
                    .headers
                    .get(header::LOCATION)
                    .map(|l| l.to_str().unwrap().to_string())
                    .unwrap_or_default();
                assert!(
                    !status.is_server_error(),
                    "{what}: {status} {}",
                    response.body
                );
                if method == Method::POST && !with_csrf {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what} must be refused");
                } else if allowed(page.audience, role) {
                    assert!(
                        status != StatusCode::FORBIDDEN && !location.contains("/login?next"),
                        "{what} must be let through, got {status} {location}: {}",
                        response.body
                    );
                } else if *role == "anonymous" {
                    assert!(
                        status == StatusCode::SEE_OTHER && location.contains("login?next="),
                        "{what} must go to sign-in, got {status} {location}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{what} must be refused: {}",
                        response.body
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 7 * 30, "only {checked} page × role checks ran");
    let state = t.app.state();
    assert!(
        state.accounts[&target].banned.is_none(),
        "the admin's ban was lifted by the admin's unban, and nobody else banned again"
    );
    assert!(
        state
            .accounts
            .values()
            .all(|a| a.role != Role::Analyst || a.email == "analyst@example.com"),
        "no bad analyst was created"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn activity_of_signed_in_people_is_theirs_and_the_rest_stays_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let ada = t.user("ada@example.com", Role::Shopper).await;
    let search = json!({"kind": "search", "query": "mug"});
    assert_eq!(
        t.call(
            Method::POST,
            "/api/activity",
            Some(&ada.token),
            Some(search.clone())
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.post_json("/api/activity", search).await.status,
        StatusCode::ACCEPTED
    );
    let at = ingest::TopicPartition::new(Topic::Activity, 0);
    let records = t.app.log.read(at, 0, 10).await.unwrap();
    let actors: Vec<(String, Option<String>)> = records
        .iter()
        .map(|r| {
            ingest::Envelope::from_bytes(&r.value)
                .unwrap()
                .actor_columns()
        })
        .map(|a| (a.role.to_string(), a.id))
        .collect();
    assert_eq!(actors.len(), 2);
    assert_eq!(actors[0], ("shopper".to_string(), Some(ada.id.to_string())));
    assert_eq!(actors[1].0, "anonymous");
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_waiting_sign_up_cannot_be_taken_over_by_signing_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let form = |password: &str| json!({"name": "Ada", "email": "ada@example.com", "password": password, "role": "shopper"});
    assert_eq!(
        t.post_json("/api/auth/register", form(PASSWORD))
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let code = t.mailed_code("ada@example.com");
    let takeover = t
        .post_json("/api/auth/register", form("an attacker's own password"))
        .await;
    assert_eq!(takeover.status, StatusCode::CONFLICT, "{}", takeover.body);
    let opened = t
        .post_json(
            "/api/auth/register/verify",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let login = |password: &str| {
        t.post_json(
            "/api/auth/login",
            json!({"email": "ada@example.com", "password": password}),
        )
    };
    assert_eq!(login(PASSWORD).await.status, StatusCode::OK);
    assert_eq!(
        login("an attacker's own password").await.status,
        StatusCode::UNAUTHORIZED
    );
    t.app.shutdown().await;
}
