//! The SQL explorer (`POST /api/sql`, `GET /api/sql/tables`, `/admin/sql`): admins and analysts
//! ask their own questions, read-only and bounded.

use crate::orders::{open_session, pay, put_item, second_shop, shopper_with_address};
use crate::support::{Catalog, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use domain::Role;
use serde_json::{Value, json};
use std::time::Duration;

const CATEGORY_SALES: &str = "SELECT p.category, sum(i.quantity) AS units, sum(i.subtotal - i.discount) AS revenue \
    FROM silver.order_items AS i JOIN silver.products AS p USING (product_id) \
    WHERE i.day >= current_date - INTERVAL '7 days' GROUP BY p.category ORDER BY revenue DESC";

async fn ask(t: &TestApp, token: &str, body: Value, accept: &str) -> crate::support::Response {
    let request = Request::post("/api/sql")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, accept)
        .body(Body::from(body.to_string()))
        .unwrap();
    t.request(request).await
}

#[tokio::test]
async fn admins_and_analysts_ask_read_only_bounded_questions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = api::Config::new(dir.path());
    config.retraining.enabled = false;
    config.sql_limits = lakehouse::Limits {
        // Time for an honest question on a busy CI machine; the runaway below meets the memory
        // limit (or this one) long before it could finish.
        time: Duration::from_secs(10),
        memory_bytes: 8 << 20,
        rows: 1000,
    };
    let t = TestApp::start_with(config).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let (seller, _, bowl) = second_shop(&t, 5).await;
    let (shopper, address) = shopper_with_address(&t, "sam@example.com").await;
    put_item(&t, &shopper.token, mug, 2).await;
    put_item(&t, &shopper.token, bowl, 1).await;
    let id = open_session(&t, &shopper.token, &address).await;
    pay(&t, &shopper.token, &id, "4242424242424242").await;
    let events = t
        .app
        .log
        .end_offset(ingest::TopicPartition::new(ingest::Topic::Commerce, 0));
    t.lake_reaches(ingest::Topic::Commerce, events).await;
    for pipeline in ["silver_products", "silver_order_items"] {
        t.pipeline_reaches(pipeline, events).await;
    }
    let analyst = t.user("ana@example.com", Role::Analyst).await;
    let admin = t.user("boss@example.com", Role::Admin).await;

    // Which category sold most last week: as JSON, CSV, Parquet and Arrow.
    let answer = ask(
        &t,
        &analyst.token,
        json!({"sql": CATEGORY_SALES}),
        "application/json",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = answer.json();
    let names: Vec<&str> = answer["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["category", "units", "revenue"]);
    assert_eq!(
        answer["rows"],
        json!([["kitchen", 3, 2 * 1999 + 3333]]),
        "{answer}"
    );
    assert_eq!(
        (answer["row_count"].clone(), answer["truncated"].clone()),
        (json!(1), json!(false))
    );
    assert!(
        answer["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["table"] == "silver.order_items")
    );
    let csv = ask(&t, &admin.token, json!({"sql": CATEGORY_SALES}), "text/csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.body, "category,units,revenue\nkitchen,3,7331\n");
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("query.csv")
    );
    let parquet = ask(
        &t,
        &admin.token,
        json!({"sql": CATEGORY_SALES}),
        "application/vnd.apache.parquet",
    )
    .await;
    assert!(parquet.body.starts_with("PAR1"), "a Parquet file");
    let arrow = ask(
        &t,
        &admin.token,
        json!({"sql": CATEGORY_SALES}),
        "application/vnd.apache.arrow.stream",
    )
    .await;
    assert_eq!(
        arrow.headers[header::CONTENT_TYPE],
        "application/vnd.apache.arrow.stream"
    );
    assert!(!arrow.body.is_empty());
    let cut = ask(
        &t,
        &analyst.token,
        json!({"sql": "SELECT * FROM bronze.commerce", "limit": 2}),
        "application/json",
    )
    .await
    .json();
    assert_eq!(
        (cut["row_count"].clone(), cut["truncated"].clone()),
        (json!(2), json!(true))
    );

    // Read-only: DDL, DML, COPY and settings are refused, and nothing changes.
    let before = t
        .sql_count("SELECT count(*) AS n FROM silver.order_items")
        .await;
    for sql in [
        "CREATE TABLE stolen AS SELECT * FROM silver.orders",
        "CREATE EXTERNAL TABLE secrets STORED AS CSV LOCATION '/etc/passwd'",
        "DROP TABLE silver.order_items",
        "INSERT INTO silver.order_items SELECT * FROM silver.order_items",
        "DELETE FROM silver.order_items",
        "COPY silver.order_items TO '/tmp/explorer-stolen.csv'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let refused = ask(&t, &analyst.token, json!({"sql": sql}), "application/json").await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{sql}: {}",
            refused.body
        );
        let error = &refused.json()["error"];
        assert!(
            matches!(error["code"].as_str(), Some("read_only" | "bad_sql")),
            "{sql}: {error}"
        );
    }
    let copy = ask(
        &t,
        &analyst.token,
        json!({"sql": "COPY silver.order_items TO '/tmp/explorer-stolen.csv'"}),
        "application/json",
    )
    .await;
    assert_eq!(copy.json()["error"]["code"], "read_only", "{}", copy.body);
    assert!(
        copy.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only")
    );
    assert!(!std::path::Path::new("/tmp/explorer-stolen.csv").exists());
    assert_eq!(
        t.sql_count("SELECT count(*) AS n FROM silver.order_items")
            .await,
        before
    );

    // A runaway query is stopped by its limits, with a message that says what to do.
    let runaway = ask(
        &t,
        &analyst.token,
        json!({"sql": "SELECT a.payload, b.payload, c.id FROM bronze.commerce a, bronze.commerce b, bronze.commerce c ORDER BY 1, 2, 3"}),
        "application/json",
    )
    .await;
    assert_eq!(runaway.status, StatusCode::BAD_REQUEST, "{}", runaway.body);
    let error = &runaway.json()["error"];
    assert_eq!(error["code"], "query_limit", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("stopped"),
        "{error}"
    );
    // Bad SQL and a bad time-travel point get clear errors.
    let typo = ask(
        &t,
        &analyst.token,
        json!({"sql": "SELEC 1"}),
        "application/json",
    )
    .await;
    assert_eq!(typo.json()["error"]["code"], "bad_sql");
    let past = ask(
        &t,
        &analyst.token,
        json!({"sql": "SELECT 1", "as_of": "yesterday"}),
        "application/json",
    )
    .await;
    assert_eq!(
        past.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        past.body
    );
    let first = ask(
        &t,
        &analyst.token,
        json!({"sql": "SELECT count(*) AS n FROM silver.order_items", "as_of": "0"}),
        "application/json",
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);

    // Sellers, shoppers and strangers are refused.
    for token in [
        Some(seller.token.as_str()),
        Some(shopper.token.as_str()),
        None,
    ] {
        let refused = t
            .call(
                Method::POST,
                "/api/sql",
                token,
                Some(json!({"sql": "SELECT 1"})),
            )
            .await;
        let expected = if token.is_some() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(refused.status, expected, "{}", refused.body);
        let tables = t.call(Method::GET, "/api/sql/tables", token, None).await;
        assert_eq!(tables.status, expected);
    }

    // The table browser: every table with its columns and version.
    let tables = t
        .call(Method::GET, "/api/sql/tables", Some(&analyst.token), None)
        .await
        .json();
    let orders = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "silver.order_items")
        .expect("silver.order_items is listed");
    assert!(
        orders["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "quantity")
    );
    assert!(
        tables
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["table"] != "bronze.credentials")
    );

    // The explorer page: the answer as a table and a chart, and its download.
    let form = |sql: &str| format!("sql={}&as_of=", urlencode(sql));
    let page = t
        .post_form("/admin/sql", &analyst.token, &form(CATEGORY_SALES))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<td>kitchen</td>"), "{}", page.body);
    assert!(page.body.contains("1 row in"));
    let download = t
        .post_form(
            "/admin/sql/download",
            &analyst.token,
            &format!("{}&format=csv", form(CATEGORY_SALES)),
        )
        .await;
    assert_eq!(download.body, "category,units,revenue\nkitchen,3,7331\n");
    let refused = t
        .post_form(
            "/admin/sql",
            &analyst.token,
            &form("DROP TABLE silver.orders"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("read-only"), "the page says why");
    t.app.shutdown().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Visits (`silver.sessions`) reach the admin dashboard: one visitor who looks around and one who
/// leaves after a single page make two visits, two visitors and a 50% bounce rate.
#[tokio::test]
async fn visits_reach_the_admin_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let Catalog { mug, .. } = t.seed_catalog().await;
    let browsing = t.user("bea@example.com", Role::Shopper).await;
    let bouncing = t.user("bo@example.com", Role::Shopper).await;
    for (who, kind) in [
        (&browsing, "product_view"),
        (&browsing, "add_to_wishlist"),
        (&browsing, "add_to_cart"),
        (&bouncing, "product_view"),
    ] {
        let recorded = t
            .call(
                Method::POST,
                "/api/activity",
                Some(&who.token),
                Some(json!({"kind": kind, "product_id": mug})),
            )
            .await;
        assert!(recorded.status.is_success(), "{}", recorded.body);
    }
    let end = t.app.log.records_in(ingest::Topic::Activity);
    t.lake_reaches(ingest::Topic::Activity, end).await;
    t.pipeline_reaches("silver_sessions", end).await;

    let (admin, figures) = t.admin_dashboard().await;
    let visits = &figures["visits"];
    assert_eq!(visits["visits"], 2, "{visits}");
    assert_eq!(visits["visitors"], 2, "{visits}");
    assert_eq!(visits["bounces"], 1, "{visits}");
    let page = t.page("/admin", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Bounce rate") && page.body.contains("50%"),
        "{}",
        page.body
    );
    t.app.shutdown().await;
}
