//! SQL pipelines: one SQL file per pipeline under `pipelines/sql/`, run incrementally into
//! silver and gold Delta tables.
//!
//! A pipeline file starts with a header of `-- key: value` lines:
//!
//! ```text
//! -- target: gold.product_daily          the table it writes
//! -- mode: merge                         append | merge | overwrite
//! -- keys: product_id, day               merge keys
//! -- add: views, cart_adds               merge: columns added to the stored value (others replace it)
//! -- source: bronze.activity             the table whose new rows drive it (needs an `offset` column)
//! -- trigger: every 2s                   how often `serve` runs it
//! ```
//!
//! [`Runner::run_once`] reads the pipeline's watermark (the last source offset it processed, kept
//! as a Delta application transaction in the target's commits), runs the SQL over only the source
//! rows after it, and commits the result together with the new watermark. A run that dies before
//! its commit leaves nothing behind, so re-running never counts twice.

mod error;
mod runner;
mod spec;

pub use error::{Error, Result};
pub use runner::{PipelineStatus, RunReport, Runner};
pub use spec::{Mode, PipelineSpec};

/// The pipelines compiled into this binary, in the order they run.
pub fn builtin() -> Vec<PipelineSpec> {
    const FILES: [(&str, &str); 1] = [(
        "gold_product_daily",
        include_str!("../sql/gold_product_daily.sql"),
    )];
    FILES
        .iter()
        .map(|(name, sql)| {
            PipelineSpec::parse(name, sql).expect("built-in pipelines have valid headers (tested)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_pipelines_parse() {
        let pipelines = super::builtin();
        assert_eq!(pipelines[0].target.to_string(), "gold.product_daily");
    }
}
