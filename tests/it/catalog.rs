//! Sellers' own catalog: ownership, slugs under concurrency, soft delete with its 24-hour restore
//! window and the purge (with an injected clock), discount codes.

use crate::support::{CATALOG_SELLER, TestApp};
use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use domain::{Actor, Command, Role};
use serde_json::json;

fn mug() -> serde_json::Value {
    json!({"title": "Speckled Mug", "category": "kitchen", "subcategory": "mugs", "price": {"amount": 2400},
           "stock": 8, "status": "active", "brand": "Clay & Co", "tags": ["stoneware"], "colors": ["blue"]})
}

#[tokio::test]
async fn a_seller_never_touches_another_shops_products_or_codes() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let rival = t.user("rival@example.com", Role::Seller).await.token;
    let no_shop = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&rival),
            Some(mug()),
        )
        .await;
    assert_eq!(
        no_shop.status,
        StatusCode::CONFLICT,
        "a seller without a shop is told to open one"
    );
    t.call(
        Method::POST,
        "/api/seller/shop",
        Some(&rival),
        Some(json!({"name": "Rival Goods", "category": "kitchen", "country": "DE"})),
    )
    .await;

    let created = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&owner),
            Some(mug()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let product = created.json();
    let id = product["id"].as_str().unwrap().to_string();
    assert_eq!(
        (product["slug"].as_str(), product["brand"].as_str()),
        (Some("speckled-mug"), Some("Clay & Co"))
    );
    let code = t
        .call(Method::POST, "/api/seller/discount-codes", Some(&owner),
              Some(json!({"code": "clay10", "public_name": "Ten off", "kind": "percent", "value": 10, "product_ids": [id]})))
        .await;
    assert_eq!(code.status, StatusCode::CREATED, "{}", code.body);
    assert_eq!(code.json()["code"], "CLAY10");
    let code_id = code.json()["id"].as_str().unwrap().to_string();

    // The rival sees none of it and changes none of it.
    for (method, uri, body) in [
        (Method::GET, format!("/api/seller/products/{id}"), None),
        (
            Method::PATCH,
            format!("/api/seller/products/{id}"),
            Some(json!({"title": "Mine now"})),
        ),
        (Method::DELETE, format!("/api/seller/products/{id}"), None),
        (
            Method::POST,
            format!("/api/seller/products/{id}/restore"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/seller/discount-codes/{code_id}"),
            None,
        ),
    ] {
        let response = t.call(method.clone(), &uri, Some(&rival), body).await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{method} {uri}: {}",
            response.body
        );
    }
    let listed = t
        .call(Method::GET, "/api/seller/products", Some(&rival), None)
        .await
        .json();
    assert_eq!(listed["total"], 0);
    assert!(
        t.call(
            Method::GET,
            "/api/seller/discount-codes",
            Some(&rival),
            None
        )
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty()
    );
    let scoped = t
        .call(Method::POST, "/api/seller/discount-codes", Some(&rival),
              Some(json!({"code": "steal", "public_name": "x", "kind": "fixed", "value": 500, "product_ids": [id]})))
        .await;
    assert_eq!(
        scoped.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code cannot cover another shop's product"
    );
    let taken = t
        .call(
            Method::POST,
            "/api/seller/discount-codes",
            Some(&rival),
            Some(json!({"code": "Clay10", "public_name": "x", "kind": "percent", "value": 5})),
        )
        .await;
    assert_eq!(
        taken.status,
        StatusCode::CONFLICT,
        "codes are unique across the marketplace, case aside"
    );

    let mine = t
        .call(
            Method::GET,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            None,
        )
        .await
        .json();
    assert_eq!(mine["title"], "Speckled Mug");
    let edited = t
        .call(
            Method::PATCH,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            Some(json!({"sale_price": {"amount": 2000}, "stock": 3})),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.json()["current_price"]["amount"], 2000);
    let over = t
        .call(
            Method::PATCH,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            Some(json!({"sale_price": {"amount": 9000}})),
        )
        .await;
    assert_eq!(
        over.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a sale above the price is refused"
    );
    let ended = t
        .call(
            Method::PATCH,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            Some(json!({"sale_price": null})),
        )
        .await;
    assert_eq!(
        ended.json()["sale_price"],
        serde_json::Value::Null,
        "null ends the sale"
    );
    let public = t.get("/api/products/speckled-mug").await;
    assert_eq!(public.status, StatusCode::OK);
    t.app.shutdown().await;
}

#[tokio::test]
async fn slugs_stay_unique_when_many_products_are_created_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let answers = futures::future::join_all((0..40).map(|_| {
        t.call(
            Method::POST,
            "/api/seller/products",
            Some(&owner),
            Some(mug()),
        )
    }))
    .await;
    let mut slugs: Vec<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.json()["slug"].as_str().unwrap().to_string()
        })
        .collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 40, "every product got its own slug");
    assert!(
        slugs.contains(&"speckled-mug".to_string())
            && slugs.contains(&"speckled-mug-40".to_string())
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_deleted_product_can_be_restored_for_24_hours_and_is_then_purged() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let product = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&owner),
            Some(mug()),
        )
        .await
        .json();
    let id: domain::ProductId = product["id"].as_str().unwrap().parse().unwrap();
    let seller = t.app.state().account_by_email(CATALOG_SELLER).unwrap().id;
    let as_seller = Actor::Account {
        role: Role::Seller,
        id: seller,
    };

    // Deleted through the API: gone from the shop at once, still in the seller's list.
    let deleted = t
        .call(
            Method::DELETE,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.json()["restorable_until"].is_string());
    assert_eq!(
        t.get("/api/products/speckled-mug").await.status,
        StatusCode::NOT_FOUND
    );
    let listed = t
        .call(
            Method::GET,
            "/api/seller/products?status=deleted",
            Some(&owner),
            None,
        )
        .await
        .json();
    assert_eq!(listed["total"], 1);
    let edit = t
        .call(
            Method::PATCH,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            Some(json!({"stock": 1})),
        )
        .await;
    assert_eq!(
        edit.status,
        StatusCode::CONFLICT,
        "a deleted product is restored before it is edited"
    );
    let restored = t
        .call(
            Method::POST,
            &format!("/api/seller/products/{id}/restore"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK);
    assert_eq!(
        t.get("/api/products/speckled-mug").await.status,
        StatusCode::OK
    );

    // With the clock moved on: restorable 23 hours later, not 25 hours later.
    let deleted_at = Utc::now();
    t.app
        .execute_at(as_seller, Command::DeleteProduct { id }, deleted_at)
        .await
        .unwrap();
    assert_eq!(
        api::purge::purge_due(&t.app, deleted_at + Duration::hours(23))
            .await
            .products,
        0,
        "nothing is due yet"
    );
    t.app
        .execute_at(
            as_seller,
            Command::RestoreProduct { id },
            deleted_at + Duration::hours(23),
        )
        .await
        .unwrap();
    let again = deleted_at + Duration::hours(24);
    t.app
        .execute_at(as_seller, Command::DeleteProduct { id }, again)
        .await
        .unwrap();
    let late = t
        .app
        .execute_at(
            as_seller,
            Command::RestoreProduct { id },
            again + Duration::hours(25),
        )
        .await;
    assert!(matches!(late, Err(api::ApiError::Conflict(_))), "{late:?}");
    let early_purge = t
        .app
        .execute_at(
            Actor::System,
            Command::PurgeProduct { id },
            again + Duration::hours(1),
        )
        .await;
    assert!(early_purge.is_err(), "nothing is purged inside the window");
    let by_seller = t
        .app
        .execute_at(
            as_seller,
            Command::PurgeProduct { id },
            again + Duration::hours(30),
        )
        .await;
    assert!(
        matches!(by_seller, Err(api::ApiError::Forbidden(_))),
        "only the scheduled job purges"
    );

    assert_eq!(
        api::purge::purge_due(&t.app, again + Duration::hours(25))
            .await
            .products,
        1
    );
    assert!(!t.app.state().products.contains_key(&id), "purged");
    assert_eq!(
        t.call(
            Method::GET,
            &format!("/api/seller/products/{id}"),
            Some(&owner),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // The slug is free again.
    let reborn = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&owner),
            Some(mug()),
        )
        .await
        .json();
    assert_eq!(reborn["slug"], "speckled-mug");
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_new_product_is_found_at_once_despite_a_typo_and_a_search_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let created = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&owner),
            Some(mug()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let found = t.get("/api/products?q=speckeld%20mugs").await.json();
    assert_eq!(found["items"][0]["slug"], "speckled-mug", "{found}");
    let by_brand = t.get("/api/products?q=clay&category=kitchen").await.json();
    assert_eq!(
        by_brand["total"], 1,
        "search and filters combine: {by_brand}"
    );
    let id = created.json()["id"].as_str().unwrap().to_string();
    t.call(
        Method::DELETE,
        &format!("/api/seller/products/{id}"),
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(
        t.get("/api/products?q=speckled").await.json()["total"],
        0,
        "deleted products leave the index"
    );

    let before = t.app.log.records_in(ingest::Topic::Activity);
    let page = t.get("/?q=blue+mug").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Results for"), "{}", page.body);
    assert_eq!(
        t.app.log.records_in(ingest::Topic::Activity),
        before + 1,
        "the search is an activity event"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn admins_hide_products_and_reshape_the_categories_but_never_orphan_a_product() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;
    let admin = t.user("admin@example.com", Role::Admin).await.token;
    let owner = t.sign_in(CATALOG_SELLER).await;

    let hide = t
        .call(
            Method::POST,
            &format!("/api/admin/products/{}/hide", catalog.mug),
            Some(&admin),
            Some(json!({"reason": "counterfeit"})),
        )
        .await;
    assert_eq!(hide.status, StatusCode::NO_CONTENT, "{}", hide.body);
    assert_eq!(
        t.get("/api/products/blue-b-mug-b").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get("/api/products?q=blue").await.json()["total"],
        0,
        "hidden products are not found"
    );
    let seen = t
        .call(
            Method::GET,
            &format!("/api/seller/products/{}", catalog.mug),
            Some(&owner),
            None,
        )
        .await
        .json();
    assert_eq!(seen["hidden_reason"], "counterfeit", "the seller sees why");
    let listed = t
        .call(
            Method::GET,
            "/api/admin/products?hidden=true",
            Some(&admin),
            None,
        )
        .await
        .json();
    assert_eq!(listed["total"], 1);
    let shown = t
        .call(
            Method::DELETE,
            &format!("/api/admin/products/{}/hide", catalog.mug),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(shown.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.get("/api/products/blue-b-mug-b").await.status,
        StatusCode::OK
    );
    let by_seller = t
        .call(
            Method::POST,
            &format!("/api/admin/products/{}/hide", catalog.mug),
            Some(&owner),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(by_seller.status, StatusCode::FORBIDDEN);

    // Removing a category in use is refused, naming it; adding one works and shows everywhere.
    let without_books = json!({"name": "Test Market", "categories": [
        {"slug": "kitchen", "name": "Kitchen", "subcategories": [{"slug": "mugs", "name": "Mugs"}]}]});
    let refused = t
        .call(
            Method::PUT,
            "/api/admin/site",
            Some(&admin),
            Some(without_books),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("books")
    );
    let more = json!({"name": "Test Market", "categories": [
        {"slug": "kitchen", "name": "Kitchen", "subcategories": [{"slug": "mugs", "name": "Mugs"}]},
        {"slug": "books", "name": "Books"},
        {"slug": "garden", "name": "Garden"}]});
    let saved = t
        .call(Method::PUT, "/api/admin/site", Some(&admin), Some(more))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.json()["categories"][2]["name"], "Garden");
    assert!(
        t.get("/").await.body.contains("Garden"),
        "the shop's home lists the new category"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn shoppers_follow_shops_and_offers_are_live_or_upcoming() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;
    let ada = t.user("ada@example.com", Role::Shopper).await.token;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let shop = format!("/api/shops/{}", catalog.shop);

    assert_eq!(t.get(&shop).await.json()["following"], false);
    for _ in 0..2 {
        let followed = t
            .call(Method::PUT, &format!("{shop}/follow"), Some(&ada), None)
            .await;
        assert_eq!(followed.status, StatusCode::OK, "{}", followed.body);
        assert_eq!(
            (
                followed.json()["followers"].as_u64(),
                followed.json()["following"].as_bool()
            ),
            (Some(1), Some(true)),
            "following twice counts once"
        );
    }
    let seen = t.call(Method::GET, &shop, Some(&ada), None).await.json();
    assert_eq!(seen["following"], true);
    let by_seller = t
        .call(Method::PUT, &format!("{shop}/follow"), Some(&owner), None)
        .await;
    assert_eq!(
        by_seller.status,
        StatusCode::FORBIDDEN,
        "sellers do not follow shops"
    );
    let listed = t.get("/api/shops?q=stoneware").await.json();
    assert_eq!(
        (
            listed["total"].as_u64(),
            listed["items"][0]["followers"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let products = t.get(&format!("{shop}/products")).await.json();
    assert_eq!(products["total"], 2, "the shop's visible products");
    let unfollowed = t
        .call(Method::DELETE, &format!("{shop}/follow"), Some(&ada), None)
        .await
        .json();
    assert_eq!(unfollowed["followers"], 0);
    assert_eq!(
        t.get("/api/shops/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let now = Utc::now();
    for (title, starts, ends) in [
        (
            "Live Deal",
            now - Duration::hours(1),
            now + Duration::hours(5),
        ),
        (
            "Soon Deal",
            now + Duration::hours(2),
            now + Duration::hours(9),
        ),
        (
            "Past Deal",
            now - Duration::hours(9),
            now - Duration::hours(1),
        ),
    ] {
        let offer = json!({"title": title, "category": "kitchen", "price": {"amount": 900}, "status": "active",
                           "starts_at": starts, "ends_at": ends});
        assert_eq!(
            t.call(
                Method::POST,
                "/api/seller/products",
                Some(&owner),
                Some(offer)
            )
            .await
            .status,
            StatusCode::CREATED
        );
    }
    let half_open = json!({"title": "Broken", "category": "kitchen", "price": {"amount": 900}, "starts_at": now});
    assert_eq!(
        t.call(
            Method::POST,
            "/api/seller/products",
            Some(&owner),
            Some(half_open)
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let offers = t.get("/api/offers").await.json();
    assert_eq!(offers["live"].as_array().unwrap().len(), 1, "{offers}");
    assert_eq!(offers["live"][0]["title"], "Live Deal");
    assert_eq!(offers["upcoming"][0]["title"], "Soon Deal");
    assert_eq!(
        offers["upcoming"].as_array().unwrap().len(),
        1,
        "ended offers are left out"
    );
    // Offers are found however many newer products there are (not only among the newest 100).
    let newer = futures::future::join_all((0..101).map(|n| {
        let plain = json!({"title": format!("Plain {n}"), "category": "books", "price": {"amount": 500}, "status": "active"});
        t.call(Method::POST, "/api/seller/products", Some(&owner), Some(plain))
    }))
    .await;
    assert!(newer.iter().all(|r| r.status == StatusCode::CREATED));
    let offers = t.get("/api/offers").await.json();
    assert_eq!(offers["live"][0]["title"], "Live Deal", "{offers}");
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_shop_page_lists_its_products_records_the_visit_and_follows() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let before = t.app.log.records_in(ingest::Topic::Activity);
    let page = t.get("/shops/clay-co").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Field Guide") && !page.body.contains("Secret Prototype"),
        "visible products only"
    );
    assert_eq!(
        t.app.log.records_in(ingest::Topic::Activity),
        before + 1,
        "a shop_visit is recorded"
    );
    assert_eq!(t.get("/shops/nowhere").await.status, StatusCode::NOT_FOUND);

    let ada = t.user("ada@example.com", Role::Shopper).await.token;
    let followed = t.post_form("/shops/clay-co/follow", &ada, "follow=1").await;
    assert_eq!(followed.status, StatusCode::SEE_OTHER);
    let shop = t.app.state().shops.values().next().unwrap().id;
    assert_eq!(t.app.state().followers[&shop].len(), 1);
    let page = t
        .call(Method::GET, "/shops/clay-co", Some(&ada), None)
        .await;
    assert!(page.body.contains("Following"), "the button says so");
    t.app.shutdown().await;
}

#[tokio::test]
async fn the_shops_directory_and_the_offers_page_show_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let shops = t.get("/shops?q=stoneware").await;
    assert_eq!(shops.status, StatusCode::OK);
    assert!(
        shops.body.contains("Clay &amp; Co") || shops.body.contains("Clay &#38; Co"),
        "{}",
        shops.body
    );
    assert!(t.get("/shops?q=zzz").await.body.contains("No shops match"));

    assert!(
        t.get("/offers")
            .await
            .body
            .contains("No offers are running")
    );
    let now = Utc::now();
    let offer = json!({"title": "Flash Mug", "category": "kitchen", "price": {"amount": 900}, "status": "active",
                       "starts_at": now - Duration::hours(1), "ends_at": now + Duration::hours(3)});
    t.call(
        Method::POST,
        "/api/seller/products",
        Some(&owner),
        Some(offer),
    )
    .await;
    let page = t.get("/offers").await.body;
    assert!(
        page.contains("Flash Mug") && page.contains("data-countdown"),
        "{page}"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_seller_edits_their_product_in_the_portal_and_no_one_else_can() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;
    let owner = t.sign_in(CATALOG_SELLER).await;
    let rival = t.user("rival@example.com", Role::Seller).await.token;
    let edit = format!("/seller/products/{}/edit", catalog.mug);
    let page = t
        .call(
            Method::GET,
            &format!("/seller/products/{}/edit", catalog.mug),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("value=\"19.99\""),
        "the form is filled in with the price as typed"
    );
    let foreign = t
        .call(
            Method::GET,
            &format!("/seller/products/{}/edit", catalog.mug),
            Some(&rival),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let stolen = t
        .post_form(&edit, &rival, "title=Mine&category=kitchen&price=1")
        .await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND);

    let bad = t
        .post_form(
            &edit,
            &owner,
            "title=Blue+Mug&category=kitchen%2Fmugs&price=19.99&sale_price=25",
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a sale above the price"
    );
    let saved = t
        .post_form(
            &edit,
            &owner,
            "title=Blue+Mug+v2&category=kitchen%2Fmugs&price=21&sale_price=&stock=4&tags=gift",
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let product = t.app.state().products[&catalog.mug].clone();
    assert_eq!(
        (product.title.as_str(), product.price.amount, product.stock),
        ("Blue Mug v2", 2100, 4)
    );
    assert_eq!(product.details.tags, ["gift"]);
    assert_eq!(product.subcategory.as_deref(), Some("mugs"));
    t.app.shutdown().await;
}

#[tokio::test]
async fn the_search_box_suggests_categories_shops_and_products_as_people_type() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let typed = t.get("/api/products/suggest?q=blu").await.json();
    let texts: Vec<&str> = typed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"Blue <b>Mug</b>"), "{typed}");
    assert_eq!(typed[0]["url"], "/products/blue-b-mug-b");
    let categories = t.get("/api/products/suggest?q=Kit").await.json();
    assert_eq!(categories[0]["kind"], "category", "{categories}");
    assert_eq!(categories[0]["url"], "/?category=kitchen");
    let shops = t.get("/api/products/suggest?q=clay").await.json();
    assert!(
        shops
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "shop"),
        "{shops}"
    );
    // A draft is never suggested, and one letter suggests nothing yet.
    let drafts = t.get("/api/products/suggest?q=secret").await.json();
    assert!(drafts.as_array().unwrap().is_empty(), "{drafts}");
    assert!(
        t.get("/api/products/suggest?q=b")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn renaming_a_category_renames_it_in_search_too() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let admin = t.user("admin@example.com", Role::Admin).await.token;
    let found = |body: &serde_json::Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["slug"] == "field-guide")
    };
    assert!(!found(&t.get("/api/products?q=literature").await.json()));
    let renamed = json!({
        "name": "Test Market",
        "categories": [
            {"slug": "kitchen", "name": "Kitchen", "subcategories": [{"slug": "mugs", "name": "Mugs"}]},
            {"slug": "books", "name": "Literature", "subcategories": []}
        ]
    });
    let saved = t
        .call(Method::PUT, "/api/admin/site", Some(&admin), Some(renamed))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert!(
        found(&t.get("/api/products?q=literature").await.json()),
        "the book is found by its category's new name"
    );
    t.app.shutdown().await;
}
