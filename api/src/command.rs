//! The single-writer command path (DESIGN.md §3).
//!
//! One task owns every change to the state. It takes commands in batches; decides each against a
//! scratch copy of the state (O(1) to clone), applying accepted events as it goes so later
//! commands in the batch see earlier ones; appends all the batch's events to the log in one
//! durable write; and only then publishes the new state and answers the callers. If the append
//! fails, the scratch copy is thrown away and every caller in the batch gets a 503: the state is
//! exactly what the log says.

use crate::error::ApiError;
use crate::live::Live;
use crate::search::Search;
use domain::{Command, Context, Event, EventId, State};
use ingest::{AppendRecord, Envelope, EventLog, Topic, TopicPartition};
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
        search: Arc<Search>,
        live: Arc<Live>,
        cancel: CancellationToken,
    ) -> (CommandPath, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * BATCH_MAX);
        let task = tokio::spawn(writer(rx, state, log, search, live, cancel));
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
    search: Arc<Search>,
    live: Arc<Live>,
    cancel: CancellationToken,
) {
    loop {
        // Waits for one job, then takes every job already waiting (up to a batch).
        let mut jobs = Vec::with_capacity(BATCH_MAX);
        let received = tokio::select! {
            _ = cancel.cancelled() => return,
            received = rx.recv_many(&mut jobs, BATCH_MAX) => received,
        };
        if received == 0 {
            return;
        }
        run_batch(jobs, &state, log.as_ref(), &search, &live).await;
    }
}

async fn run_batch(
    jobs: Vec<Job>,
    state: &SharedState,
    log: &dyn EventLog,
    search: &Search,
    live: &Live,
) {
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
            // The search index follows before anyone is answered: a product is findable as
            // soon as its creation is acknowledged. An index failure is logged, not fatal: the
            // events are durable and the index is rebuilt from the state on the next start.
            let events = || accepted.iter().flat_map(|(_, events)| events);
            // Category names are indexed with every product: a new site configuration (renamed
            // categories) re-indexes them all.
            let touched: Vec<_> = if events().any(|e| matches!(e, Event::SiteConfigured(_))) {
                scratch.products.keys().copied().collect()
            } else {
                accepted
                    .iter()
                    .flat_map(|(_, events)| crate::search::touched(events))
                    .collect()
            };
            if let Err(e) = search.update(&scratch, &touched) {
                tracing::error!(error = %e, products = touched.len(), "the search index could not follow a batch");
            }
            // Activity is history, not state: a batch of only activity leaves the state (and
            // so every view cached against it) as it was.
            let changed = accepted
                .iter()
                .flat_map(|(_, events)| events)
                .any(|e| e.as_activity().is_none());
            let pushed: Vec<Event> = events().filter(|e| Live::pushed(e)).cloned().collect();
            let scratch = Arc::new(scratch);
            if changed {
                *state.write().expect("state lock") = scratch.clone();
            }
            // Sockets hear of chat and notifications only now, when the state holds them.
            live.publish_committed(&scratch, pushed);
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

/// Rebuilds the state from the `commerce` topic, which has one partition: the one writer's order
/// is the order of the state; then folds in the `credentials` topic (password hashes, which only
/// ever replace each other, so their order relative to commerce events does not matter) and the
/// `notifications` topic (notifications and read marks, which stand on their own) and the `chat`
/// topic (each conversation's events share a partition, so they come back in order; positions
/// are in the events, so the order between conversations does not matter). An event
/// this build cannot read stops the start: skipping it would silently serve a wrong state.
pub(crate) async fn replay(log: &dyn EventLog) -> Result<(State, u64), crate::app::StartError> {
    let partitions = log.partitions(Topic::Commerce);
    if partitions != 1 {
        return Err(crate::app::StartError::CommercePartitions(partitions));
    }
    let mut state = State::default();
    let mut events = 0;
    for at in std::iter::once(TopicPartition::new(Topic::Commerce, 0))
        .chain(log.partitions_of(Topic::Credentials))
        .chain(log.partitions_of(Topic::Notifications))
        .chain(log.partitions_of(Topic::Chat))
    {
        events += replay_partition(log, at, &mut state).await?;
    }
    Ok((state, events))
}

async fn replay_partition(
    log: &dyn EventLog,
    at: TopicPartition,
    state: &mut State,
) -> Result<u64, crate::app::StartError> {
    let end = log.end_offset(at);
    let mut next = 0;
    while next < end {
        let records = log.read(at, next, 10_000).await?;
        for record in &records {
            let event = Envelope::from_bytes(&record.value)
                .map_err(|e| e.to_string())
                .and_then(|envelope| envelope.event())
                .map_err(|reason| crate::app::StartError::Replay {
                    at: at.to_string(),
                    offset: record.offset,
                    reason,
                })?;
            state.apply(&event);
        }
        next = records.last().map_or(end, |r| r.offset + 1);
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use domain::{Actor, SiteConfig};
    use ingest::{EmbeddedLog, Position, Record};
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::watch;

    /// A real log whose appends can be made to fail, like a full or broken disk.
    struct FlakyLog {
        inner: EmbeddedLog,
        broken: AtomicBool,
    }

    #[async_trait]
    impl EventLog for FlakyLog {
        fn partitions(&self, topic: Topic) -> u32 {
            self.inner.partitions(topic)
        }
        async fn append(&self, records: Vec<AppendRecord>) -> ingest::Result<Vec<Position>> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(ingest::Error::Closed);
            }
            self.inner.append(records).await
        }
        async fn read(
            &self,
            at: TopicPartition,
            from: u64,
            max: usize,
        ) -> ingest::Result<Vec<Record>> {
            self.inner.read(at, from, max).await
        }
        fn end_offset(&self, at: TopicPartition) -> u64 {
            self.inner.end_offset(at)
        }
        fn subscribe(&self, at: TopicPartition) -> watch::Receiver<u64> {
            self.inner.subscribe(at)
        }
        async fn commit_offset(
            &self,
            group: &str,
            at: TopicPartition,
            next: u64,
        ) -> ingest::Result<()> {
            self.inner.commit_offset(group, at, next).await
        }
        async fn committed_offset(
            &self,
            group: &str,
            at: TopicPartition,
        ) -> ingest::Result<Option<u64>> {
            self.inner.committed_offset(group, at).await
        }
    }

    fn site(name: &str) -> Command {
        Command::ConfigureSite(SiteConfig {
            name: name.into(),
            ..Default::default()
        })
    }

    fn search() -> Arc<Search> {
        Arc::new(Search::build(&State::default()).unwrap())
    }

    fn ctx() -> Context {
        Context {
            actor: Actor::System,
            at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_failed_append_refuses_the_batch_and_leaves_the_state_alone() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(FlakyLog {
            inner: EmbeddedLog::open(dir.path()).unwrap(),
            broken: AtomicBool::new(false),
        });
        let state: SharedState = Arc::new(RwLock::new(Arc::new(State::default())));
        let cancel = CancellationToken::new();
        let (path, writer) = CommandPath::spawn(
            state.clone(),
            log.clone(),
            search(),
            Default::default(),
            cancel.clone(),
        );

        path.execute(site("First"), ctx()).await.unwrap();
        assert_eq!(state.read().unwrap().site.name, "First");

        log.broken.store(true, Ordering::SeqCst);
        let refused = path.execute(site("Second"), ctx()).await.unwrap_err();
        assert!(matches!(refused, ApiError::Unavailable(_)));
        assert_eq!(
            state.read().unwrap().site.name,
            "First",
            "the state is what the log says"
        );
        assert_eq!(log.records_in(Topic::Commerce), 1);

        // A refused command is answered without touching the log.
        let invalid = path.execute(site("  "), ctx()).await.unwrap_err();
        assert!(matches!(invalid, ApiError::Invalid { .. }));

        log.broken.store(false, Ordering::SeqCst);
        path.execute(site("Third"), ctx()).await.unwrap();
        let (replayed, end) = replay(log.as_ref()).await.unwrap();
        assert_eq!((replayed.site.name.as_str(), end), ("Third", 2));
        cancel.cancel();
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_commands_share_batches_and_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let state: SharedState = Arc::new(RwLock::new(Arc::new(State::default())));
        let (path, _writer) = CommandPath::spawn(
            state.clone(),
            log.clone(),
            search(),
            Default::default(),
            CancellationToken::new(),
        );
        let answers = futures::future::join_all(
            (0..200).map(|i| path.execute(site(&format!("Site {i}")), ctx())),
        )
        .await;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(log.records_in(Topic::Commerce), 200);
        let (replayed, _) = replay(log.as_ref()).await.unwrap();
        assert_eq!(
            replayed.site.name,
            state.read().unwrap().site.name,
            "memory and log agree"
        );
    }
}
