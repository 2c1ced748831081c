//! Where interactions come from: a snapshot of the lake pinned at a Delta version, or a file.

use crate::data::Interactions;
use crate::weights::InteractionWeights;
use crate::{Error, Result};
use lakehouse::arrow::array::{Array, Float32Array, Int64Array, RecordBatch, StringArray};
use lakehouse::arrow::compute::cast;
use lakehouse::arrow::datatypes::DataType;
use lakehouse::datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use lakehouse::{Lake, Layer, TableName};
use std::path::Path;

/// The table the recommender learns from.
pub fn interactions_table() -> TableName {
    TableName::new(Layer::Silver, "interactions").expect("a valid name")
}

/// Materialized snapshots: `silver.interactions` as it was at each snapshot's version,
/// partitioned by `snapshot_id` (that version), kept so a run can be reproduced after the source
/// table is compacted and vacuumed.
pub fn snapshots_table() -> TableName {
    TableName::new(Layer::Gold, "model_snapshots").expect("a valid name")
}

/// A snapshot: the version of `silver.interactions` it froze and how many rows it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub id: u64,
    pub rows: u64,
    /// Whether this call wrote it (false: it existed already).
    pub created: bool,
}

/// Freezes `silver.interactions` at its current version (or the version given) into
/// `gold.model_snapshots`; taking the same version twice reuses the first.
pub async fn take_snapshot(lake: &Lake, version: Option<u64>) -> Result<Snapshot> {
    let source = interactions_table();
    let mut table = lake.require_table(&source).await?;
    if let Some(v) = version {
        table
            .load_version(v)
            .await
            .map_err(|e| Error::Dataset(format!("silver.interactions has no version {v}: {e}")))?;
    }
    let id = table.version().unwrap_or(0) as u64;
    if let Some(rows) = snapshot_rows(lake, id).await? {
        return Ok(Snapshot {
            id,
            rows,
            created: false,
        });
    }
    let ctx = lake.session_with(vec![(source, table)]).await?;
    let batches = lakehouse::query(
        &ctx,
        &format!(
            "SELECT CAST({id} AS BIGINT) AS snapshot_id, user_id, product_id, shop_id, action, \
             weight, at FROM silver.interactions \
             WHERE user_id IS NOT NULL AND product_id IS NOT NULL"
        ),
    )
    .await?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Err(Error::Empty(format!(
            "silver.interactions has no rows at version {id}"
        )));
    }
    let target = snapshots_table();
    let schema = batches[0].schema();
    let table = lake
        .open_or_create(&target, schema, &["snapshot_id"])
        .await?;
    table
        .write(batches)
        .with_partition_columns(["snapshot_id"])
        .await
        .map_err(|e| lakehouse::Error::delta(&target, e))?;
    Ok(Snapshot {
        id,
        rows: rows as u64,
        created: true,
    })
}

/// `sql` over `gold.model_snapshots`, or `None` before the first snapshot.
async fn ask_snapshots(lake: &Lake, sql: &str) -> Result<Option<Vec<RecordBatch>>> {
    let Some(table) = lake.open_table(&snapshots_table()).await? else {
        return Ok(None);
    };
    let ctx = lake.session_with(vec![(snapshots_table(), table)]).await?;
    Ok(Some(lakehouse::query(&ctx, sql).await?))
}

/// Rows of snapshot `id`, or `None` if it was never taken.
pub async fn snapshot_rows(lake: &Lake, id: u64) -> Result<Option<u64>> {
    let Some(batches) = ask_snapshots(
        lake,
        &format!("SELECT count(*) AS n FROM gold.model_snapshots WHERE snapshot_id = {id}"),
    )
    .await?
    else {
        return Ok(None);
    };
    let n = int64s(batches[0].column(0))?.value(0) as u64;
    Ok((n > 0).then_some(n))
}

/// The newest snapshot's id, if any.
pub async fn latest_snapshot(lake: &Lake) -> Result<Option<u64>> {
    let Some(batches) =
        ask_snapshots(lake, "SELECT max(snapshot_id) FROM gold.model_snapshots").await?
    else {
        return Ok(None);
    };
    let ids = int64s(batches[0].column(0))?;
    Ok((!ids.is_null(0)).then(|| ids.value(0) as u64))
}

/// Snapshot `id` as training data, each action weighed by `weights`.
pub async fn read_snapshot(
    lake: &Lake,
    id: u64,
    weights: &InteractionWeights,
) -> Result<Interactions> {
    let batches = ask_snapshots(
        lake,
        &format!(
            "SELECT user_id, product_id, action, CAST(at AS BIGINT) AS at \
             FROM gold.model_snapshots WHERE snapshot_id = {id}"
        ),
    )
    .await?
    .ok_or(Error::NoSuchSnapshot(id))?;
    let mut actions = Vec::new();
    for batch in &batches {
        let (users, items, kinds, times) = (
            strings(batch.column(0))?,
            strings(batch.column(1))?,
            strings(batch.column(2))?,
            int64s(batch.column(3))?,
        );
        for row in 0..batch.num_rows() {
            if let Some(weight) = weights.of_action(kinds.value(row)) {
                actions.push((
                    users.value(row).to_string(),
                    items.value(row).to_string(),
                    weight,
                    times.value(row),
                ));
            }
        }
    }
    if actions.is_empty() {
        return Err(Error::NoSuchSnapshot(id));
    }
    Ok(Interactions::from_actions(actions))
}

const USER_COLUMNS: &[&str] = &["user", "user_id", "userid", "customer_id"];
const ITEM_COLUMNS: &[&str] = &["item", "item_id", "itemid", "product_id", "movie_id"];
const TIME_COLUMNS: &[&str] = &["timestamp", "at", "time", "ts"];
const WEIGHT_COLUMNS: &[&str] = &["weight", "confidence"];

/// An external interactions file, CSV (with a header) or Parquet, with a user, an item and a
/// timestamp column (names such as `user_id`, `item_id`/`movie_id`, `timestamp`) and optionally
/// a `weight` in (0, 1]; without one every row weighs 1.
pub async fn read_file(path: &Path) -> Result<Interactions> {
    let ctx = SessionContext::new();
    let name = path.to_string_lossy();
    let lower = name.to_ascii_lowercase();
    let frame = if lower.ends_with(".csv") {
        ctx.read_csv(name.as_ref(), CsvReadOptions::new()).await
    } else if lower.contains(".parquet") {
        ctx.read_parquet(
            name.as_ref(),
            ParquetReadOptions::default().file_extension(""),
        )
        .await
    } else {
        return Err(Error::Dataset(format!(
            "{name}: use a .csv (with a header row) or .parquet file"
        )));
    }
    .map_err(|e| Error::Dataset(format!("{name}: {e}")))?;
    let fields: Vec<String> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let find = |wanted: &[&str], what: &str| -> Result<Option<String>> {
        let found = fields
            .iter()
            .find(|f| wanted.contains(&f.to_ascii_lowercase().as_str()));
        match (found, what) {
            (Some(f), _) => Ok(Some(f.clone())),
            (None, "weight") => Ok(None),
            (None, _) => Err(Error::Dataset(format!(
                "{name}: no {what} column (one of {}); the file has {}",
                wanted.join(", "),
                fields.join(", ")
            ))),
        }
    };
    let user = find(USER_COLUMNS, "user")?.expect("required");
    let item = find(ITEM_COLUMNS, "item")?.expect("required");
    let time = find(TIME_COLUMNS, "timestamp")?.expect("required");
    let weight = find(WEIGHT_COLUMNS, "weight")?;
    ctx.register_table("interactions", frame.into_view())
        .map_err(|e| Error::Dataset(e.to_string()))?;
    let sql = format!(
        "SELECT CAST(\"{user}\" AS VARCHAR), CAST(\"{item}\" AS VARCHAR), CAST({} AS FLOAT), \
         CAST(\"{time}\" AS BIGINT) FROM interactions",
        weight.map_or("1.0".to_string(), |w| format!("\"{w}\""))
    );
    let batches = lakehouse::query(&ctx, &sql)
        .await
        .map_err(|e| Error::Dataset(format!("{name}: {e}")))?;
    let mut actions = Vec::new();
    for batch in &batches {
        let (users, items, weights, times) = (
            strings(batch.column(0))?,
            strings(batch.column(1))?,
            float32s(batch.column(2))?,
            int64s(batch.column(3))?,
        );
        for row in 0..batch.num_rows() {
            if users.is_null(row) || items.is_null(row) || times.is_null(row) {
                return Err(Error::Dataset(format!(
                    "{name}: row {} has no user, item or timestamp",
                    actions.len() + 1
                )));
            }
            let w = if weights.is_null(row) {
                1.0
            } else {
                weights.value(row)
            };
            if !(w > 0.0 && w <= 1.0) {
                return Err(Error::Dataset(format!(
                    "{name}: weight {w} of row {} is not in (0, 1]",
                    actions.len() + 1
                )));
            }
            actions.push((
                users.value(row).to_string(),
                items.value(row).to_string(),
                w,
                times.value(row),
            ));
        }
    }
    if actions.is_empty() {
        return Err(Error::Empty(format!("{name} has no rows")));
    }
    Ok(Interactions::from_actions(actions))
}

fn strings(column: &dyn Array) -> Result<StringArray> {
    let utf8 = cast(column, &DataType::Utf8).map_err(|e| Error::Dataset(e.to_string()))?;
    Ok(utf8
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone())
}

fn int64s(column: &dyn Array) -> Result<Int64Array> {
    let ints = cast(column, &DataType::Int64).map_err(|e| Error::Dataset(e.to_string()))?;
    Ok(ints
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("cast to Int64")
        .clone())
}

fn float32s(column: &dyn Array) -> Result<Float32Array> {
    let floats = cast(column, &DataType::Float32).map_err(|e| Error::Dataset(e.to_string()))?;
    Ok(floats
        .as_any()
        .downcast_ref::<Float32Array>()
        .expect("cast to Float32")
        .clone())
}
