//! The lakehouse: Delta Lake tables on an object store, the table catalog, and the DataFusion
//! session that reads them.
//!
//! - [`Lake`] is a root URL (a local directory by default) under which every table lives at
//!   `<layer>/<name>/`: `bronze/activity/`, `gold/product_daily/`, ….
//! - [`TableName`] names a table as analysts write it in SQL: `bronze.activity`.
//! - [`Lake::session`] opens every table and registers it in one DataFusion `SessionContext` under
//!   the schemas `bronze`, `silver` and `gold`, with the lake's SQL helpers (`json_get_str`).
//! - [`query`] runs read-only SQL; [`format_batches`] prints results as a table, CSV or JSON.
//! - [`explore`] answers people's own questions: read-only, bounded in time, memory and rows.
//! - Maintenance ([`Lake::optimize`], [`Lake::vacuum`], [`Lake::checkpoint`], [`Lake::restore`],
//!   [`Lake::history`]) and time travel ([`Lake::session_as_of`]) live in `maintenance.rs`.
//!
//! ```text
//! let lake = Lake::open("data/lake")?;
//! let batches = lakehouse::query(&lake.session().await?, "select count(*) from bronze.activity").await?;
//! ```
//!
//! Writers commit with a Delta application transaction (`txn`) so that a writer which restarts can
//! find where it stopped ([`Lake::transaction_version`]); delta-rs does not reject a stale txn
//! version on its own, so every writer checks before it commits.

mod error;
mod explore;
mod format;
mod lake;
mod maintenance;
mod scan;
mod table_name;
mod udf;

pub use error::{Error, Result};
pub use explore::{Answer, ExploreError, Limits, TableDescription, catalog, describe, explore};
pub use format::{OutputFormat, format_batches, json_rows, to_arrow_ipc, to_parquet};
pub use lake::{Lake, plan, query};
pub use maintenance::{AsOf, OptimizeReport, RestoreReport, VacuumReport};
pub use table_name::{Layer, TableName};

/// Delta Lake, with the DataFusion and Arrow versions it was built with: use these re-exports so the
/// versions can never drift apart.
pub use deltalake;
pub use deltalake::arrow;
pub use deltalake::datafusion;
