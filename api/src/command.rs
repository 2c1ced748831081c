//! The single-writer command path (DESIGN.md §3).
//!
//! One task owns every change to the state. It takes commands in batches; decides each against a
//! scratch copy of the state (O(1) to clone), applying accepted events as it goes so later
//! commands in the batch see earlier ones; appends all the batch's events to the log in one
//! durable write; and only then publishes the new state and answers the callers. If the append
//! fails, the scratch copy is thrown away and every caller in the batch gets a 503: the state is
//! exactly what the log says.

use crate::error::ApiError;
use domain::{Command, Context, Event, EventId, State};
use ingest::{AppendRecord, Envelope, EventLog, Topic};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How many commands one batch (and so one log append) takes at most.
const BATCH_MAX: usize = 512;

type Reply = oneshot::Sender<Result<Vec<Event>, ApiError>>;

struct Job {
    command: Command,
    ctx: Context,
    reply: Reply,
}

/// The handle handlers send commands through.
#[derive(Clone)]
pub(crate) struct CommandPath {
    tx: mpsc::Sender<Job>,
}

pub(crate) type SharedState = Arc<RwLock<Arc<State>>>;

impl CommandPath {
    /// Starts the writer task. It stops when `cancel` fires, after finishing the batch in hand.
    pub(crate) fn spawn(
        state: SharedState,
        log: Arc<dyn EventLog>,
        cancel: CancellationToken,
    ) -> (CommandPath, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * BATCH_MAX);
        let task = tokio::spawn(writer(rx, state, log, cancel));
        (CommandPath { tx }, task)
    }

    /// Decides, records and applies one command; answers once its events are durable.
    pub(crate) async fn execute(
        &self,
        command: Command,
        ctx: Context,
    ) -> Result<Vec<Event>, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                command,
                ctx,
                reply,
            })
            .await
            .map_err(|_| ApiError::Unavailable("the command path has stopped".into()))?;
        answer.await.map_err(|_| {
            ApiError::Unavailable("the command path stopped before answering".into())
        })?
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    state: SharedState,
    log: Arc<dyn EventLog>,
    cancel: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            job = rx.recv() => match job { Some(job) => job, None => return },
        };
        let mut jobs = vec![first];
        while jobs.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        run_batch(jobs, &state, log.as_ref()).await;
    }
}

async fn run_batch(jobs: Vec<Job>, state: &SharedState, log: &dyn EventLog) {
    let mut scratch: State = (**state.read().expect("state lock")).clone();
    let mut accepted: Vec<(Reply, Vec<Event>)> = Vec::with_capacity(jobs.len());
    let mut records = Vec::new();
    for job in jobs {
        match domain::decide(&scratch, &job.command, &job.ctx) {
            Ok(events) => {
                for event in &events {
                    scratch.apply(event);
                    let envelope = Envelope::wrap(
                        EventId(uuid::Uuid::now_v7()),
                        event,
                        job.ctx.actor,
                        job.ctx.at,
                    );
                    records.push(AppendRecord::new(
                        Topic::of(event),
                        envelope.key.clone(),
                        envelope.to_bytes(),
                    ));
                }
                accepted.push((job.reply, events));
            }
            // A refusal changes nothing; answer it at once.
            Err(refusal) => {
                let _ = job.reply.send(Err(refusal.into()));
            }
        }
    }
    if records.is_empty() {
        for (reply, events) in accepted {
            let _ = reply.send(Ok(events));
        }
        return;
    }
    let count = records.len();
    match log.append(records).await {
        Ok(_) => {
            *state.write().expect("state lock") = Arc::new(scratch);
            tracing::debug!(events = count, commands = accepted.len(), "batch committed");
            for (reply, events) in accepted {
                let _ = reply.send(Ok(events));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events = count, "log append failed; the batch is refused and the state unchanged");
            for (reply, _) in accepted {
                let _ = reply.send(Err(ApiError::Unavailable(format!(
                    "the log refused the write: {e}"
                ))));
            }
        }
    }
}

/// Rebuilds the state from the `commerce` topic. An event this build cannot read stops the start:
/// skipping it would silently serve a wrong state.
pub(crate) async fn replay(log: &dyn EventLog) -> Result<(State, u64), crate::app::StartError> {
    let mut state = State::default();
    let end = log.end_offset(Topic::Commerce);
    let mut next = 0;
    while next < end {
        let records = log.read(Topic::Commerce, next, 10_000).await?;
        for record in &records {
            let event = Envelope::from_bytes(&record.value)
                .map_err(|e| e.to_string())
                .and_then(|envelope| envelope.event())
                .map_err(|reason| crate::app::StartError::Replay {
                    offset: record.offset,
                    reason,
                })?;
            state.apply(&event);
        }
        next = records.last().map_or(end, |r| r.offset + 1);
    }
    Ok((state, end))
}
