//! Cart → checkout → payment → orders, through the HTTP API with the sandbox provider and its
//! signed webhooks.

use crate::support::{CATALOG_SELLER, Catalog, TestApp, User};
use axum::http::{Method, StatusCode};
use domain::{
    Actor, Command, Currency, Money, NewProduct, NewShop, ProductId, ProductStatus, Role, ShopId,
};
use serde_json::{Value, json};

/// A second shop (seller `potter@example.com`) with one product in stock `stock`.
pub(crate) async fn second_shop(t: &TestApp, stock: u32) -> (User, ShopId, ProductId) {
    let seller = t.user("potter@example.com", Role::Seller).await;
    let shop = ShopId(uuid::Uuid::now_v7());
    let new_shop = NewShop {
        id: shop,
        owner: Some(seller.id),
        name: "Potter's Wheel".into(),
        bio: String::new(),
        category: "kitchen".into(),
        country: "FR".into(),
    };
    t.app
        .execute(Actor::System, Command::CreateShop(new_shop))
        .await
        .unwrap();
    let product = ProductId(uuid::Uuid::now_v7());
    let new = NewProduct {
        id: product,
        shop_id: shop,
        title: "Green Bowl".into(),
        description: "A bowl".into(),
        category: "kitchen".into(),
        subcategory: None,
        price: Money::new(3333, Currency::USD),
        sale_price: None,
        stock,
        status: ProductStatus::Active,
        images: Vec::new(),
        details: Default::default(),
    };
    t.app
        .execute(Actor::System, Command::CreateProduct(new))
        .await
        .unwrap();
    (seller, shop, product)
}

pub(crate) async fn shopper_with_address(t: &TestApp, email: &str) -> (User, String) {
    let shopper = t.user(email, Role::Shopper).await;
    let address = t
        .call(
            Method::POST,
            "/api/me/addresses",
            Some(&shopper.token),
            Some(json!({"label": "Home", "name": "Sam Shopper", "street": "1 Main St", "city": "Lyon", "zip": "69001", "country": "FR"})),
        )
        .await;
    assert_eq!(address.status, StatusCode::CREATED, "{}", address.body);
    (shopper, address.json()["id"].as_str().unwrap().to_string())
}

pub(crate) async fn put_item(
    t: &TestApp,
    token: &str,
    product: ProductId,
    quantity: u32,
) -> crate::support::Response {
    t.call(
        Method::PUT,
        &format!("/api/cart/items/{product}"),
        Some(token),
        Some(json!({"quantity": quantity})),
    )
    .await
}

async fn checkout(t: &TestApp, token: &str, address: &str) -> crate::support::Response {
    t.call(
        Method::POST,
        "/api/checkout",
        Some(token),
        Some(json!({"address_id": address})),
    )
    .await
}

/// Opens the cart's payment session (it must open) and answers its id.
pub(crate) async fn open_session(t: &TestApp, token: &str, address: &str) -> String {
    let session = checkout(t, token, address).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    session.json()["session_id"].as_str().unwrap().to_string()
}

pub(crate) async fn pay(t: &TestApp, token: &str, session: &str, card: &str) -> Value {
    let paid = t
        .call(
            Method::POST,
            &format!("/api/payments/sandbox/{session}"),
            Some(token),
            Some(json!({"card_number": card})),
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    paid.json()
}

/// A signed `payment_intent.succeeded` for a checkout, as Stripe (or the sandbox) sends it.
fn succeeded(t: &TestApp, session: &str, timestamp: i64, secret: &str) -> (Vec<u8>, String) {
    let state = t.app.state();
    let checkout = &state.checkouts[&domain::CheckoutId(session.parse().unwrap())];
    let body = serde_json::to_vec(&json!({
        "id": "evt_test_1",
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": checkout.payment_ref,
            "amount": checkout.priced.total.amount,
            "amount_received": checkout.priced.total.amount,
            "currency": "usd",
        }}
    }))
    .unwrap();
    let header = api::payments::signature::sign(secret, timestamp, &body);
    (body, header)
}

async fn deliver(t: &TestApp, body: Vec<u8>, header: &str) -> crate::support::Response {
    let request = axum::http::Request::post("/api/payments/webhook")
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    t.request(request).await
}

#[tokio::test]
async fn a_cart_from_two_shops_with_a_code_pays_once_and_becomes_one_order_per_shop() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, book, .. } = t.seed_catalog().await;
    let (potter, _, bowl) = second_shop(&t, 3).await;
    let clay = t.sign_in(CATALOG_SELLER).await;
    let code = t
        .call(
            Method::POST,
            "/api/seller/discount-codes",
            Some(&clay),
            Some(
                json!({"code": "CLAY10", "public_name": "Ten off", "kind": "percent", "value": 10}),
            ),
        )
        .await;
    assert_eq!(code.status, StatusCode::CREATED, "{}", code.body);
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;

    assert_eq!(
        put_item(&t, &shopper.token, mug, 2).await.status,
        StatusCode::OK
    );
    assert_eq!(
        put_item(&t, &shopper.token, book, 1).await.status,
        StatusCode::OK
    );
    assert_eq!(
        put_item(&t, &shopper.token, bowl, 1).await.status,
        StatusCode::OK
    );
    let too_many = put_item(&t, &shopper.token, bowl, 4).await;
    assert_eq!(too_many.status, StatusCode::CONFLICT, "{}", too_many.body);
    assert!(too_many.body.contains("only 3"), "{}", too_many.body);
    let applied = t
        .call(
            Method::POST,
            "/api/cart/coupon",
            Some(&shopper.token),
            Some(json!({"code": "clay10"})),
        )
        .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    let cart = applied.json();
    // Clay & Co: 2 × 19.99 + 25.00 = 64.98, 10% off = 6.49 (per line, rounded down: 3.99 + 2.50).
    assert_eq!(cart["shops"][0]["subtotal"]["amount"], 6498);
    assert_eq!(cart["shops"][0]["discount"]["amount"], 649);
    assert_eq!(cart["shops"][1]["total"]["amount"], 3333);
    assert_eq!(cart["total"]["amount"], 6498 - 649 + 3333);
    let unknown = t
        .call(
            Method::POST,
            "/api/cart/coupon",
            Some(&shopper.token),
            Some(json!({"code": "NOPE1"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

    let session = checkout(&t, &shopper.token, &address).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let session = session.json();
    assert_eq!(session["amount"]["amount"], 6498 - 649 + 3333);
    assert_eq!(session["provider"], "sandbox");
    let id = session["session_id"].as_str().unwrap().to_string();
    assert_eq!(session["redirect_url"], format!("/pay/{id}"));
    // The same cart: the same session.
    let again = checkout(&t, &shopper.token, &address).await.json();
    assert_eq!(again["session_id"], session["session_id"]);

    let paid = pay(&t, &shopper.token, &id, "4242 4242 4242 4242").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["orders"].as_array().unwrap().len(), 2);

    let orders = t
        .call(Method::GET, "/api/orders", Some(&shopper.token), None)
        .await
        .json();
    assert_eq!(orders["total"], 2);
    let clay_order = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["shop_name"] == "Clay & Co")
        .unwrap()
        .clone();
    assert_eq!(clay_order["total"]["amount"], 6498 - 649);
    assert_eq!(clay_order["discount"]["amount"], 649);
    assert_eq!(clay_order["code"]["code"], "CLAY10");
    assert!(
        clay_order.get("fee").is_none(),
        "the fee is the shop's business"
    );
    // The stored totals are what was charged, shop by shop.
    let state = t.app.state();
    let charged: i64 = state.orders.values().map(|o| o.part.total.amount).sum();
    assert_eq!(charged, session["amount"]["amount"].as_i64().unwrap());
    assert_eq!(state.products[&mug].stock, 3);
    assert_eq!(state.products[&bowl].stock, 2);
    assert!(
        t.call(Method::GET, "/api/cart", Some(&shopper.token), None)
            .await
            .json()["shops"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Each shop sees its own order, with the platform's 10% fee and its transfer.
    let theirs = t
        .call(Method::GET, "/api/seller/orders", Some(&potter.token), None)
        .await
        .json();
    assert_eq!(theirs["total"], 1);
    assert_eq!(theirs["items"][0]["fee"]["amount"], 333);
    assert_eq!(theirs["items"][0]["payout"]["amount"], 3000);
    let payouts = t
        .call(
            Method::GET,
            "/api/seller/payouts",
            Some(&potter.token),
            None,
        )
        .await
        .json();
    assert_eq!(payouts["pending"]["amount"], 3000);
    assert_eq!(payouts["recent"].as_array().unwrap().len(), 1);
    let clays = t
        .call(Method::GET, "/api/seller/orders", Some(&clay), None)
        .await
        .json();
    assert_eq!(clays["items"][0]["fee"]["amount"], 585); // 10% of 58.49, rounded half up
    assert_eq!(clays["items"][0]["payout"]["amount"], 5849 - 585);

    // Each shop's transfer was made and recorded: nothing is left to settle.
    assert!(t.app.state().orders.values().all(|o| o.transfer.is_some()));
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    assert_eq!(api::payments::settle_due(&t.app, later).await, 0);

    // The shopper got a confirmation per order.
    let outbox = t.app.outbox.as_ref().unwrap();
    let letters = outbox.list(Some("sam@example.com"), 10).unwrap();
    assert_eq!(
        letters
            .iter()
            .filter(|l| l.subject.contains("is confirmed"))
            .count(),
        2
    );

    // The admin downloads the orders and the payment as CSV.
    let admin = t.user("admin@example.com", Role::Admin).await;
    let csv = t
        .call(
            Method::GET,
            "/api/admin/orders?format=csv",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(rows.len(), 3, "{}", csv.body);
    assert!(rows[0].starts_with("number,order_id,placed_at,shop,status"));
    assert!(csv.body.contains(",CLAY10,Lyon,FR"), "{}", csv.body);
    let payments = t
        .call(
            Method::GET,
            "/api/admin/payments?format=csv",
            Some(&admin.token),
            None,
        )
        .await;
    assert!(
        payments
            .body
            .lines()
            .nth(1)
            .unwrap()
            .contains(",paid,USD,9182,"),
        "{}",
        payments.body
    );
    assert_eq!(
        t.call(
            Method::GET,
            "/api/admin/orders?format=csv",
            Some(&shopper.token),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn webhooks_are_verified_and_replays_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;
    put_item(&t, &shopper.token, mug, 1).await;
    let session = checkout(&t, &shopper.token, &address).await.json();
    let id = session["session_id"].as_str().unwrap().to_string();
    let secret = t.app.payments.webhook_secret().to_string();
    let now = chrono::Utc::now().timestamp();

    let (body, _) = succeeded(&t, &id, now, &secret);
    let forged = api::payments::signature::sign("whsec_not_ours", now, &body);
    assert_eq!(
        deliver(&t, body.clone(), &forged).await.status,
        StatusCode::BAD_REQUEST
    );
    let (stale_body, stale) = succeeded(&t, &id, now - 3600, &secret);
    let refused = deliver(&t, stale_body, &stale).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("tolerance"), "{}", refused.body);
    let (mut tampered, header) = succeeded(&t, &id, now, &secret);
    tampered.extend_from_slice(b" ");
    assert_eq!(
        deliver(&t, tampered, &header).await.status,
        StatusCode::BAD_REQUEST
    );
    assert!(
        t.app.state().orders.is_empty(),
        "nothing unverified was believed"
    );

    let (body, header) = succeeded(&t, &id, now, &secret);
    let first = deliver(&t, body.clone(), &header).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.json()["outcome"], "recorded");
    let events = t
        .app
        .log
        .end_offset(ingest::TopicPartition::new(ingest::Topic::Commerce, 0));
    for _ in 0..100 {
        let replay = deliver(&t, body.clone(), &header).await;
        assert_eq!(replay.status, StatusCode::OK);
        assert_eq!(replay.json()["outcome"], "already_recorded");
    }
    assert_eq!(t.app.state().orders.len(), 1);
    assert_eq!(
        t.app
            .log
            .end_offset(ingest::TopicPartition::new(ingest::Topic::Commerce, 0)),
        events,
        "replays write nothing"
    );
    assert_eq!(t.app.state().products[&mug].stock, 4);
    // A failure reported after the success changes nothing either.
    let body = serde_json::to_vec(
        &json!({"id": "evt_2", "type": "payment_intent.payment_failed",
        "data": {"object": {"id": t.app.state().checkouts.values().next().unwrap().payment_ref}}}),
    )
    .unwrap();
    let header = api::payments::signature::sign(&secret, now, &body);
    assert_eq!(
        deliver(&t, body, &header).await.json()["outcome"],
        "already_recorded"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn fifty_shoppers_race_for_the_last_unit_and_exactly_one_pays() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let (_, _, bowl) = second_shop(&t, 1).await;
    let mut shoppers = Vec::new();
    for i in 0..50 {
        let (shopper, address) = shopper_with_address(&t, &format!("racer{i}@example.com")).await;
        // Nobody holds it yet: every cart may take it.
        assert_eq!(
            put_item(&t, &shopper.token, bowl, 1).await.status,
            StatusCode::OK
        );
        shoppers.push((shopper, address));
    }
    let answers = futures::future::join_all(
        shoppers
            .iter()
            .map(|(s, address)| checkout(&t, &s.token, address)),
    )
    .await;
    let opened: Vec<usize> = (0..50)
        .filter(|&i| answers[i].status == StatusCode::OK)
        .collect();
    assert_eq!(opened.len(), 1, "one checkout holds the last unit");
    for (i, answer) in answers.iter().enumerate() {
        if !opened.contains(&i) {
            assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
            assert!(answer.body.contains("out of stock"), "{}", answer.body);
        }
    }
    let winner = &shoppers[opened[0]].0;
    let session = answers[opened[0]].json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        pay(&t, &winner.token, &session, "4242424242424242").await["status"],
        "succeeded"
    );
    assert_eq!(t.app.state().orders.len(), 1);
    assert_eq!(t.app.state().products[&bowl].stock, 0);
    t.app.shutdown().await;
}

#[tokio::test]
async fn an_expired_checkout_gives_its_stock_back_and_cannot_be_paid() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let (_, _, bowl) = second_shop(&t, 1).await;
    let (first, first_address) = shopper_with_address(&t, "first@example.com").await;
    let (second, second_address) = shopper_with_address(&t, "second@example.com").await;
    put_item(&t, &first.token, bowl, 1).await;
    put_item(&t, &second.token, bowl, 1).await;
    let held = checkout(&t, &first.token, &first_address).await.json();
    assert_eq!(
        checkout(&t, &second.token, &second_address).await.status,
        StatusCode::CONFLICT
    );

    let later = chrono::Utc::now() + chrono::Duration::minutes(domain::CHECKOUT_MINUTES + 1);
    assert_eq!(api::orders::expire_due(&t.app, later).await, 1);
    let state = t.app.state();
    let expired = &state.checkouts
        [&domain::CheckoutId(held["session_id"].as_str().unwrap().parse().unwrap())];
    assert_eq!(expired.status, domain::CheckoutStatus::Expired);
    let late = t
        .call(
            Method::POST,
            &format!(
                "/api/payments/sandbox/{}",
                held["session_id"].as_str().unwrap()
            ),
            Some(&first.token),
            Some(json!({"card_number": "4242424242424242"})),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    let session = checkout(&t, &second.token, &second_address).await;
    assert_eq!(
        session.status,
        StatusCode::OK,
        "the released unit is for sale again: {}",
        session.body
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn declines_and_the_extra_authentication_step() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;
    put_item(&t, &shopper.token, mug, 1).await;
    let id = open_session(&t, &shopper.token, &address).await;
    let invalid = t
        .call(
            Method::POST,
            &format!("/api/payments/sandbox/{id}"),
            Some(&shopper.token),
            Some(json!({"card_number": "1234 5678"})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let declined = pay(&t, &shopper.token, &id, "4000 0000 0000 9995").await;
    assert_eq!(declined["status"], "failed");
    assert!(
        declined["message"]
            .as_str()
            .unwrap()
            .contains("insufficient funds")
    );
    assert!(t.app.state().orders.is_empty());
    // The failed session is closed; checking out again opens a new one.
    let id = open_session(&t, &shopper.token, &address).await;
    let asks = pay(&t, &shopper.token, &id, "4000 0025 0000 3155").await;
    assert_eq!(asks["status"], "requires_action");
    let confirmed = t
        .call(
            Method::POST,
            &format!("/api/payments/sandbox/{id}"),
            Some(&shopper.token),
            Some(json!({"card_number": "4000 0025 0000 3155", "authentication": true})),
        )
        .await
        .json();
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");
    assert_eq!(t.app.state().orders.len(), 1);
    t.app.shutdown().await;
}

#[tokio::test]
async fn sellers_move_only_their_own_orders_and_only_forward() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let (potter, _, _) = second_shop(&t, 1).await;
    let clay = t.sign_in(CATALOG_SELLER).await;
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;
    put_item(&t, &shopper.token, mug, 1).await;
    let id = open_session(&t, &shopper.token, &address).await;
    let order = pay(&t, &shopper.token, &id, "4242424242424242").await["orders"][0]
        .as_str()
        .unwrap()
        .to_string();
    let to = |status: &str| Some(json!({"delivery_status": status}));
    let uri = format!("/api/seller/orders/{order}");
    assert_eq!(
        t.call(Method::PATCH, &uri, Some(&potter.token), to("shipped"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.call(Method::GET, &uri, Some(&potter.token), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let shipped = t
        .call(Method::PATCH, &uri, Some(&clay), to("shipped"))
        .await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    assert_eq!(shipped.json()["history"].as_array().unwrap().len(), 2);
    let back = t.call(Method::PATCH, &uri, Some(&clay), to("packed")).await;
    assert_eq!(back.status, StatusCode::CONFLICT);
    let bogus = t
        .call(Method::PATCH, &uri, Some(&clay), to("teleported"))
        .await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The shopper sees the new status and was told by mail.
    let mine = t
        .call(
            Method::GET,
            &format!("/api/orders/{order}"),
            Some(&shopper.token),
            None,
        )
        .await
        .json();
    assert_eq!(mine["status"], "shipped");
    let outbox = t.app.outbox.as_ref().unwrap();
    let told = outbox.list(Some("sam@example.com"), 10).unwrap();
    let told = told.iter().any(|l| l.subject.contains("shipped"));
    assert!(told, "the shopper was told the order shipped");
    // Another shopper cannot read it.
    let (other, _) = shopper_with_address(&t, "other@example.com").await;
    assert_eq!(
        t.call(
            Method::GET,
            &format!("/api/orders/{order}"),
            Some(&other.token),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_visitors_cart_follows_them_into_their_account() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, book, .. } = t.seed_catalog().await;
    t.user("sam@example.com", Role::Shopper).await;
    let put = axum::http::Request::put(format!("/api/cart/items/{mug}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"quantity": 2}).to_string()))
        .unwrap();
    let answer = t.request(put).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let cookie = answer.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("sid="), "{cookie}");
    let put = axum::http::Request::put(format!("/api/cart/items/{book}"))
        .header("content-type", "application/json")
        .header("cookie", &cookie)
        .body(axum::body::Body::from(json!({"quantity": 1}).to_string()))
        .unwrap();
    assert_eq!(t.request(put).await.json()["items"], 3);

    let login = axum::http::Request::post("/api/auth/login")
        .header("content-type", "application/json")
        .header("cookie", &cookie)
        .body(axum::body::Body::from(
            json!({"email": "sam@example.com", "password": crate::support::PASSWORD}).to_string(),
        ))
        .unwrap();
    let token = t.request(login).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let cart = t
        .call(Method::GET, "/api/cart", Some(&token), None)
        .await
        .json();
    assert_eq!(cart["items"], 3, "{cart}");
    // Sellers have no cart.
    let clay = t.sign_in(CATALOG_SELLER).await;
    assert_eq!(
        put_item(&t, &clay, mug, 1).await.status,
        StatusCode::FORBIDDEN
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn delivered_products_can_be_reviewed_once_and_sales_rank_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, book, .. } = t.seed_catalog().await;
    let clay = t.sign_in(CATALOG_SELLER).await;
    let (shopper, address) = shopper_with_address(&t, "ada.lovelace@example.com").await;
    put_item(&t, &shopper.token, mug, 3).await;
    let id = open_session(&t, &shopper.token, &address).await;
    let order = pay(&t, &shopper.token, &id, "4242424242424242").await["orders"][0]
        .as_str()
        .unwrap()
        .to_string();
    let uri = "/api/products/blue-b-mug-b/reviews";
    let review = json!({"rating": 5, "text": "Holds a whole pot of tea."});
    let early = t
        .call(
            Method::POST,
            uri,
            Some(&shopper.token),
            Some(review.clone()),
        )
        .await;
    assert_eq!(early.status, StatusCode::FORBIDDEN, "{}", early.body);
    assert!(early.body.contains("delivered"), "{}", early.body);
    let delivered = t
        .call(
            Method::PATCH,
            &format!("/api/seller/orders/{order}"),
            Some(&clay),
            Some(json!({"delivery_status": "delivered"})),
        )
        .await;
    assert_eq!(delivered.status, StatusCode::OK, "{}", delivered.body);
    let posted = t
        .call(
            Method::POST,
            uri,
            Some(&shopper.token),
            Some(review.clone()),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
    assert_eq!(
        posted.json()["author"],
        "Test P.",
        "first name and initial only"
    );
    let again = t
        .call(Method::POST, uri, Some(&shopper.token), Some(review))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let listed = t.get(uri).await.json();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["rating"], 5);
    let product = t.get("/api/products/blue-b-mug-b").await.json();
    assert_eq!(product["rating"]["average"], 5.0);
    assert_eq!(product["sold"], 3);
    let shop = t
        .get(&format!(
            "/api/shops/{}",
            product["shop"]["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(shop["rating"]["count"], 1);
    assert_eq!(shop["orders"], 1);
    // The best seller comes first when sorted by sales, the newest otherwise.
    let top = t.get("/api/products?sort=top_sales").await.json();
    assert_eq!(top["items"][0]["slug"], "blue-b-mug-b");
    let newest = t.get("/api/products").await.json();
    assert_eq!(newest["items"][0]["slug"], "field-guide", "{newest}");
    let _ = book;
    t.app.shutdown().await;
}

#[tokio::test]
async fn paid_orders_reach_silver_and_gold_tables_without_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let (_, _, bowl) = second_shop(&t, 3).await;
    let clay = t.sign_in(CATALOG_SELLER).await;
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;
    put_item(&t, &shopper.token, mug, 2).await;
    put_item(&t, &shopper.token, bowl, 1).await;
    let id = open_session(&t, &shopper.token, &address).await;
    let paid = pay(&t, &shopper.token, &id, "4242424242424242").await;
    let clay_order = t
        .app
        .state()
        .orders
        .values()
        .find(|o| o.part.shop_name == "Clay & Co")
        .unwrap()
        .id;
    t.call(
        Method::PATCH,
        &format!("/api/seller/orders/{clay_order}"),
        Some(&clay),
        Some(json!({"delivery_status": "shipped"})),
    )
    .await;
    assert_eq!(paid["orders"].as_array().unwrap().len(), 2);
    let events = t
        .app
        .log
        .end_offset(ingest::TopicPartition::new(ingest::Topic::Commerce, 0));
    t.lake_reaches(ingest::Topic::Commerce, events).await;
    for pipeline in ["silver_orders", "silver_order_items", "gold_sales_daily"] {
        t.pipeline_reaches(pipeline, events).await;
    }
    assert_eq!(
        t.sql_count("SELECT count(*) AS n FROM silver.orders").await,
        2
    );
    assert_eq!(
        t.sql_count("SELECT count(*) AS n FROM silver.orders WHERE status = 'shipped'")
            .await,
        1,
        "silver.orders follows status changes"
    );
    assert_eq!(
        t.sql_count("SELECT sum(quantity) AS n FROM silver.order_items")
            .await,
        3
    );
    let charged: i64 = t
        .app
        .state()
        .orders
        .values()
        .map(|o| o.part.total.amount)
        .sum();
    assert_eq!(
        t.sql_count("SELECT sum(revenue) AS n FROM gold.sales_daily")
            .await,
        charged
    );
    assert_eq!(
        t.sql_count("SELECT sum(orders) AS n FROM gold.sales_daily")
            .await,
        2
    );
    // Lines add up to their orders, and no name or street reaches the analysts' tables.
    assert_eq!(
        t.sql_count(
            "SELECT count(*) AS n FROM (SELECT o.order_id FROM silver.orders o JOIN silver.order_items i USING (order_id) \
             GROUP BY o.order_id, o.total HAVING o.total <> sum(i.subtotal - i.discount)) AS mismatched"
        )
        .await,
        0
    );
    let ctx = t.app.lake.session().await.unwrap();
    let batches = lakehouse::query(&ctx, "SELECT * FROM silver.orders")
        .await
        .unwrap();
    let text = lakehouse::format_batches(&batches, lakehouse::OutputFormat::Json).unwrap();
    assert!(
        text.contains("Lyon") && !text.contains("1 Main St") && !text.contains("Sam Shopper"),
        "{text}"
    );
    // The admin dashboard charts them.
    let admin = t.user("admin@example.com", Role::Admin).await;
    let dashboard = t.page("/admin", &admin.token).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let revenue = domain::Money::new(charged, Currency::USD).display();
    assert!(
        dashboard.body.contains("Sales per day (USD)"),
        "{}",
        dashboard.body
    );
    assert!(
        dashboard.body.contains(&revenue),
        "the 30-day revenue {revenue} is on the dashboard"
    );
    // And each seller's dashboard charts their own shop's sales only.
    let clay_revenue: i64 = t
        .app
        .state()
        .orders
        .values()
        .filter(|o| o.part.shop_name == "Clay & Co")
        .map(|o| o.part.total.amount)
        .sum();
    let seller_page = t.page("/seller", &clay).await;
    let clay_revenue = domain::Money::new(clay_revenue, Currency::USD).display();
    assert!(
        seller_page.body.contains("Sales per day (USD)"),
        "{}",
        seller_page.body
    );
    assert!(seller_page.body.contains(&clay_revenue) && !seller_page.body.contains(&revenue));
    t.app.shutdown().await;
}

#[tokio::test]
async fn orders_notify_their_shops_shoppers_and_admins_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let (potter, _, bowl) = second_shop(&t, 3).await;
    let clay = t.sign_in(CATALOG_SELLER).await;
    let admin = t.user("boss@example.com", Role::Admin).await;
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;
    put_item(&t, &shopper.token, mug, 1).await;
    put_item(&t, &shopper.token, bowl, 1).await;
    let id = open_session(&t, &shopper.token, &address).await;
    pay(&t, &shopper.token, &id, "4242424242424242").await;
    let clay_order = t
        .app
        .state()
        .orders
        .values()
        .find(|o| o.part.shop_name == "Clay & Co")
        .unwrap()
        .id;
    let shipped = t
        .call(
            Method::PATCH,
            &format!("/api/seller/orders/{clay_order}"),
            Some(&clay),
            Some(json!({"delivery_status": "shipped"})),
        )
        .await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    let events = t
        .app
        .log
        .end_offset(ingest::TopicPartition::new(ingest::Topic::Commerce, 0));
    t.lake_reaches(ingest::Topic::Commerce, events).await;
    t.pipeline_reaches("gold_notifications", events).await;

    let list = |token: String| {
        let t = &t;
        async move {
            let list = t
                .call(Method::GET, "/api/notifications", Some(&token), None)
                .await;
            assert_eq!(list.status, StatusCode::OK, "{}", list.body);
            list.json()
        }
    };
    let kinds = |list: &Value| -> Vec<String> {
        let mut kinds: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap().to_string())
            .collect();
        kinds.sort();
        kinds
    };
    let clays = list(clay.clone()).await;
    // The mug had 5 in stock, the shop's threshold is 5: both shops also hear of low stock.
    assert_eq!(kinds(&clays), ["order.new", "stock.low"], "{clays}");
    let new_order = clays["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "order.new")
        .unwrap();
    assert!(
        new_order["title"]
            .as_str()
            .unwrap()
            .starts_with("New order M-")
    );
    assert_eq!(new_order["link"], format!("/seller/orders/{clay_order}"));
    let potters = list(potter.token.clone()).await;
    assert_eq!(kinds(&potters), ["order.new", "stock.low"], "{potters}");
    let low = potters["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "stock.low")
        .unwrap();
    assert_eq!(low["title"], "Low stock: Green Bowl");
    assert_eq!(low["body"], "2 left (your threshold is 5).");
    let admins = list(admin.token.clone()).await;
    assert_eq!(kinds(&admins), ["order.new", "order.new"], "{admins}");
    let shoppers = list(shopper.token.clone()).await;
    assert_eq!(
        kinds(&shoppers),
        ["order.status", "payment.received"],
        "{shoppers}"
    );
    assert_eq!(shoppers["unread"], 2);
    let status = shoppers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "order.status")
        .unwrap();
    assert!(
        status["title"].as_str().unwrap().ends_with(" is shipped"),
        "{status}"
    );

    // Read marks: one, then all; someone else's is not found.
    let status_id = status["id"].as_str().unwrap().to_string();
    let other = t
        .call(
            Method::POST,
            &format!("/api/notifications/{status_id}/read"),
            Some(&clay),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.body);
    let read = t
        .call(
            Method::POST,
            &format!("/api/notifications/{status_id}/read"),
            Some(&shopper.token),
            None,
        )
        .await;
    assert_eq!(read.json()["unread"], 1, "{}", read.body);
    let page = t.page("/notifications", &shopper.token).await;
    assert!(
        page.body.contains(r#"data-unread="1""#),
        "the bell agrees with the API"
    );
    assert!(page.body.contains("Payment received"), "{}", page.body);
    let all = t
        .call(
            Method::POST,
            "/api/notifications/read-all",
            Some(&shopper.token),
            None,
        )
        .await;
    assert_eq!(all.json()["unread"], 0);
    assert_eq!(
        t.sql_count("SELECT count(*) AS n FROM gold.notifications")
            .await,
        8,
        "each notification once in the lake"
    );

    // A restart rebuilds notifications and read marks from the log.
    t.app.shutdown().await;
    drop(t);
    let t = TestApp::start(dir.path()).await;
    let shopper_token = t.sign_in("sam@example.com").await;
    let again = t
        .call(
            Method::GET,
            "/api/notifications",
            Some(&shopper_token),
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            again["unread"].clone(),
            again["items"].as_array().unwrap().len()
        ),
        (json!(0), 2)
    );
    let clay = t.sign_in(CATALOG_SELLER).await;
    let clays = t
        .call(Method::GET, "/api/notifications", Some(&clay), None)
        .await
        .json();
    assert_eq!(clays["unread"], 2);
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_visitor_cart_writes_from_one_address_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let put = |quantity: u32| {
        axum::http::Request::put(format!("/api/cart/items/{mug}"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", "203.0.113.7")
            .body(axum::body::Body::from(
                json!({"quantity": quantity}).to_string(),
            ))
            .unwrap()
    };
    let mut statuses = Vec::new();
    for n in 0..301 {
        statuses.push(t.request(put(1 + n % 2)).await.status);
    }
    assert!(
        statuses[..300].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[300], StatusCode::TOO_MANY_REQUESTS);
    // A signed-in shopper is accountable for their writes and not throttled with visitors.
    let (shopper, _) = shopper_with_address(&t, "sam@example.com").await;
    assert_eq!(
        put_item(&t, &shopper.token, mug, 2).await.status,
        StatusCode::OK
    );
    t.app.shutdown().await;
}
