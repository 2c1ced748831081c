use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::RwLock;
use utoipa::ToSchema;

/// What a background worker is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    Starting,
    Running,
    Stopped,
    Failed { error: String },
}

/// The registry of named workers, so a worker that dies is visible on `/health`, not silently gone.
#[derive(Default)]
pub struct Health {
    workers: RwLock<BTreeMap<&'static str, WorkerState>>,
}

impl Health {
    pub fn set(&self, worker: &'static str, state: WorkerState) {
        if let WorkerState::Failed { error } = &state {
            tracing::error!(worker, error = %error, "background worker failed");
        }
        self.workers
            .write()
            .expect("health lock")
            .insert(worker, state);
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, WorkerState> {
        self.workers.read().expect("health lock").clone()
    }

    pub fn all_running(&self) -> bool {
        self.workers
            .read()
            .expect("health lock")
            .values()
            .all(|s| *s == WorkerState::Running)
    }
}
