//! The recommender (DESIGN.md §8). Only this crate links Burn.
//!
//! - [`data`]: interactions numbered densely, the leave-one-out split.
//! - [`source`]: where interactions come from: a pinned snapshot of the lake, or a file (CSV or
//!   Parquet) such as a public benchmark.
//! - [`train`]: NeuMF or MF in Burn, sampled negatives, sparse embedding updates.
//! - [`eval`]: the NCF protocol (HR@10, NDCG@10 over 99 sampled negatives), full-catalog
//!   recall@20, the popularity baseline.
//! - [`model`]: trained weights as an artifact, scoring and top-N for serving.
//! - [`registry`]: snapshots, runs, promotions and artifacts in the lake.

pub mod data;
pub mod eval;
pub mod model;
pub mod registry;
pub mod source;
pub mod train;
mod weights;

pub use data::{Interaction, Interactions, Split};
pub use eval::{Holdout, Metrics};
pub use model::{Architecture, Model};
pub use train::{Progress, TrainParams};
pub use weights::InteractionWeights;

/// What can go wrong in the recommender.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Lake(#[from] lakehouse::Error),
    #[error("{0}")]
    Dataset(String),
    #[error("the model artifact is unreadable: {0}")]
    Artifact(String),
    #[error("invalid training parameters: {0}")]
    Params(String),
    #[error("no run {0} in the registry")]
    NoSuchRun(String),
    #[error("snapshot {0} does not exist; take one with `marketplace models snapshot`")]
    NoSuchSnapshot(u64),
    #[error("there is nothing to train on: {0}")]
    Empty(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
