//! The issue's end-to-end promise: a product page view flows log → bronze → gold → admin page,
//! and a restart on the same data dir rebuilds the state, duplicates nothing and loses nothing.

use crate::support::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ingest::Topic;
use std::time::Duration;

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
    config.retraining.enabled = false;
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
    config.retraining.enabled = false;
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

/// Hands published rows to nobody (the recomputation compares tables, not deliveries).
struct Nobody;

#[async_trait::async_trait]
impl pipelines::Publisher for Nobody {
    async fn publish(&self, _topic: &str, _rows: Vec<serde_json::Value>) -> Result<(), String> {
        Ok(())
    }
}

/// Every row of `table`, each as JSON text, sorted: a table's content regardless of row order.
async fn content(lake: &lakehouse::Lake, table: &str) -> Vec<String> {
    let ctx = lake.session().await.unwrap();
    let batches = lakehouse::query(&ctx, &format!("SELECT * FROM {table}"))
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"));
    let mut rows: Vec<String> = lakehouse::json_rows(&batches)
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    rows.sort();
    rows
}

/// Appends `batches` to the bronze table of `topic` in `lake`, as the lake sink writes it.
async fn append_bronze(
    lake: &lakehouse::Lake,
    topic: Topic,
    batches: Vec<lakehouse::arrow::record_batch::RecordBatch>,
) {
    let table = lake
        .open_or_create(
            &ingest::bronze_table(topic),
            ingest::bronze_schema(),
            &["date"],
        )
        .await
        .unwrap();
    table
        .write(batches)
        .with_partition_columns(["date"])
        .await
        .unwrap();
}

/// Demo traffic (shops, products, visitors, orders, shipments, reviews) replayed into an empty
/// lake in ten slices while the pipelines run; the runner is killed halfway, a new one carries on,
/// and every silver and gold table ends up equal to a recomputation from scratch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_killed_halfway_end_equal_to_a_recomputation_from_scratch() {
    use lakehouse::arrow::compute::{cast, concat_batches};
    use lakehouse::arrow::record_batch::RecordBatch;
    let demo = tempfile::tempdir().unwrap();
    crate::support::run_demo(demo.path(), 6, 1500, 40);
    let source = lakehouse::Lake::open(demo.path().join("lake").to_str().unwrap()).unwrap();
    let ctx = source.session().await.unwrap();
    let schema = ingest::bronze_schema();
    // Each topic's bronze rows in log order, cut into ten slices; slice i of every topic arrives
    // together.
    let mut slices: Vec<Vec<(Topic, RecordBatch)>> = vec![Vec::new(); 10];
    for topic in [Topic::Commerce, Topic::Activity, Topic::Chat] {
        let batches = lakehouse::query(
            &ctx,
            &format!("SELECT * FROM bronze.{topic} ORDER BY \"partition\", \"offset\""),
        )
        .await
        .unwrap();
        let batches: Vec<RecordBatch> = batches
            .iter()
            .map(|b| {
                let columns = schema
                    .fields()
                    .iter()
                    .map(|f| cast(b.column_by_name(f.name()).unwrap(), f.data_type()).unwrap())
                    .collect();
                RecordBatch::try_new(schema.clone(), columns).unwrap()
            })
            .collect();
        let all = concat_batches(&schema, &batches).unwrap();
        // The demo's conversations are a few dozen events; its traffic and commerce, thousands.
        let enough = if topic == Topic::Chat { 20 } else { 100 };
        assert!(
            all.num_rows() > enough,
            "{topic}: {} rows of demo traffic",
            all.num_rows()
        );
        let size = all.num_rows().div_ceil(10);
        for (i, start) in (0..all.num_rows()).step_by(size).enumerate() {
            slices[i].push((topic, all.slice(start, size.min(all.num_rows() - start))));
        }
    }
    let runner = |lake: &lakehouse::Lake| {
        std::sync::Arc::new(
            pipelines::Runner::new(lake.clone(), pipelines::builtin())
                .with_publisher(std::sync::Arc::new(Nobody)),
        )
    };

    // Live: the runner works while the slices arrive; halfway, it is killed mid-flight.
    let live_dir = tempfile::tempdir().unwrap();
    let live = lakehouse::Lake::open(live_dir.path().to_str().unwrap()).unwrap();
    let first = runner(&live);
    let mut status = first.status();
    let worker = tokio::spawn(
        first
            .clone()
            .run(tokio_util::sync::CancellationToken::new()),
    );
    let half = slices.len() / 2;
    for slice in &slices[..half] {
        for (topic, batch) in slice {
            append_bronze(&live, *topic, vec![batch.clone()]).await;
        }
    }
    // Kill it once the gold tables have taken something in, whatever it is doing then.
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| {
            s.get("gold_sales_daily")
                .and_then(|s| s.last.as_ref())
                .is_some_and(|r| r.rows_in > 0)
        }),
    )
    .await
    .expect("the runner got going")
    .unwrap();
    worker.abort();
    let _ = worker.await;
    for slice in &slices[half..] {
        for (topic, batch) in slice {
            append_bronze(&live, *topic, vec![batch.clone()]).await;
        }
    }
    // A new runner (a restarted process) catches up.
    let second = runner(&live);
    second.run_all_once().await.unwrap();
    let caught_up = second.run_all_once().await.unwrap();
    assert!(
        caught_up.iter().all(|r| r.rows_in == 0),
        "one pass took in everything"
    );

    // From scratch: every slice at once, one pass.
    let scratch_dir = tempfile::tempdir().unwrap();
    let scratch = lakehouse::Lake::open(scratch_dir.path().to_str().unwrap()).unwrap();
    for topic in [Topic::Commerce, Topic::Activity, Topic::Chat] {
        let all: Vec<RecordBatch> = slices
            .iter()
            .flatten()
            .filter(|(t, _)| *t == topic)
            .map(|(_, b)| b.clone())
            .collect();
        append_bronze(&scratch, topic, all).await;
    }
    runner(&scratch).run_all_once().await.unwrap();

    for spec in pipelines::builtin() {
        let table = spec.target.to_string();
        // Visits are cut where events arrived: a late event that bridges two visits an earlier
        // run already holds joins the earlier one (silver_sessions.sql says so), where a
        // recomputation makes one visit. What holds whatever the arrival: every event lands in
        // exactly one visit of its visitor, so each visitor's event count agrees.
        let query = if table == "silver.sessions" {
            "(SELECT visitor_id, SUM(events) AS events FROM silver.sessions GROUP BY visitor_id) AS per_visitor".to_string()
        } else {
            table.clone()
        };
        let (live_rows, scratch_rows) = (
            content(&live, &query).await,
            content(&scratch, &query).await,
        );
        assert!(!scratch_rows.is_empty(), "{table} has rows from the demo");
        assert_eq!(live_rows.len(), scratch_rows.len(), "{table}: row count");
        assert!(
            live_rows == scratch_rows,
            "{table}: the killed-and-restarted runs differ from the recomputation"
        );
    }
}
