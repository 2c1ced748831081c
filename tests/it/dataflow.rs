//! The issue's end-to-end promise: a product page view flows log → bronze → gold → admin page,
//! and a restart on the same data dir rebuilds the state, duplicates nothing and loses nothing.

use crate::support::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ingest::Topic;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_view_reaches_gold_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;

    // The shop portal lists the products by category, escaped, without the draft.
    let home = t.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Blue &#60;b&#62;Mug&#60;/b&#62;")
            || home.body.contains("Blue &lt;b&gt;Mug&lt;/b&gt;"),
        "titles are escaped"
    );
    assert!(
        home.body.contains("Field Guide")
            && home.body.contains("Kitchen")
            && home.body.contains("Books")
    );
    assert!(
        !home.body.contains("Secret Prototype"),
        "drafts are not for sale"
    );

    // Opening a product page records a product_view (and gives the visitor a session cookie).
    let before = t.app.log.records_in(Topic::Activity);
    let page = t.get("/products/blue-b-mug-b").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.headers
            .get(header::SET_COOKIE)
            .is_some_and(|c| c.to_str().unwrap().starts_with("sid="))
    );
    assert_eq!(t.app.log.records_in(Topic::Activity), before + 1);
    // A second view from the same browser keeps its session.
    let cookie = page.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let again = t
        .request(
            Request::get("/products/blue-b-mug-b")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(again.headers.get(header::SET_COOKIE).is_none());
    let end = t.app.log.records_in(Topic::Activity);

    // Within seconds: a row in bronze.activity ...
    t.lake_reaches(Topic::Activity, end).await;
    assert_eq!(
        t.sql_count("select count(*) as n from bronze.activity where kind = 'product_view'")
            .await,
        2
    );
    let session = cookie.trim_start_matches("sid=");
    assert_eq!(
        t.sql_count(&format!(
            "select count(*) as n from bronze.activity where actor_id = '{session}'"
        ))
        .await,
        2
    );
    // ... then in gold.product_daily once the pipeline has run ...
    t.pipeline_reaches("gold_product_daily", end).await;
    let views = t
        .sql_count(&format!("select cast(sum(views) as bigint) as n from gold.product_daily where product_id = '{}'", catalog.mug))
        .await;
    assert_eq!(views, 2);
    // ... and typed in silver, beside the shops.
    t.pipeline_reaches("silver_activity", end).await;
    assert_eq!(
        t.sql_count(&format!(
            "select count(*) as n from silver.activity where kind = 'product_view' \
             and product_id = '{}' and visitor_id = '{session}' and device is not null",
            catalog.mug
        ))
        .await,
        2
    );
    // Products in silver follow their changes: the newest state of each, the draft included.
    let edit = domain::ProductChanges {
        stock: Some(2),
        sale_price: Some(Some(domain::Money::new(1500, domain::Currency::USD))),
        ..Default::default()
    };
    t.app
        .execute(
            domain::Actor::System,
            domain::Command::UpdateProduct {
                id: catalog.mug,
                changes: edit,
            },
        )
        .await
        .unwrap();
    let commerce = t.app.log.records_in(Topic::Commerce);
    t.lake_reaches(Topic::Commerce, commerce).await;
    t.pipeline_reaches("silver_products", commerce).await;
    assert_eq!(
        t.sql_count("select count(*) as n from silver.products")
            .await,
        3
    );
    assert_eq!(
        t.sql_count(&format!(
            "select count(*) as n from silver.products where product_id = '{}' and title = 'Blue <b>Mug</b>' \
             and stock = 2 and price_amount = 1999 and sale_price_amount = 1500 and currency = 'USD' and status = 'active'",
            catalog.mug
        ))
        .await,
        1
    );
    t.pipeline_reaches("silver_shops", t.app.log.records_in(Topic::Commerce))
        .await;
    assert_eq!(
        t.sql_count(&format!(
            "select count(*) as n from silver.shops where shop_id = '{}' and created_at is not null",
            catalog.shop
        ))
        .await,
        1
    );
    // Accounts reach silver with personal data left out: the e-mail only by its domain.
    t.pipeline_reaches("silver_accounts", t.app.log.records_in(Topic::Commerce))
        .await;
    let ctx = t.app.lake.session().await.unwrap();
    let accounts = lakehouse::query(&ctx, "select * from silver.accounts")
        .await
        .unwrap();
    let accounts = lakehouse::format_batches(&accounts, lakehouse::OutputFormat::Json).unwrap();
    assert!(
        accounts.contains("\"email_domain\":\"example.com\"")
            && accounts.contains("\"role\":\"seller\""),
        "{accounts}"
    );
    assert!(
        !accounts.contains(crate::support::CATALOG_SELLER) && !accounts.contains("Clay Seller"),
        "{accounts}"
    );
    // ... and the admin page shows it, to admins only.
    let anonymous = t.get("/admin").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers["location"], "/admin/login?next=/admin");
    let root = t.user("root@example.com", domain::Role::Admin).await;
    let admin = t
        .call(axum::http::Method::GET, "/admin", Some(&root.token), None)
        .await;
    assert_eq!(admin.status, StatusCode::OK);
    assert!(
        admin.body.contains("Blue &#60;b&#62;Mug&#60;/b&#62;")
            || admin.body.contains("Blue &lt;b&gt;Mug&lt;/b&gt;"),
        "{}",
        admin.body
    );
    assert!(
        admin.body.contains(r#"<td class="num">2</td>"#),
        "two views on the admin page"
    );

    // The seller page lists the shop's products, drafts included.
    let token = t.sign_in(crate::support::CATALOG_SELLER).await;
    let seller = t
        .call(axum::http::Method::GET, "/seller", Some(&token), None)
        .await;
    assert!(seller.body.contains("Secret Prototype") && seller.body.contains("draft"));

    let commerce_end = t.app.log.records_in(Topic::Commerce);
    t.lake_reaches(Topic::Commerce, commerce_end).await;
    let slugs: Vec<String> = t
        .app
        .state()
        .products
        .values()
        .map(|p| p.slug.clone())
        .collect();
    t.app.shutdown().await;
    drop(t);

    // Restart on the same data dir.
    let t = TestApp::start(dir.path()).await;
    let state = t.app.state();
    assert_eq!(
        state
            .products
            .values()
            .map(|p| p.slug.clone())
            .collect::<Vec<_>>(),
        slugs,
        "state rebuilt from the log"
    );
    assert_eq!(state.shops.len(), 1);
    assert_eq!(state.site.name, "Test Market");
    assert_eq!(
        t.app.log.records_in(Topic::Activity),
        end,
        "no acknowledged event missing from the log"
    );
    // More traffic after the restart, then the sink catches up.
    let view = t
        .post_json(
            "/api/activity",
            serde_json::json!({"kind": "product_view", "product_id": catalog.book}),
        )
        .await;
    assert_eq!(view.status, StatusCode::ACCEPTED, "{}", view.body);
    let end = t.app.log.records_in(Topic::Activity);
    t.lake_reaches(Topic::Activity, end).await;
    t.lake_reaches(Topic::Commerce, commerce_end).await;
    // Every acknowledged event is in bronze exactly once.
    assert_eq!(
        t.sql_count("select count(*) as n from bronze.activity")
            .await,
        end as i64
    );
    assert_eq!(
        t.sql_count("select count(distinct offset) as n from bronze.activity")
            .await,
        end as i64
    );
    assert_eq!(
        t.sql_count("select count(*) as n from bronze.commerce")
            .await,
        commerce_end as i64
    );
    assert_eq!(
        t.sql_count("select count(distinct id) as n from bronze.commerce")
            .await,
        commerce_end as i64
    );
    // And gold counts every view once, old and new.
    t.pipeline_reaches("gold_product_daily", end).await;
    assert_eq!(
        t.sql_count("select cast(sum(views) as bigint) as n from gold.product_daily")
            .await,
        3
    );
    t.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_split_over_partitions_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = api::Config::new(dir.path());
    config.log_partitions = "activity=3".parse().unwrap();
    let t = TestApp::start_with(config).await;
    let catalog = t.seed_catalog().await;
    // Thirty browsers, thirty sessions: their views spread over the three partitions.
    for _ in 0..30 {
        assert_eq!(t.get("/products/blue-b-mug-b").await.status, StatusCode::OK);
    }
    let end = t.app.log.records_in(Topic::Activity);
    assert_eq!(end, 30);
    t.lake_reaches(Topic::Activity, end).await;
    assert_eq!(
        t.sql_count("select count(distinct partition) as n from bronze.activity")
            .await,
        3
    );
    t.pipeline_reaches("gold_product_daily", end).await;
    let views = format!(
        "select cast(sum(views) as bigint) as n from gold.product_daily where product_id = '{}'",
        catalog.mug
    );
    assert_eq!(t.sql_count(&views).await, 30);
    t.app.shutdown().await;
    drop(t);

    // The partition count is the log's: asking for another is a clear error, and the command
    // path refuses a commerce topic it cannot order.
    let mut other = api::Config::new(dir.path());
    other.log_partitions = "activity=2".parse().unwrap();
    let refused = api::App::start(other).await.err().expect("refused");
    assert!(
        matches!(
            refused,
            api::StartError::Log(ingest::Error::PartitionCount {
                existing: 3,
                requested: 2,
                ..
            })
        ),
        "{refused:?}"
    );
    let fresh = tempfile::tempdir().unwrap();
    let mut split = api::Config::new(fresh.path());
    split.log_partitions = "commerce=2".parse().unwrap();
    let refused = api::App::start(split).await.err().expect("refused");
    assert!(
        refused
            .to_string()
            .contains("commerce topic has 2 partitions"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upkeep_compacts_the_sinks_small_commits_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = api::Config::new(dir.path());
    config.upkeep_every = std::time::Duration::from_millis(200);
    let t = TestApp::start_with(config).await;
    t.seed_catalog().await;
    // One view, one commit: many small files.
    for n in 1..=12 {
        assert_eq!(t.get("/products/blue-b-mug-b").await.status, StatusCode::OK);
        t.lake_reaches(Topic::Activity, n).await;
    }
    // Two full rounds after the last commit: the second starts after it for sure.
    let mut upkeep = t.app.upkeep.subscribe();
    let after = upkeep.borrow().rounds + 2;
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        upkeep.wait_for(|s| s.rounds >= after),
    )
    .await
    .expect("upkeep runs")
    .unwrap();
    assert!(
        upkeep.borrow().files_compacted > 0,
        "{:?}",
        *upkeep.borrow()
    );
    let bronze = t
        .app
        .lake
        .require_table(&ingest::bronze_table(Topic::Activity))
        .await
        .unwrap();
    let files = bronze.snapshot().unwrap().log_data().num_files();
    assert!(files <= 2, "{files} files after compaction");
    assert_eq!(
        t.sql_count("select count(distinct offset) as n from bronze.activity")
            .await,
        12
    );
    assert_eq!(
        t.sql_count("select count(*) as n from bronze.activity")
            .await,
        12
    );
}
