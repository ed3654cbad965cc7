//! One Telegram budget for every process of an installation: dispatcher replicas (1 to
//! many, starting and stopping at any moment) and the command-bot, coordinated through NATS
//! alone.
//!
//! # How
//!
//! - **One pacer, elected by a lease.** The key `pacer` in the key-value bucket
//!   `<prefix>_budget` (file storage, so it outlives a NATS restart; history 1, `max_age` = [`BudgetConfig::lease_ttl`],
//!   3 s) names the process that paces. It renews the key every `lease_ttl / 3` with a
//!   compare-and-set `update(key, value, revision)`; a renewal that fails or times out makes
//!   it stop granting at once. It considers its lease good for `lease_ttl / 2` after the
//!   start of its last successful renewal, and refuses to grant past that, so a pacer that is
//!   starved of CPU or cut off fences itself.
//! - **Slots by request/reply.** The pacer owns a [`herald_telegram::Limiter`] (the same code as the local
//!   budget: overall rate, 1/s per chat, 20/min per group, interactive before bulk, the
//!   guard against jitter) and answers `<prefix>.budget.v1.acquire` (core NATS) with "send
//!   in X µs" — never further ahead than [`BudgetConfig::horizon`] (250 ms) — or "ask
//!   again". It holds a reply's request until a slot comes within the horizon (at most
//!   [`BudgetConfig::max_hold`]): replies queue in one place and take the next slot ahead of
//!   any broadcast. A reply whose own chat must wait (its second message within a second)
//!   is not held — it would keep one of the few reply requests on the wire busy while
//!   replies free to go queue behind it — but told to ask again when its chat is free, and
//!   its chat is reserved for it meanwhile, so no broadcast takes that slot. A broadcast's
//!   request is answered at once: its slot, or "ask again in X" — when its first slot could
//!   come within the horizon — so that sends which must wait (a trader's second message
//!   within a second, a busy group) never hold up the others.
//! - **Batched requests.** A process keeps at most two broadcast requests on the wire (and
//!   four for replies, apart); the sends that want a slot meanwhile go together in the next
//!   one (up to 512 chats). The pacer grants every chat of a batch whose slot lies within
//!   the horizon now, never one a waiting reply needs; the rest ask again. So a fan-out pays
//!   a round trip per batch, not per send, and a lone send is not delayed.
//! - **Election on demand.** A request that finds no responder (or times out) makes the
//!   asking process try to take the lease with `create`, which succeeds only once the key
//!   has expired or been released; it then retries. Sends wait meanwhile: they never bypass
//!   the budget. Every process that sends is a candidate.
//! - **429s reach everyone.** A 429 anywhere is published on `<prefix>.budget.v1.pause`
//!   (core NATS). Every process holds its sends back for `retry_after` and voids the slots
//!   it was granted but has not used; the pacer pauses its limiter.
//!
//! # Why this design
//!
//! Measured on the 2-core test machine, NATS 2.9 on loopback, release build
//! (`herald-bench budget`, numbers in `docs/benchmarks.md`):
//!
//! - one pacer hands out about 32,000 slots/s to 3 processes with 64 requests in flight
//!   each (no limit): the 30/s budget costs it nothing, and the 1000/s of paid broadcasts
//!   leave it 30× headroom;
//! - a slot costs its sender one round trip, p50 1.4 ms and p99 4.5–4.8 ms with the machine
//!   busy (load average 5); the pacer grants ahead of the slot, so a send waiting for its
//!   turn does not pay it on top;
//! - 600 messages at 30/s from 1 or 3 processes to the Bot API double enforcing Telegram's
//!   limits: 0 × 429, at most 30 accepted in any second, 97.7 % of the budget used (95.6 %
//!   with the machine busy); 10,000 at 1000/s from 3 processes: 97.5 %, 0 × 429.
//!
//! The alternatives weigh more: a shared counter in a key-value bucket costs a
//! compare-and-set per send, collides under contention and cannot put interactive sends
//! first; splitting the rate N ways leaves budget idle whenever one replica has nothing to
//! send, and must be recomputed as replicas come and go.
//!
//! **The safety margin** ([`LimiterConfig::guard`], see `herald_telegram::Limiter`): with
//! no guard, 18–19 of 600 sends met a 429 (the double counts arrivals over sliding windows
//! with no slack; the jitter between a slot and the arrival squeezes a 31st send into some
//! second). 10 ms sufficed on a quiet machine (99.2 % of the budget); the default, 25 ms
//! (97.6 %), also held in debug builds with the machine at load average 4, where a late
//! wake-up can reach tens of ms — which is why a send more than
//! [`herald_telegram::LATE_TOLERANCE`] late (its wake-up plus half the round trip's
//! transit) takes a new slot instead of going out bunched with the next ones.
//!
//! # When the pacer fails
//!
//! - Stopped ([`Budget::close`], or the last handle dropped): it stops granting and
//!   unsubscribes at once, waits until its last grants (and their chats' spacing) have run
//!   out, then deletes the key; the next request elects another pacer within about 1.5 s.
//! - Crashed or cut off: requests find no responder (or time out after `max_hold` + 1 s);
//!   the key expires at most `lease_ttl` after the last renewal and the next candidate
//!   takes it: sends pause for up to about 3.5 s (6 s if the pacer hangs with its
//!   connection open, as requests then wait for their timeout first).
//! - Never two at once: the old pacer's last slot starts before `lease_ttl / 2 + horizon`
//!   after its last renewal; the key cannot expire before `lease_ttl` after it. The gap
//!   (1.25 s by default) covers the per-chat spacing as well, so a chat never gets two sends
//!   within its second across a handover. Per-group minute windows are **not** handed over:
//!   after a failover a group may receive up to 20 more messages within that minute.
//! - A pause a process already knows of holds the new pacer's limiter too. A pause notice
//!   lost on the wire (core NATS is at most once) leaves that process sending on; its next
//!   429 pauses it, and everyone, again.
//!
//! # Clocks
//!
//! Nothing compares instants across machines: grants and pauses travel as durations, each
//! read on the receiver's monotonic clock on arrival (a grant is late by the one-way
//! latency, well inside the guard). The lease relies only on clocks running at about the
//! same *rate* (within 20 % over 3 s) on the pacer and the NATS server.

mod pacer;
mod wire;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt as _;
use herald_telegram::{BoxFuture, Budget, LATE_TOLERANCE, LimiterConfig, MAX_LATE_SLOTS, Priority};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::BusError;
use crate::subjects::Subjects;
use pacer::{Pacer, PacerTask};
use wire::{AcquireReply, AcquireRequest, MAX_BATCH, PauseNotice};

/// The key of the pacer's lease in the budget bucket.
const LEASE_KEY: &str = "pacer";

/// How often one process may try to take the lease.
const ELECTION_INTERVAL: Duration = Duration::from_millis(200);

/// How many batches of requests one process has on the wire at once: replies, broadcasts.
/// Few broadcast batches make the many sends of a fan-out gather into large ones.
const BATCHES_IN_FLIGHT: [usize; 2] = [4, 2];

/// How a [`SharedBudget`] paces and coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    /// The bot's limits (`LimiterConfig::with_rate(HERALD_TELEGRAM_RATE_LIMIT)`).
    pub limits: LimiterConfig,
    /// How far ahead of its start the pacer hands out a slot: more than a round trip, so the
    /// grant arrives before its slot starts; short, so that an interactive request waits
    /// behind at most this much of already granted bulk sends.
    pub horizon: Duration,
    /// The lease's time to live (the bucket's `max_age`): how long a crashed pacer blocks
    /// the budget at most.
    pub lease_ttl: Duration,
    /// The longest the pacer holds a request before answering "ask again".
    pub max_hold: Duration,
    /// Copies of the lease bucket in a NATS cluster (`HERALD_NATS_STREAM_REPLICAS`): on one
    /// node of three, losing that node would stop every send.
    pub replicas: usize,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self::new(LimiterConfig::default())
    }
}

impl BudgetConfig {
    /// The default coordination around these limits.
    pub fn new(limits: LimiterConfig) -> Self {
        Self {
            limits,
            horizon: Duration::from_millis(250),
            lease_ttl: Duration::from_secs(3),
            max_hold: Duration::from_secs(2),
            replicas: 1,
        }
    }

    /// How long after the start of a successful renewal the pacer may still grant.
    fn valid(&self) -> Duration {
        self.lease_ttl / 2
    }

    fn chat_spacing(&self) -> Duration {
        if self.limits.per_chat_interval.is_zero() {
            Duration::ZERO
        } else {
            self.limits.per_chat_interval + self.limits.guard
        }
    }

    /// How long a client waits for the pacer's answer before calling it gone.
    fn request_timeout(&self) -> Duration {
        self.max_hold + Duration::from_secs(1)
    }
}

/// The budget shared by every process of an installation (cheap to clone; clones share
/// everything). See the module docs.
#[derive(Debug, Clone)]
pub struct SharedBudget {
    inner: Arc<Inner>,
    /// Stops the background work once the last handle is gone.
    _stop: Arc<DropGuard>,
}

#[derive(Debug)]
struct Inner {
    client: async_nats::Client,
    kv: kv::Store,
    acquire_subject: String,
    pause_subject: String,
    config: BudgetConfig,
    /// This process's name in the lease.
    id: Bytes,
    state: Mutex<State>,
    /// One election at a time in this process.
    electing: tokio::sync::Mutex<Option<Instant>>,
    /// Requests for slots not yet sent to the pacer.
    pending: Mutex<Pending>,
    /// Batches on the wire, per lane (see [`BATCHES_IN_FLIGHT`]).
    in_flight: [Arc<tokio::sync::Semaphore>; 2],
    /// Cancelled when the last handle is dropped.
    stop: CancellationToken,
}

/// Requests for slots waiting to go to the pacer: replies, then broadcasts.
#[derive(Debug, Default)]
struct Pending {
    queues: [VecDeque<(i64, oneshot::Sender<Ask>)>; 2],
    /// Whether a [`send_batches`] task is running, per lane.
    sending: [bool; 2],
}

#[derive(Debug, Default)]
struct State {
    /// No send starts before this (after a 429 seen here or announced by another process).
    paused_until: Option<Instant>,
    /// The pacer this process runs, if it leads.
    pacer: Option<Pacer>,
    /// After [`Budget::close`]: never lead again.
    closed: bool,
}

impl SharedBudget {
    /// Joins the budget of the installation named by `subjects` over `client`: creates the
    /// bucket if need be and listens for pause notices. Becoming the pacer happens on demand.
    pub async fn start(
        client: async_nats::Client,
        subjects: &Subjects,
        config: BudgetConfig,
    ) -> Result<Self, BusError> {
        let js = jetstream::new(client.clone());
        let bucket = subjects.budget_bucket();
        let kv = crate::lease::lease_bucket(
            &js,
            crate::lease::LeaseBucket {
                name: &bucket,
                description: "Herald: the lease of the process pacing the Telegram budget",
                max_age: config.lease_ttl,
                // On disk: a memory bucket vanishes when its server restarts, and with it
                // every process's way to elect a pacer.
                storage: jetstream::stream::StorageType::File,
                replicas: config.replicas,
            },
        )
        .await?;
        let pauses = client
            .subscribe(subjects.budget_pause())
            .await
            .map_err(|e| BusError::Setup(format!("subscribing to budget pauses: {e}")))?;
        let stop = CancellationToken::new();
        let inner = Arc::new(Inner {
            client,
            kv,
            acquire_subject: subjects.budget_acquire(),
            pause_subject: subjects.budget_pause(),
            config,
            id: Bytes::from(uuid::Uuid::new_v4().to_string()),
            state: Mutex::new(State::default()),
            electing: tokio::sync::Mutex::new(None),
            pending: Mutex::default(),
            in_flight: BATCHES_IN_FLIGHT.map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
            stop: stop.clone(),
        });
        tokio::spawn(listen_for_pauses(
            Arc::downgrade(&inner),
            pauses,
            stop.clone(),
        ));
        Ok(Self {
            inner,
            _stop: Arc::new(stop.drop_guard()),
        })
    }

    /// Whether this process paces the budget right now.
    pub fn is_pacer(&self) -> bool {
        self.inner
            .lock()
            .pacer
            .as_ref()
            .is_some_and(Pacer::is_active)
    }

    /// Its configuration.
    pub fn config(&self) -> BudgetConfig {
        self.inner.config
    }
}

/// The bot's budget for a service: a [`SharedBudget`] over `client` for the installation
/// named by `subjects`, with Telegram's limits at `limits`, the lease kept in `replicas`
/// copies, and the default coordination.
pub async fn shared(
    client: async_nats::Client,
    subjects: &Subjects,
    limits: LimiterConfig,
    replicas: usize,
) -> Result<Arc<dyn Budget>, BusError> {
    let config = BudgetConfig {
        replicas,
        ..BudgetConfig::new(limits)
    };
    let budget = SharedBudget::start(client, subjects, config).await?;
    Ok(Arc::new(budget))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// When a pause in force ends.
    fn paused_until(&self) -> Option<Instant> {
        let mut state = self.lock();
        match state.paused_until {
            Some(until) if until > Instant::now() => Some(until),
            Some(_) => {
                state.paused_until = None;
                None
            }
            None => None,
        }
    }

    /// Holds this process's sends (and its pacer's grants) back for `wait`.
    fn apply_pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut state = self.lock();
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        if let Some(pacer) = &state.pacer {
            pacer.limiter.pause_for(wait);
        }
    }

    /// Asks the pacer for a slot for one send to `chat_id`. Requests made while others are
    /// on the wire travel together in the next batch (see [`send_batches`]).
    async fn ask(self: &Arc<Self>, chat_id: i64, priority: Priority) -> Ask {
        let (tx, rx) = oneshot::channel();
        let lane = usize::from(priority == Priority::Bulk);
        {
            let mut pending = lock(&self.pending);
            pending.queues[lane].push_back((chat_id, tx));
            if !pending.sending[lane] {
                pending.sending[lane] = true;
                tokio::spawn(send_batches(self.clone(), lane));
            }
        }
        // The batch task answers every request it takes; it only goes away with the runtime.
        rx.await.unwrap_or(Ask::Retry(Duration::from_millis(100)))
    }

    /// Asks the pacer for a slot for a send to each of `chats` (one request, one round
    /// trip): one answer per chat, in order.
    async fn ask_many(&self, chats: &[i64], priority: Priority) -> Vec<Ask> {
        let payload = serde_json::to_vec(&AcquireRequest::new(chats, priority))
            .expect("a request always serialises");
        let asked = Instant::now();
        let request = async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(self.config.request_timeout()));
        let reply = match self
            .client
            .send_request(self.acquire_subject.clone(), request)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                use async_nats::client::RequestErrorKind;
                if !matches!(
                    e.kind(),
                    RequestErrorKind::NoResponders | RequestErrorKind::TimedOut
                ) {
                    tracing::debug!(error = %e, "budget request failed");
                }
                return vec![Ask::NoPacer; chats.len()];
            }
        };
        let received = Instant::now();
        // A slot starts `in_us` after the pacer answered, which was at most the round trip's
        // transit ago: sending at `received + in_us` is never early, and late by at most
        // that transit.
        let slots = |in_us: Vec<Option<u64>>, held_us: u64| -> Vec<Ask> {
            let transit = (received - asked).saturating_sub(Duration::from_micros(held_us));
            in_us
                .into_iter()
                .chain(std::iter::repeat(None))
                .take(chats.len())
                .map(|slot| {
                    slot.map_or(Ask::Retry(Duration::ZERO), |in_us| Ask::Grant {
                        at: received + Duration::from_micros(in_us),
                        transit,
                    })
                })
                .collect()
        };
        match serde_json::from_slice::<AcquireReply>(&reply.payload) {
            // A grant answers the first chat only (a pacer that predates batches reads a
            // batch as its first chat): the others ask again.
            Ok(AcquireReply::Grant { in_us, held_us }) => slots(vec![Some(in_us)], held_us),
            Ok(AcquireReply::Slots { in_us, held_us }) => slots(in_us, held_us),
            Ok(AcquireReply::Retry { in_us }) => {
                vec![Ask::Retry(Duration::from_micros(in_us)); chats.len()]
            }
            Err(e) => {
                tracing::warn!(error = %e, "unreadable budget reply; asking again");
                vec![Ask::Retry(Duration::from_millis(100)); chats.len()]
            }
        }
    }

    /// Tries to become the pacer (at most every [`ELECTION_INTERVAL`] per process).
    async fn elect(self: &Arc<Self>) {
        let mut last_try = self.electing.lock().await;
        {
            let state = self.lock();
            if state.closed || state.pacer.as_ref().is_some_and(Pacer::is_active) {
                return;
            }
        }
        if last_try.is_some_and(|t| t.elapsed() < ELECTION_INTERVAL) {
            return;
        }
        let taken_at = Instant::now();
        *last_try = Some(taken_at);
        let revision = match self.kv.create(LEASE_KEY, self.id.clone()).await {
            Ok(revision) => revision,
            Err(e) => {
                if e.kind() != kv::CreateErrorKind::AlreadyExists {
                    tracing::warn!(error = %e, "could not bid for the budget lease");
                }
                return;
            }
        };
        let task = PacerTask {
            client: self.client.clone(),
            kv: self.kv.clone(),
            subject: self.acquire_subject.clone(),
            id: self.id.clone(),
            revision,
            config: self.config,
            taken_at,
            paused_until: self.paused_until(),
        };
        if let Some(pacer) = task.start().await {
            let mut state = self.lock();
            if state.closed || self.stop.is_cancelled() {
                pacer.stop.cancel();
            }
            state.pacer = Some(pacer.clone());
            drop(state);
            // Step down when the last handle goes.
            let stop = self.stop.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => pacer.stop.cancel(),
                    () = pacer.done.cancelled() => {}
                }
            });
        }
    }
}

/// Sends the requests of one priority (`lane`: 0 replies, 1 broadcasts) waiting in
/// `inner.pending` to the pacer, at most [`BATCHES_IN_FLIGHT`]`[lane]` batches at a time,
/// and hands each answer to its request; ends when none is left.
///
/// Batching costs no wait: a request that finds a batch slot free goes at once, alone if it
/// is alone; requests that come while the lane's batches are on the wire (a fan-out's many
/// sends) gather and go together, up to [`MAX_BATCH`]. One round trip then carries as many
/// slots as the budget has within the horizon, instead of one. Replies have a lane of their
/// own, so they never wait behind a broadcast's batch that the pacer is holding.
async fn send_batches(inner: Arc<Inner>, lane: usize) {
    let in_flight = inner.in_flight[lane].clone();
    let priority = if lane == 0 {
        Priority::Interactive
    } else {
        Priority::Bulk
    };
    loop {
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let batch: Vec<_> = {
            let mut pending = lock(&inner.pending);
            let queue = &mut pending.queues[lane];
            // Requests whose sender gave up need no slot.
            queue.retain(|(_, tx)| !tx.is_closed());
            if queue.is_empty() {
                pending.sending[lane] = false;
                return;
            }
            let take = queue.len().min(MAX_BATCH);
            queue.drain(..take).collect()
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let chats: Vec<i64> = batch.iter().map(|(chat, _)| *chat).collect();
            let answers = inner.ask_many(&chats, priority).await;
            for ((_, tx), answer) in batch.into_iter().zip(answers) {
                let _ = tx.send(answer);
            }
            drop(permit);
        });
    }
}

/// What the pacer said.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// Send at `at`, which may be late by up to `transit`.
    Grant {
        at: Instant,
        transit: Duration,
    },
    Retry(Duration),
    NoPacer,
}

impl Budget for SharedBudget {
    fn acquire(&self, chat_id: i64, priority: Priority) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            let mut late = 0;
            loop {
                if let Some(until) = inner.paused_until() {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
                match inner.ask(chat_id, priority).await {
                    Ask::Grant { at, transit } => {
                        tokio::time::sleep_until(at).await;
                        // A pause that reached us meanwhile voids the slot.
                        if inner.paused_until().is_some() {
                            continue;
                        }
                        // So does lateness under an overall rate (see
                        // `herald_telegram::LATE_TOLERANCE`): late sends would bunch into one
                        // second. The reply's own leg of the round trip is about half of the
                        // transit. Without an overall rate a late send is not re-slotted:
                        // a new slot would cost its chat a whole spacing (1 s) — measured, a
                        // small fan-out's tail grew from 0.5 s to 1.2 s — while lateness only
                        // matters for a chat that gets two messages within that second, and
                        // the guard absorbs the first 25 ms of it.
                        let paced = inner.config.limits.messages_per_second.is_some();
                        if paced
                            && at.elapsed() + transit / 2 > LATE_TOLERANCE
                            && late < MAX_LATE_SLOTS
                        {
                            late += 1;
                            continue;
                        }
                        return;
                    }
                    Ask::Retry(after) => tokio::time::sleep(after).await,
                    Ask::NoPacer => {
                        // In a task of its own: a caller that stops waiting (a replica
                        // shutting down) must not cut an election off half-way, with the
                        // lease taken and no pacer behind it.
                        let electing = inner.clone();
                        let _ = tokio::spawn(async move { electing.elect().await }).await;
                        if !self.is_pacer() {
                            // Someone else holds (or is taking) the lease: give it a moment.
                            let jitter = rand::random_range(50..150);
                            tokio::time::sleep(Duration::from_millis(jitter)).await;
                        }
                    }
                }
            }
        })
    }

    fn pause(&self, wait: Duration) {
        self.inner.apply_pause(wait);
        let notice = PauseNotice {
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        };
        let payload = serde_json::to_vec(&notice).expect("a notice always serialises");
        let client = self.inner.client.clone();
        let subject = self.inner.pause_subject.clone();
        tokio::spawn(async move {
            if let Err(e) = client.publish(subject, payload.into()).await {
                tracing::warn!(error = %e, "could not announce a 429 pause to the other processes");
            }
        });
    }

    fn paused_until(&self) -> Option<Instant> {
        self.inner.paused_until()
    }

    fn rate_limit(&self) -> Option<u32> {
        self.inner.config.limits.messages_per_second
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let pacer = {
                let mut state = self.inner.lock();
                state.closed = true;
                state.pacer.clone()
            };
            if let Some(pacer) = pacer {
                pacer.stop.cancel();
                pacer.done.cancelled().await;
            }
        })
    }
}

/// Applies every pause notice to this process, until it stops.
async fn listen_for_pauses(
    inner: std::sync::Weak<Inner>,
    mut pauses: async_nats::Subscriber,
    stop: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => return,
            message = pauses.next() => match message {
                Some(m) => m,
                None => return,
            },
        };
        let Some(inner) = inner.upgrade() else { return };
        match serde_json::from_slice::<PauseNotice>(&message.payload) {
            Ok(notice) => {
                tracing::info!(
                    wait_ms = notice.wait_ms,
                    "Telegram flood limit: pausing sends"
                );
                inner.apply_pause(Duration::from_millis(notice.wait_ms));
            }
            Err(e) => tracing::warn!(error = %e, "malformed budget pause notice; ignored"),
        }
    }
}
