//! The JSON API: answers, errors, and the OpenAPI document matching the router.

use crate::support::TestApp;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use ingest::Topic;

#[tokio::test]
async fn catalog_routes_answer_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;

    let site = t.get("/api/site").await.json();
    assert_eq!(site["name"], "Test Market");
    assert_eq!(site["categories"][0]["slug"], "kitchen");
    assert_eq!(
        site["categories"][0]["product_count"], 1,
        "drafts are not counted"
    );

    let all = t.get("/api/products").await.json();
    assert_eq!(all["total"], 2);
    assert_eq!(
        (all["page"].as_u64(), all["per_page"].as_u64()),
        (Some(1), Some(20))
    );
    let books = t.get("/api/products?category=books").await.json();
    assert_eq!(books["total"], 1);
    assert_eq!(books["items"][0]["id"], catalog.book.to_string());
    assert_eq!(books["items"][0]["price"]["amount"], 2500);
    assert_eq!(books["items"][0]["price"]["display"], "$25.00");
    let paged = t
        .get("/api/products?per_page=1&page=2&sort=price_asc")
        .await
        .json();
    assert_eq!(
        (paged["items"][0]["title"].as_str(), paged["total"].as_u64()),
        (Some("Field Guide"), Some(2))
    );
    let capped = t.get("/api/products?per_page=1000").await.json();
    assert_eq!(capped["per_page"], 100);

    let mug = t.get("/api/products/blue-b-mug-b").await;
    assert_eq!(mug.status, StatusCode::OK);
    assert_eq!(mug.json()["shop"]["name"], "Clay & Co");
    let draft = t.get("/api/products/secret-prototype").await;
    assert_eq!(draft.status, StatusCode::NOT_FOUND, "drafts are hidden");
    assert_eq!(draft.json()["error"]["code"], "not_found");
    let bad = t.get("/api/products?page=first").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["code"], "malformed_query");
    let _ = catalog.draft;
    t.app.shutdown().await;
}

#[tokio::test]
async fn bad_activity_is_refused_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;
    let before = t.app.log.records_in(Topic::Activity);

    let cases = [
        (
            serde_json::json!({"kind": "teleport"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            serde_json::json!({"kind": "product_view"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            serde_json::json!({"kind": "product_view", "product_id": uuid::Uuid::nil()}),
            StatusCode::NOT_FOUND,
        ),
        (
            serde_json::json!({"kind": "product_view", "product_id": catalog.draft}),
            StatusCode::NOT_FOUND,
        ),
        (
            serde_json::json!({"kind": "search", "query": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            serde_json::json!({"kind": "search", "query": "x", "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        let response = t.post_json("/api/activity", body.clone()).await;
        assert_eq!(response.status, status, "{body} → {}", response.body);
        let error = &response.json()["error"];
        assert!(
            error["code"].is_string() && !error["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
    }
    let garbage = t
        .request(
            Request::post("/api/activity")
                .header("content-type", "application/json")
                .body(Body::from("{oops"))
                .unwrap(),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        t.app.log.records_in(Topic::Activity),
        before,
        "refused input writes nothing"
    );

    let ok = t
        .post_json(
            "/api/activity",
            serde_json::json!({"kind": "search", "query": " mug "}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    assert_eq!(t.app.log.records_in(Topic::Activity), before + 1);
    t.app.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    t.seed_catalog().await;
    let doc = t.get("/api/openapi.json").await.json();
    let paths = doc["paths"].as_object().expect("paths");

    // Every route of the contract this issue builds is documented ...
    for (method, path) in [
        ("get", "/api/site"),
        ("get", "/api/products"),
        ("get", "/api/products/{slug}"),
        ("post", "/api/activity"),
        ("get", "/health"),
        ("get", "/metrics"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // ... and every documented operation is served: not 405, and not the router's own 404 for
    // unknown routes. (Who may call each one is `accounts::every_route_answers_each_role_as_allowed`.)
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let uri = path
                .replace("{slug}", "blue-b-mug-b")
                .replace("{id}", &uuid::Uuid::nil().to_string());
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = if method == Method::POST {
                Body::from(r#"{"kind":"search","query":"mug"}"#)
            } else {
                Body::empty()
            };
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(body)
                .unwrap();
            let response = t.request(request).await;
            assert!(
                response.status != StatusCode::METHOD_NOT_ALLOWED
                    && !response.body.contains("no such API route"),
                "{method} {uri} is documented but not served: {} {}",
                response.status,
                response.body
            );
            let public_read =
                path.starts_with("/api/products") || path == "/api/site" || path == "/health";
            if method == Method::GET && public_read {
                assert!(
                    response.status.is_success(),
                    "{method} {uri}: {}",
                    response.status
                );
            }
        }
    }
    let docs = t.get("/api/docs/").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        docs.body.contains("swagger"),
        "the docs page is served from the binary"
    );
    let unknown = t.get("/api/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "not_found");
    let health = t.get("/health").await.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["workers"]["lake_sink"]["state"], "running");
    assert_eq!(health["topics"]["activity"]["partitions"], 1);

    // The sink's figures, in Prometheus text, once the seeded activity is in the lake.
    let end = t.app.log.records_in(Topic::Commerce);
    t.lake_reaches(Topic::Commerce, end).await;
    let metrics = t.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.body;
    let commerce = r#"{topic="commerce",partition="0"}"#;
    assert!(
        text.contains(&format!("marketplace_sink_rows_total{commerce} {end}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("marketplace_sink_lag_records{commerce} 0")),
        "{text}"
    );
    assert!(
        text.contains(&format!("marketplace_sink_lag_seconds{commerce} 0")),
        "{text}"
    );
    assert!(text.contains(
        r#"marketplace_sink_commit_seconds_bucket{topic="commerce",partition="0",le="+Inf"}"#
    ));
    assert!(text.contains(r#"marketplace_worker_up{worker="lake_sink"} 1"#));
    assert_eq!(
        text.matches("# TYPE marketplace_sink_commit_seconds histogram")
            .count(),
        1
    );
    // Every family's samples come together, right after its TYPE line, as the format requires.
    let mut families = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        if families.last() != Some(&family) {
            assert!(
                !families.contains(&family),
                "{family} is split in two groups"
            );
            families.push(family);
        }
    }
    t.app.shutdown().await;
}
