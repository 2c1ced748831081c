//! Images and shops: uploads are checked (size, type, pixels), stored, served with caching headers,
//! owned by one shop, and cleaned up; shops keep a profile and can be deleted with 28 days to undo.

use crate::support::{TestApp, png};
use axum::http::{Method, StatusCode, header};
use chrono::{Duration, Utc};
use domain::Role;
use serde_json::json;

/// A PNG whose header claims `width` × `height` pixels, followed by a short, valid start of the
/// compressed data: a few hundred bytes that would decode to gigabytes (a decompression bomb).
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut png, b"IHDR", &header);
    // zlib: header, then one fixed-Huffman block of zeros (a valid start; the rest never comes).
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

async fn seller_with_shop(t: &TestApp, email: &str, name: &str) -> crate::support::User {
    let seller = t.user(email, Role::Seller).await;
    let opened = t
        .call(
            Method::POST,
            "/api/seller/shop",
            Some(&seller.token),
            Some(json!({"name": name, "category": "kitchen", "country": "DE"})),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    seller
}

fn stored_files(dir: &std::path::Path, id: &str) -> usize {
    std::fs::read_dir(dir.join("media").join(id)).map_or(0, |entries| entries.count())
}

#[tokio::test]
async fn uploads_are_checked_before_anything_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let seller = seller_with_shop(&t, "maker@example.com", "Maker").await;

    let oversize = vec![0x89u8; api::media::MAX_UPLOAD_BYTES + 1];
    let refused = t.upload(&seller.token, &oversize).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("at most 10 MB"), "{}", refused.body);

    let refused = t.upload(&seller.token, b"%PDF-1.7 a document").await;
    assert_eq!(
        refused.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("JPEG, PNG, GIF or WebP"),
        "{}",
        refused.body
    );

    let bomb = png_bomb(40_000, 40_000);
    assert!(bomb.len() < 100, "the bomb is tiny: {} bytes", bomb.len());
    let refused = t.upload(&seller.token, &bomb).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("40000 × 40000 pixels"),
        "{}",
        refused.body
    );

    let not_multipart = t
        .call(
            Method::POST,
            "/api/seller/media",
            Some(&seller.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        not_multipart.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_multipart.body
    );

    // A shopper cannot upload; a seller without a shop is told to open one.
    let shopper = t.user("shopper@example.com", Role::Shopper).await;
    assert_eq!(
        t.upload(&shopper.token, &png(8, 8)).await.status,
        StatusCode::FORBIDDEN
    );
    let shopless = t.user("new@example.com", Role::Seller).await;
    assert_eq!(
        t.upload(&shopless.token, &png(8, 8)).await.status,
        StatusCode::CONFLICT
    );
    assert!(
        t.app.state().media.is_empty(),
        "nothing refused was recorded"
    );
    assert!(
        std::fs::read_dir(dir.path().join("media"))
            .unwrap()
            .next()
            .is_none(),
        "and nothing refused was stored"
    );
    t.app.shutdown().await;
}

#[tokio::test]
async fn an_image_is_stored_served_owned_by_its_shop_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let seller = seller_with_shop(&t, "maker@example.com", "Maker").await;
    let other = seller_with_shop(&t, "rival@example.com", "Rival").await;

    let uploaded = t.upload(&seller.token, &png(1200, 900)).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.body);
    let image = uploaded.json();
    let id = image["id"].as_str().unwrap().to_string();
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(1200), Some(900))
    );
    assert_eq!(stored_files(dir.path(), &id), 3, "thumb, card and zoom");

    let served = t.get(image["variants"]["zoom"].as_str().unwrap()).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers[header::CONTENT_TYPE], "image/webp");
    assert!(
        served.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = served.headers[header::ETAG].clone();
    let again = t
        .request(
            axum::http::Request::get(image["url"].as_str().unwrap().replace("card", "zoom"))
                .header(header::IF_NONE_MATCH, etag)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        t.get(&format!("/media/{id}/huge.webp")).await.status,
        StatusCode::NOT_FOUND
    );

    // On a product of its shop, in order; another shop can neither use nor delete it.
    let product = json!({"title": "Pictured mug", "category": "kitchen", "price": {"amount": 1500}, "status": "active", "images": [id]});
    let created = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&seller.token),
            Some(product.clone()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let product_id = created.json()["id"].as_str().unwrap().to_string();
    let shown = t
        .get(&format!(
            "/api/products/{}",
            created.json()["slug"].as_str().unwrap()
        ))
        .await;
    assert_eq!(shown.json()["images"][0]["id"], id.as_str());
    assert_eq!(shown.json()["image_url"], image["url"]);
    let stolen = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&other.token),
            Some(product),
        )
        .await;
    assert_eq!(
        stolen.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        stolen.body
    );
    let delete = |token: &str| {
        let token = token.to_string();
        let uri = format!("/api/seller/media/{id}");
        let t = &t;
        async move { t.call(Method::DELETE, &uri, Some(&token), None).await }
    };
    assert_eq!(delete(&other.token).await.status, StatusCode::NOT_FOUND);

    // In use: refused, naming the product. Once off the product, deleted with its files.
    let in_use = delete(&seller.token).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(in_use.body.contains("Pictured mug"), "{}", in_use.body);
    let cleared = t
        .call(
            Method::PATCH,
            &format!("/api/seller/products/{product_id}"),
            Some(&seller.token),
            Some(json!({"images": []})),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(delete(&seller.token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(stored_files(dir.path(), &id), 0);
    assert_eq!(
        t.get(image["url"].as_str().unwrap()).await.status,
        StatusCode::NOT_FOUND
    );

    // An upload no one uses is purged after a day, files and all.
    let unused = t.upload(&seller.token, &png(50, 50)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = Utc::now();
    assert_eq!(
        api::purge::purge_due(&t.app, now + Duration::hours(23))
            .await
            .images,
        0
    );
    assert_eq!(
        api::purge::purge_due(&t.app, now + Duration::hours(25))
            .await
            .images,
        1
    );
    assert_eq!(stored_files(dir.path(), &unused), 0);
    assert!(t.app.state().media.is_empty());
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_shop_keeps_a_profile_and_closes_28_days_after_its_seller_asks() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let seller = seller_with_shop(&t, "maker@example.com", "Maker").await;
    let avatar = t.upload(&seller.token, &png(300, 300)).await.json()["id"].clone();
    let patched = t
        .call(
            Method::PATCH,
            "/api/seller/shop",
            Some(&seller.token),
            Some(json!({
                "avatar": avatar, "opening_hours": "Mon-Fri 9-18", "website": "https://maker.example",
                "links": ["https://instagram.com/maker"],
                "settings": {"low_stock_threshold": 3, "email_new_orders": false, "email_low_stock": true}
            })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let shop = patched.json();
    assert_eq!(shop["settings"]["low_stock_threshold"], 3);
    assert_eq!(shop["opening_hours"], "Mon-Fri 9-18");
    let public = t
        .get(&format!("/api/shops/{}", shop["id"].as_str().unwrap()))
        .await
        .json();
    assert!(
        public["avatar_url"]
            .as_str()
            .unwrap()
            .ends_with("thumb.webp")
    );
    assert!(
        public.get("settings").is_none(),
        "settings are the seller's own: {public}"
    );
    let bad = t
        .call(
            Method::PATCH,
            "/api/seller/shop",
            Some(&seller.token),
            Some(json!({"links": ["javascript:alert(1)"]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);

    let product = t
        .call(
            Method::POST,
            "/api/seller/products",
            Some(&seller.token),
            Some(json!({"title": "Last mug", "category": "kitchen", "price": {"amount": 900}, "status": "active"})),
        )
        .await
        .json();
    let scheduled = t
        .call(
            Method::DELETE,
            "/api/seller/shop",
            Some(&seller.token),
            None,
        )
        .await;
    assert_eq!(scheduled.status, StatusCode::OK, "{}", scheduled.body);
    assert!(scheduled.json()["closes_at"].is_string());
    assert_eq!(
        t.call(
            Method::DELETE,
            "/api/seller/shop",
            Some(&seller.token),
            None
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let restored = t
        .call(
            Method::POST,
            "/api/seller/shop/restore",
            Some(&seller.token),
            None,
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert!(restored.json()["closes_at"].is_null());
    let asked = Utc::now();
    t.call(
        Method::DELETE,
        "/api/seller/shop",
        Some(&seller.token),
        None,
    )
    .await;

    let purged = api::purge::purge_due(&t.app, asked + Duration::days(27)).await;
    assert_eq!(purged.shops, 0, "still inside the window");
    let purged =
        api::purge::purge_due(&t.app, asked + Duration::days(28) + Duration::minutes(1)).await;
    assert_eq!(
        (purged.shops, purged.products),
        (1, 0),
        "the shop's products go with it"
    );
    assert_eq!(
        t.get(&format!(
            "/api/products/{}",
            product["slug"].as_str().unwrap()
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.call(Method::GET, "/api/seller/shop", Some(&seller.token), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let reopened = t
        .call(
            Method::POST,
            "/api/seller/shop",
            Some(&seller.token),
            Some(json!({"name": "Maker again", "category": "kitchen", "country": "DE"})),
        )
        .await;
    assert_eq!(reopened.status, StatusCode::FORBIDDEN, "{}", reopened.body);
    t.app.shutdown().await;
}

#[tokio::test]
async fn a_seller_adds_a_product_with_pictures_in_the_portal() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let seller = seller_with_shop(&t, "maker@example.com", "Maker").await;
    let fields = [
        ("title", "Speckled bowl"),
        ("category", "kitchen"),
        ("price", "18.50"),
        ("stock", "4"),
        ("status", "active"),
        ("summary", "A deep bowl."),
        (
            "description",
            "<p>Thrown <strong>by hand</strong><script>alert(1)</script></p>",
        ),
        ("specs", "Material: stoneware\nCapacity: 600 ml"),
        ("cash_on_delivery", "on"),
    ];
    let front = png(640, 480);
    let side = png(480, 640);
    let saved = t
        .post_multipart(
            "/seller/products/new",
            &seller.token,
            &fields,
            &[
                ("new_images", "front.png", &front),
                ("new_images", "side.png", &side),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let state = t.app.state();
    let bowl = state.product_by_slug("speckled-bowl").expect("created");
    assert_eq!(bowl.images.len(), 2);
    assert!(!bowl.description.contains("script"), "{}", bowl.description);
    let page = t.get("/products/speckled-bowl").await;
    assert_eq!(page.status, StatusCode::OK);
    for image in &bowl.images {
        assert!(
            page.body.contains(&format!("/media/{image}/zoom.webp")),
            "the gallery shows every image"
        );
    }
    assert!(page.body.contains("<strong>by hand</strong>") && page.body.contains("stoneware"));
    assert!(!page.body.contains("alert(1)"));

    // A failed save keeps the uploads: the form comes back with them ticked.
    let broken = t
        .post_multipart(
            &format!("/seller/products/{}/edit", bowl.id),
            &seller.token,
            &[
                ("title", "Speckled bowl"),
                ("category", "kitchen"),
                ("price", "oops"),
                ("images", &bowl.images[1].to_string()),
            ],
            &[("new_images", "top.png", &png(300, 300))],
        )
        .await;
    assert_eq!(
        broken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        broken.body
    );
    assert_eq!(
        broken.body.matches("name=\"images\"").count(),
        2,
        "the kept image and the new one"
    );
    // Reordered: only the side picture, now the cover.
    let saved = t
        .post_multipart(
            &format!("/seller/products/{}/edit", bowl.id),
            &seller.token,
            &[
                ("title", "Speckled bowl"),
                ("category", "kitchen"),
                ("price", "18.50"),
                ("images", &bowl.images[1].to_string()),
            ],
            &[],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        t.app
            .state()
            .product_by_slug("speckled-bowl")
            .unwrap()
            .images,
        vec![bowl.images[1]]
    );
    t.app.shutdown().await;
}
