//! Pipelines tested as data: each file under `pipelines/cases/` feeds events into the bronze
//! tables (with the lake sink's own schema) in steps, runs the pipeline after each step and
//! compares the whole target with the rows the file expects.
//!
//! A case file:
//!
//! ```text
//! {
//!   "pipeline": "gold_sales_daily",
//!   "before": ["silver_shop_settings"],      pipelines run first in each step (its inputs)
//!   "query": "SELECT … FROM gold.sales_daily ORDER BY …",
//!   "steps": [
//!     { "events": [{"id": "e1", "kind": "order.placed", "at": "2026-11-20T10:00:00Z",
//!                   "payload": {…}, "topic": "commerce", "partition": 0}],
//!       "restart": true,             a new runner (a restarted process) runs this step
//!       "crash": true,               the step's first run dies before its commit, then reruns
//!       "expect": [{…}, …] }         the query's rows after the step
//!   ]
//! }
//! ```
//!
//! Offsets are given per topic and partition in arrival order. Repeated ids (a producer's
//! retry), late events (an `at` older than what came before) and crashes are written as data.

use crate::{Publisher, Runner};
use lakehouse::Lake;
use lakehouse::arrow::array::{
    Date32Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use lakehouse::arrow::record_batch::RecordBatch;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    pipeline: String,
    /// What the case shows, for the reader.
    #[serde(default)]
    #[allow(dead_code)]
    comment: String,
    #[serde(default)]
    before: Vec<String>,
    query: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default)]
    #[allow(dead_code)]
    comment: String,
    #[serde(default)]
    events: Vec<Event>,
    #[serde(default)]
    restart: bool,
    #[serde(default)]
    crash: bool,
    expect: Vec<serde_json::Value>,
    /// Publishing pipelines: the ids published over the whole case so far, repeats included
    /// (in any order: a union's branches may run in parallel).
    #[serde(default)]
    published: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    id: String,
    kind: String,
    at: chrono::DateTime<chrono::Utc>,
    payload: serde_json::Value,
    #[serde(default = "commerce")]
    topic: String,
    #[serde(default)]
    partition: i32,
    #[serde(default)]
    actor_role: Option<String>,
    #[serde(default)]
    actor_id: Option<String>,
}

fn commerce() -> String {
    "commerce".into()
}

/// Remembers what a publishing pipeline handed over.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Publisher for Recorder {
    async fn publish(&self, _topic: &str, rows: Vec<serde_json::Value>) -> Result<(), String> {
        let mut published = self.0.lock().unwrap();
        for row in rows {
            published.push(row["id"].as_str().unwrap_or("?").to_string());
        }
        Ok(())
    }
}

async fn append(lake: &Lake, offsets: &mut BTreeMap<(String, i32), i64>, events: &[Event]) {
    let mut by_topic: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_topic.entry(e.topic.clone()).or_default().push(e);
    }
    for (topic, events) in by_topic {
        let topic: ingest::Topic = topic.parse().expect("a topic");
        let rows: Vec<(i64, &Event)> = events
            .into_iter()
            .map(|e| {
                let next = offsets.entry((topic.to_string(), e.partition)).or_default();
                *next += 1;
                (*next - 1, e)
            })
            .collect();
        let strings = |f: &dyn Fn(&Event) -> String| {
            Arc::new(StringArray::from(
                rows.iter().map(|(_, e)| f(e)).collect::<Vec<_>>(),
            ))
        };
        let batch = RecordBatch::try_new(
            ingest::bronze_schema(),
            vec![
                Arc::new(Int64Array::from(
                    rows.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
                )),
                Arc::new(Int32Array::from(
                    rows.iter().map(|(_, e)| e.partition).collect::<Vec<_>>(),
                )),
                strings(&|e| e.id.clone()),
                strings(&|_| topic.to_string()),
                strings(&|e| e.id.clone()),
                strings(&|e| e.kind.clone()),
                Arc::new(
                    TimestampMicrosecondArray::from(
                        rows.iter()
                            .map(|(_, e)| e.at.timestamp_micros())
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                strings(&|e| e.actor_role.clone().unwrap_or_else(|| "system".into())),
                Arc::new(StringArray::from(
                    rows.iter()
                        .map(|(_, e)| e.actor_id.clone())
                        .collect::<Vec<_>>(),
                )),
                Arc::new(Int32Array::from(vec![1; rows.len()])),
                strings(&|e| e.payload.to_string()),
                Arc::new(Date32Array::from(
                    rows.iter()
                        .map(|(_, e)| {
                            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
                            (e.at.date_naive() - epoch).num_days() as i32
                        })
                        .collect::<Vec<_>>(),
                )),
            ],
        )
        .expect("rows in the bronze schema");
        let table = lake
            .open_or_create(
                &ingest::bronze_table(topic),
                ingest::bronze_schema(),
                &["date"],
            )
            .await
            .unwrap();
        table
            .write(vec![batch])
            .with_partition_columns(["date"])
            .await
            .unwrap();
    }
}

async fn rows(lake: &Lake, query: &str) -> Vec<serde_json::Value> {
    let ctx = lake.session().await.unwrap();
    let batches = match lakehouse::query(&ctx, query).await {
        Ok(batches) => batches,
        // The target does not exist until the pipeline has written once.
        Err(e) if e.to_string().contains("not found") => return Vec::new(),
        Err(e) => panic!("{query}: {e}"),
    };
    lakehouse::json_rows(&batches).unwrap()
}

async fn run_case(file: &str, text: &str) {
    let case: Case = serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let recorder = Arc::new(Recorder::default());
    let new_runner =
        || Runner::new(lake.clone(), crate::builtin()).with_publisher(recorder.clone());
    let mut runner = new_runner();
    let spec = |runner: &Runner, name: &str| {
        runner
            .pipelines()
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{file}: no pipeline {name}"))
            .clone()
    };
    let mut offsets = BTreeMap::new();
    for (i, step) in case.steps.iter().enumerate() {
        let at = format!("{file}, step {}", i + 1);
        append(&lake, &mut offsets, &step.events).await;
        if step.restart {
            runner = new_runner();
        }
        for name in &case.before {
            runner.run_once(&spec(&runner, name)).await.unwrap();
        }
        let pipeline = spec(&runner, &case.pipeline);
        if step.crash {
            runner
                .crash_before_commit
                .store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(runner.run_once(&pipeline).await.is_err(), "{at}: the crash");
            runner = new_runner();
        }
        runner
            .run_once(&pipeline)
            .await
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        let got = rows(&lake, &case.query).await;
        assert_eq!(
            serde_json::Value::Array(got.clone()),
            serde_json::Value::Array(step.expect.clone()),
            "{at}: the target's rows\n got: {}",
            serde_json::to_string_pretty(&got).unwrap()
        );
        if let Some(expected) = &step.published {
            let mut published = recorder.0.lock().unwrap().clone();
            let mut expected = expected.clone();
            published.sort();
            expected.sort();
            assert_eq!(published, expected, "{at}: published ids");
        }
        // Running again with nothing new changes nothing.
        runner.run_once(&pipeline).await.unwrap();
        assert_eq!(rows(&lake, &case.query).await, got, "{at}: a second run");
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let file = concat!("cases/", stringify!($name), ".json");
                run_case(file, include_str!(concat!("../cases/", stringify!($name), ".json"))).await;
            }
        )*

        #[test]
        fn every_pipeline_has_a_case() {
            let covered = [$(stringify!($name)),*];
            let cases: Vec<Case> = [$(include_str!(concat!("../cases/", stringify!($name), ".json"))),*]
                .iter()
                .map(|text| serde_json::from_str(text).unwrap())
                .collect();
            for spec in crate::builtin() {
                assert!(
                    cases.iter().any(|c| c.pipeline == spec.name || c.before.contains(&spec.name)),
                    "pipeline {} has no case under pipelines/cases/ ({covered:?})", spec.name
                );
            }
        }
    };
}

cases!(
    silver_activity,
    silver_shops,
    silver_shop_settings,
    silver_products,
    silver_accounts,
    gold_product_daily,
    silver_orders,
    silver_order_items,
    gold_sales_daily,
    gold_category_sales_daily,
    gold_traffic_daily,
    silver_shop_visitors,
    silver_sessions,
    gold_funnel,
    silver_interactions,
    gold_notifications,
    gold_trending,
    gold_recommendations_daily,
    silver_chat_messages,
);

/// A pipeline that joins a table another pipeline builds from the same source reads its source
/// no further than that pipeline has: a shop opened and its first low stock in one slice are not
/// judged before the shop's settings are in `silver.shop_settings` (the notification would be
/// lost for good, the slice being behind the watermark by the next run).
#[tokio::test]
async fn a_join_reads_no_further_than_the_pipeline_that_builds_its_table() {
    let events: Vec<Event> = serde_json::from_value(serde_json::json!([
        {"id": "e-shop", "kind": "shop.created", "at": "2026-11-20T09:00:00Z", "payload": {"id": "s1", "name": "Clay", "slug": "clay", "category": "kitchen", "country": "DE", "owner": "u9", "created_at": "2026-11-20T09:00:00Z", "settings": {"low_stock_threshold": 5, "email_new_orders": true, "email_low_stock": true}}},
        {"id": "e-other", "kind": "shop.created", "at": "2026-11-20T09:00:00Z", "payload": {"id": "s2", "name": "Oak", "slug": "oak", "category": "kitchen", "country": "DE", "owner": "u8", "created_at": "2026-11-20T09:00:00Z", "settings": {"low_stock_threshold": 5, "email_new_orders": true, "email_low_stock": true}}},
    ]))
    .unwrap();
    let low: Vec<Event> = serde_json::from_value(serde_json::json!([
        {"id": "e-new", "kind": "shop.created", "at": "2026-11-20T09:30:00Z", "payload": {"id": "s3", "name": "New", "slug": "new", "category": "kitchen", "country": "DE", "owner": "u7", "created_at": "2026-11-20T09:30:00Z", "settings": {"low_stock_threshold": 5, "email_new_orders": true, "email_low_stock": true}}},
        {"id": "e-stock", "kind": "product.updated", "at": "2026-11-20T10:00:00Z", "payload": {"id": "p1", "changes": {"stock": 4}, "at": "2026-11-20T10:00:00Z", "after": {"id": "p1", "shop_id": "s3", "title": "Mug", "stock": 4}}},
    ]))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let recorder = Arc::new(Recorder::default());
    let runner = Runner::new(lake.clone(), crate::builtin()).with_publisher(recorder.clone());
    let spec = |name: &str| {
        runner
            .pipelines()
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .clone()
    };
    let (settings, notifications) = (spec("silver_shop_settings"), spec("gold_notifications"));
    let mut offsets = BTreeMap::new();
    append(&lake, &mut offsets, &events).await;
    runner.run_once(&settings).await.unwrap();
    // The new shop and its low stock arrive together; the settings pipeline has not run yet.
    append(&lake, &mut offsets, &low).await;
    let early = runner.run_once(&notifications).await.unwrap();
    assert_eq!(
        early.watermarks,
        BTreeMap::from([(0, 1)]),
        "no further than silver.shop_settings has read"
    );
    assert!(recorder.0.lock().unwrap().is_empty());
    runner.run_once(&settings).await.unwrap();
    runner.run_once(&notifications).await.unwrap();
    let published = recorder.0.lock().unwrap().clone();
    assert_eq!(
        published,
        ["e-stock:shop"],
        "the low stock is told once its shop is known"
    );
}
